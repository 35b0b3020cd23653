package vm_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestVMPodman: podman (through conmon) with --runtime naming an
// ocikit-vm link, no flags: a detached container in its VM, podman exec
// (its exit status through the pid-file process, the first process's
// file), podman pause and unpause, podman stop (the container's status
// through the monitor's),
// podman run -t (a terminal through the console socket).
func TestVMPodman(t *testing.T) {
	e := newVMEnv(t, []string{"true"}, nil, nil)
	podman := testutil.RequireTool(t, "podman")
	dir := t.TempDir()
	link := filepath.Join(dir, "ocikit-vm")
	if err := os.Symlink(e.bin, link); err != nil {
		t.Fatal(err)
	}
	tarball := filepath.Join(dir, "rootfs.tar")
	if out, err := exec.Command("tar", "-C", filepath.Join(e.bundle, "rootfs"), "-cf", tarball, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	base := []string{"--root", filepath.Join(dir, "storage"), "--runroot", filepath.Join(dir, "run"),
		"--storage-driver", "vfs", "--runtime", link, "--cgroup-manager", "cgroupfs", "--events-backend", "none"}
	pm := func(args ...string) (string, int) {
		out, err := exec.Command(podman, append(append([]string(nil), base...), args...)...).CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("podman %v: %v", args, err)
		}
		return string(out), 0
	}
	t.Cleanup(func() {
		pm("rm", "-af")
		pm("rmi", "-af")
		exec.Command("umount", "-R", filepath.Join(dir, "run")).Run()
		exec.Command("umount", "-R", filepath.Join(dir, "storage")).Run()
	})
	if out, code := pm("import", tarball, "localhost/ocikit-vm-test:latest"); code != 0 {
		t.Fatalf("podman import: %s", out)
	}
	// This host refuses podman's default RLIMIT_NPROC and NOFILE.
	out, code := pm("run", "-d", "--name", "vmtest-podman", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
		"localhost/ocikit-vm-test:latest", "sh", "-c", `uname -r > /tmp/release; trap "exit 42" TERM; while :; do sleep 0.2; done`)
	if code != 0 {
		t.Fatalf("podman run -d: exit %d: %s", code, out)
	}
	var u unix.Utsname
	unix.Uname(&u)
	host := unix.ByteSliceToString(u.Release[:])
	out, code = pm("exec", "vmtest-podman", "sh", "-c", "while [ ! -s /tmp/release ]; do sleep 0.1; done; cat /tmp/release; exit 4")
	if code != 4 || strings.TrimSpace(out) == "" || strings.Contains(out, host) {
		t.Errorf("podman exec: exit %d, output %q; want 4 and the guest's release (not %s)", code, out, host)
	}
	// podman pause and unpause: ocikit-vm's pause and resume.
	for _, step := range []struct{ cmd, status string }{{"pause", "paused"}, {"unpause", "running"}} {
		if out, code := pm(step.cmd, "vmtest-podman"); code != 0 {
			t.Errorf("podman %s: exit %d: %s", step.cmd, code, out)
		}
		if out, _ := pm("inspect", "--format", "{{.State.Status}}", "vmtest-podman"); strings.TrimSpace(out) != step.status {
			t.Errorf("status after podman %s: %q, want %s", step.cmd, out, step.status)
		}
	}
	if out, code := pm("stop", "-t", "30", "vmtest-podman"); code != 0 {
		t.Fatalf("podman stop: %s", out)
	}
	if out, _ := pm("inspect", "--format", "{{.State.ExitCode}}", "vmtest-podman"); strings.TrimSpace(out) != "42" {
		t.Errorf("exit code after stop: %q, want 42", out)
	}
	if out, code := pm("rm", "vmtest-podman"); code != 0 {
		t.Errorf("podman rm: %s", out)
	}
	// -t: conmon's console socket gets the host pty relayed to the guest's.
	out, code = pm("run", "--rm", "-t", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
		"localhost/ocikit-vm-test:latest", "sh", "-c", "test -t 1 && echo has-tty; exit 5")
	if code != 5 || !strings.Contains(out, "has-tty") {
		t.Errorf("podman run -t: exit %d: %q, want 5 and a terminal", code, out)
	}
}
