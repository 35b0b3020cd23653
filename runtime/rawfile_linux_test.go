package runtime

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReadFile: readFile reads what os.ReadFile reads, whatever the size
// (around its first buffer's), /proc files included, and fails as it
// does.
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, 1023, 1024, 1025, 5000} {
		p := filepath.Join(dir, "f")
		want := bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
		if err := os.WriteFile(p, want, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := readFile(p)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("size %d: read %d bytes, %v", n, len(got), err)
		}
	}
	// A /proc file reports size 0 and is read to its end.
	got, err := readFile("/proc/self/mountinfo")
	if err != nil || len(got) == 0 || got[len(got)-1] != '\n' {
		t.Errorf("/proc/self/mountinfo: %q, %v", got, err)
	}
	_, err = readFile(filepath.Join(dir, "missing"))
	var pe *os.PathError
	if !errors.Is(err, os.ErrNotExist) || !errors.As(err, &pe) || pe.Op != "open" {
		t.Errorf("missing file: %v, want an open *os.PathError for ENOENT", err)
	}
	if _, err := readFile(dir); !errors.Is(err, unix.EISDIR) {
		t.Errorf("directory: %v, want EISDIR", err)
	}
	f, err := openFile(dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0); err != nil || fl&unix.FD_CLOEXEC == 0 {
		t.Errorf("openFile: descriptor flags %#x, %v: want close-on-exec", fl, err)
	}
}
