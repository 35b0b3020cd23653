package runtime_test

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/internal/testutil"
)

// TestPodman drives ocikit through podman and conmon, a real runtime
// caller: --log/--log-format json, --pid-file, the console socket, exit
// status, --memory and --cpus, --tmpfs, a terminal (-t), kill and
// delete. Podman's storage is private to the test (vfs under a temporary
// root).
func TestPodman(t *testing.T) {
	e := newEnv(t)
	podman := testutil.RequireTool(t, "podman")
	dir := t.TempDir()
	tarball := filepath.Join(dir, "rootfs.tar")
	if out, err := exec.Command("tar", "-C", e.rootfs, "-cf", tarball, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	base := []string{"--root", filepath.Join(dir, "storage"), "--runroot", filepath.Join(dir, "run"),
		"--storage-driver", "vfs", "--runtime", e.bin, "--cgroup-manager", "cgroupfs", "--events-backend", "none"}
	pm := func(args ...string) (string, error) {
		cmd := exec.Command(podman, append(append([]string(nil), base...), args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() {
		pm("rm", "-af")
		pm("rmi", "-af")
		exec.Command("umount", "-R", filepath.Join(dir, "run")).Run()
		exec.Command("umount", "-R", filepath.Join(dir, "storage")).Run()
	})
	if out, err := pm("import", tarball, "localhost/ocikit-test:latest"); err != nil {
		t.Fatalf("podman import: %v: %s", err, out)
	}
	// This host refuses podman's default RLIMIT_NPROC and NOFILE.
	// run is `podman run --rm` with opts, of the image, running cmd.
	run := func(opts []string, cmd ...string) []string {
		args := append([]string{"run", "--rm", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"}, opts...)
		return append(append(args, "localhost/ocikit-test:latest"), cmd...)
	}
	out, err := pm(run(nil, "sh", "-c", "echo hello; exit 3")...)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(out, "hello") {
		t.Fatalf("podman run: %v: %s", err, out)
	}
	// Limits podman puts in linux.resources, as the container reads them
	// in the cgroup podman shows it (v1 files here, v2 elsewhere).
	limits := run([]string{"--memory", "64m", "--cpus", "0.5"}, "sh", "-c",
		"{ cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us ||"+
			" cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max; } 2>/dev/null")
	out, err = pm(limits...)
	if got := strings.Join(strings.Fields(out), " "); err != nil || got != "67108864 50000 100000" {
		t.Errorf("podman run --memory 64m --cpus 0.5: %v: %q, want memory 67108864, cpu quota 50000 per 100000", err, out)
	}
	// --tmpfs passes tmpcopyup with the options: the tmpfs takes the
	// mode= asked, root keeps it (runc and crun give 1770 root too).
	tmp := run([]string{"--tmpfs", "/scratch:rw,size=1m,mode=1770"}, "stat", "-c", "%a %u", "/scratch")
	out, err = pm(tmp...)
	if got := strings.TrimSpace(out); err != nil || got != "1770 0" {
		t.Errorf("podman run --tmpfs /scratch:mode=1770: %v: %q, want \"1770 0\"", err, out)
	}
	// A terminal (-t): stdin and stdout are one, and the exit status
	// still comes through. Line endings are the terminal's business.
	tty := run([]string{"-t"}, "sh", "-c", "test -t 0 && test -t 1 && echo tty; exit 5")
	out, err = pm(tty...)
	if !errors.As(err, &ee) || ee.ExitCode() != 5 || strings.ReplaceAll(out, "\r\n", "\n") != "tty\n" {
		t.Errorf("podman run -t: %v: %q, want tty and exit status 5", err, out)
	}
	d := []string{"run", "-d", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "localhost/ocikit-test:latest", "sleep", "1000"}
	out, err = pm(d...)
	if err != nil {
		t.Fatalf("podman run -d: %v: %s", err, out)
	}
	id := strings.TrimSpace(out)
	if out, err := pm("inspect", "--format", "{{.State.Status}}", id); err != nil || strings.TrimSpace(out) != "running" {
		t.Fatalf("podman inspect: %v: %s", err, out)
	}
	if out, err := pm("rm", "-f", "-t", "0", id); err != nil {
		t.Fatalf("podman rm -f: %v: %s", err, out)
	}
	// A failing create reaches podman as ocikit's one-line error.
	out, err = pm(run(nil, "/nonexistent")...)
	if err == nil || !strings.Contains(out, `exec: stat /nonexistent: no such file or directory`) {
		t.Errorf("podman run of a missing program: %v: %s", err, out)
	}
}
