package validate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLayoutSpecialFiles: a FIFO for index.json is reported, not read
// (which would block forever), and a symlinked blob is a warning.
func TestLayoutSpecialFiles(t *testing.T) {
	f := newFixture(t)
	p := filepath.Join(f.dir, filepath.FromSlash(blobFile(f.config.Digest)))
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, "config-copy"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../config-copy", p); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(f.dir, "index.json")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(f.dir, "index.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := Layout(ctx, f.dir)
	if err != nil {
		t.Fatal(err)
	}
	got := problemsText(r)
	for _, w := range []want{
		{sev: Error, path: "index.json", msg: "cannot read index.json: not a regular file"},
		{sev: Warning, path: "blobs/sha256/" + f.config.Digest.Encoded(), msg: "blob is a symbolic link"},
	} {
		found := false
		for _, p := range r.Problems {
			found = found || w.matches(p)
		}
		if !found {
			t.Errorf("missing %+v in:\n%s", w, got)
		}
	}
	if r.Errors != 1 || !strings.Contains(r.Summary(), "invalid: 1 error, 1 warning") {
		t.Errorf("summary %q:\n%s", r.Summary(), got)
	}
}

// TestLayoutWaitsForWriters: Layout takes package layout's shared lock, so
// it waits while a writer (here a bare exclusive flock, as layout's GC and
// index updates take) holds the directory.
func TestLayoutWaitsForWriters(t *testing.T) {
	f := newFixture(t)
	d, err := os.Open(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := Layout(ctx, f.dir); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("with the layout locked: err = %v, want DeadlineExceeded", err)
	}
	done := make(chan error, 1)
	go func() {
		r, err := Layout(context.Background(), f.dir)
		if err == nil && !r.Valid {
			err = r.Err()
		}
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := syscall.Flock(int(d.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("after unlock: %v", err)
	}
}
