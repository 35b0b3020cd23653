package fsutil

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocikit/ocikit/errdefs"
)

func TestWriteFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []WriteOption
	}{
		{"durable", nil},
		{"nosync", []WriteOption{NoSync()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "f.json")
			if err := WriteFile(p, []byte("old"), 0o600, tc.opts...); err != nil {
				t.Fatal(err)
			}
			if err := WriteFile(p, []byte("new"), 0o640, tc.opts...); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(p)
			if err != nil || string(data) != "new" {
				t.Fatalf("content %q, %v", data, err)
			}
			fi, _ := os.Stat(p)
			if fi.Mode().Perm() != 0o640 {
				t.Errorf("mode %v, want 0640", fi.Mode().Perm())
			}
			ents, _ := os.ReadDir(dir)
			if len(ents) != 1 {
				t.Errorf("temporary files left: %v", ents)
			}
		})
	}
	// A directory that does not exist: nothing written, a PathError.
	err := WriteFile(filepath.Join(t.TempDir(), "no", "f"), nil, 0o600)
	var pe *os.PathError
	if !errors.As(err, &pe) {
		t.Errorf("error %v is not a *os.PathError", err)
	}
}

// A failing writer leaves the old file and no temporary one.
func TestWriteFileFromFailure(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.tar")
	if err := WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := WriteFileFrom(p, 0o644, func(w io.Writer) error {
		w.Write([]byte("partial"))
		return boom
	})
	if err != boom {
		t.Fatalf("error %v, want the writer's own", err)
	}
	if data, _ := os.ReadFile(p); string(data) != "old" {
		t.Errorf("content %q after a failed write, want old", data)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
}

func TestReadFileLimit(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte("12345"), 0o600)
	for _, tc := range []struct {
		max      int64
		tooLarge bool
	}{{5, false}, {10, false}, {4, true}, {0, true}} {
		data, err := ReadFileLimit(p, tc.max)
		if tc.tooLarge {
			if !errors.Is(err, ErrTooLarge) || !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("max %d: error %v, want ErrTooLarge", tc.max, err)
			}
			continue
		}
		if err != nil || string(data) != "12345" {
			t.Errorf("max %d: %q, %v", tc.max, data, err)
		}
	}
}

func TestLock(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	open := func() *os.File {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	a, b := open(), open()
	if err := Lock(context.Background(), a, true); err != nil {
		t.Fatal(err)
	}
	if ok, err := TryLock(b); ok || err != nil {
		t.Fatalf("TryLock while held: %v, %v", ok, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := Lock(ctx, b, false); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock while held: %v, want the context's error", err)
	}
	// Released: the blocked waiter gets it.
	done := make(chan error, 1)
	go func() { done <- Lock(context.Background(), b, true) }()
	time.Sleep(10 * time.Millisecond)
	a.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// doneCounter counts the calls of Done.
type doneCounter struct {
	context.Context
	calls atomic.Int32
}

func (c *doneCounter) Done() <-chan struct{} {
	c.calls.Add(1)
	return c.Context.Done()
}

// TestLockUncontended: a lock nobody holds is taken without asking the
// context's Done (cmd/ocikit's context starts catching signals then).
func TestLockUncontended(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dc := &doneCounter{Context: ctx}
	if err := Lock(dc, f, true); err != nil {
		t.Fatal(err)
	}
	if n := dc.calls.Load(); n != 0 {
		t.Fatalf("Done called %d times for an uncontended lock", n)
	}
}
