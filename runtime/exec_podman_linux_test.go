package runtime_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/internal/testutil"
)

// TestPodmanExec drives exec through podman and conmon (podman exec ->
// ocikit exec --process --detach --pid-file): output, exit status, the
// environment, user and working directory podman puts in the process file,
// and a terminal.
func TestPodmanExec(t *testing.T) {
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
		out, err := exec.Command(podman, append(append([]string(nil), base...), args...)...).CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() {
		pm("rm", "-af", "-t", "0")
		pm("rmi", "-af")
		exec.Command("umount", "-R", filepath.Join(dir, "run")).Run()
		exec.Command("umount", "-R", filepath.Join(dir, "storage")).Run()
	})
	if out, err := pm("import", tarball, "localhost/ocikit-exec:latest"); err != nil {
		t.Fatalf("podman import: %v: %s", err, out)
	}
	out, err := pm("run", "-d", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--hostname", "pm-host", "localhost/ocikit-exec:latest", "sleep", "1000")
	if err != nil {
		t.Fatalf("podman run -d: %v: %s", err, out)
	}
	out = strings.TrimSpace(out)
	id := out[strings.LastIndexByte(out, '\n')+1:]
	tests := []struct {
		name string
		args []string
		want string
		code int
	}{
		{"output", []string{"sh", "-c", "hostname; cat /proc/1/cmdline"}, "pm-host\nsleep\x001000\x00", 0},
		{"status", []string{"sh", "-c", "echo bye; exit 4"}, "bye\n", 4},
		{"env-user-cwd", []string{"-e", "FOO=bar", "-u", "1000:1000", "-w", "/tmp", "sh", "-c", `echo "$FOO"; id -u; pwd`}, "bar\n1000\n/tmp\n", 0},
		{"tty", []string{"-t", "sh", "-c", "test -t 1 && echo is-a-tty"}, "is-a-tty\r\n", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			i := 0
			for i < len(tc.args) && strings.HasPrefix(tc.args[i], "-") {
				if tc.args[i] == "-t" {
					i++
				} else {
					i += 2
				}
			}
			args := append(append(append([]string{"exec"}, tc.args[:i]...), id), tc.args[i:]...)
			out, err := pm(args...)
			if code := exitCode(err); (tc.code == 0 && err != nil) || (tc.code != 0 && code != tc.code) {
				t.Fatalf("podman %v: %v (status %d), want %d: %s", args, err, code, tc.code, out)
			}
			if out != tc.want {
				t.Errorf("podman %v printed %q, want %q", args, out, tc.want)
			}
		})
	}
}
