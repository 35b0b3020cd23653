package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ocikit/ocikit/internal/testutil"
)

// TestOpenContainerPty: the pty comes from the devpts at /dev/pts of the
// process's root (here the test's own), master and slave connected.
// Through containerd, test/integration checks a container's.
func TestOpenContainerPty(t *testing.T) {
	testutil.RequireRoot(t)
	var fs unix.Statfs_t
	if err := unix.Statfs("/dev/pts", &fs); err != nil || fs.Type != unix.DEVPTS_SUPER_MAGIC {
		t.Skip("no devpts at /dev/pts")
	}
	master, slave, err := openContainerPty(os.Getpid())
	if err != nil {
		t.Fatalf("openContainerPty: %v", err)
	}
	defer master.Close()
	defer slave.Close()
	if !strings.HasPrefix(slave.Name(), "/dev/pts/") {
		t.Errorf("slave name %q, want /dev/pts/N", slave.Name())
	}
	var ms, ss unix.Stat_t
	if err := unix.Stat(slave.Name(), &ms); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fstat(int(slave.Fd()), &ss); err != nil {
		t.Fatal(err)
	}
	if ms.Rdev != ss.Rdev {
		t.Errorf("slave fd is device %d, %s is %d", ss.Rdev, slave.Name(), ms.Rdev)
	}
	if _, err := slave.WriteString("ping\n"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, err := master.Read(buf)
	if err != nil || !strings.Contains(string(buf[:n]), "ping") {
		t.Errorf("master read %q, %v; want ping", buf[:n], err)
	}

	// A missing process: an error, for the caller to fall back.
	if _, _, err := openContainerPty(-1); err == nil {
		t.Error("openContainerPty of a missing process succeeded")
	}
}

// TestOpenPtyInRefuses: openPtyIn opens only the ptmx of a devpts under
// the root it is given; anything else a root filesystem may hold at
// dev/pts/ptmx, a link out of it included, is an error (the init then
// falls back to a pty of the runtime's devpts).
func TestOpenPtyInRefuses(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, root string)
		noDevpt bool // errNoContainerDevpts rather than a path error
	}{
		{"no dev/pts", func(t *testing.T, root string) {}, false},
		{"regular file", func(t *testing.T, root string) {
			mkdir(t, root, "dev/pts")
			if err := os.WriteFile(filepath.Join(root, "dev/pts/ptmx"), nil, 0o666); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"link to the host's ptmx", func(t *testing.T, root string) {
			mkdir(t, root, "dev/pts")
			// Resolved inside the root: /dev/ptmx there does not exist.
			if err := os.Symlink("/dev/ptmx", filepath.Join(root, "dev/pts/ptmx")); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"null device", func(t *testing.T, root string) {
			mkdir(t, root, "dev/pts")
			if err := os.Symlink("../../dev/null", filepath.Join(root, "dev/pts/ptmx")); err != nil {
				t.Fatal(err)
			}
			if err := unix.Mknod(filepath.Join(root, "dev/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
				t.Skipf("mknod: %v", err)
			}
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			tc.setup(t, root)
			fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			master, slave, err := openPtyIn(fd)
			if err == nil {
				master.Close()
				slave.Close()
				t.Fatal("openPtyIn succeeded")
			}
			if got := errors.Is(err, errNoContainerDevpts); got != tc.noDevpt {
				t.Errorf("error %v: errNoContainerDevpts %v, want %v", err, got, tc.noDevpt)
			}
		})
	}
}

func mkdir(t *testing.T, root, dir string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
		t.Fatal(err)
	}
}
