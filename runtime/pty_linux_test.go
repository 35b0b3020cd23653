package runtime

import (
	"os"
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
