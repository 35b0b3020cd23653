package runtime_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/internal/testutil"
)

// TestPodmanPauseUpdate drives pause, resume and update through podman
// (podman pause / unpause / update -> ocikit pause / resume / update -r).
func TestPodmanPauseUpdate(t *testing.T) {
	e := newEnv(t)
	podman := testutil.RequireTool(t, "podman")
	dir := t.TempDir()
	tarball := filepath.Join(dir, "rootfs.tar")
	if out, err := exec.Command("tar", "-C", e.rootfs, "-cf", tarball, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	base := []string{"--root", filepath.Join(dir, "storage"), "--runroot", filepath.Join(dir, "run"),
		"--storage-driver", "vfs", "--runtime", e.bin, "--cgroup-manager", "cgroupfs", "--events-backend", "none"}
	pm := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(podman, append(append([]string(nil), base...), args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("podman %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	t.Cleanup(func() {
		exec.Command(podman, append(append([]string(nil), base...), "rm", "-af", "-t", "0")...).Run()
		exec.Command(podman, append(append([]string(nil), base...), "rmi", "-af")...).Run()
		exec.Command("umount", "-R", filepath.Join(dir, "run")).Run()
		exec.Command("umount", "-R", filepath.Join(dir, "storage")).Run()
	})
	pm("import", tarball, "localhost/ocikit-pause:latest")
	id := pm("run", "-d", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "localhost/ocikit-pause:latest", "sleep", "1000")
	id = id[strings.LastIndexByte(id, '\n')+1:]

	pm("pause", id)
	if st := pm("inspect", "--format", "{{.State.Status}}", id); st != "paused" {
		t.Errorf("podman inspect after pause: %q", st)
	}
	pm("unpause", id)
	if st := pm("inspect", "--format", "{{.State.Status}}", id); st != "running" {
		t.Errorf("podman inspect after unpause: %q", st)
	}

	pm("update", "--memory", "256m", id)
	pid := pm("inspect", "--format", "{{.State.Pid}}", id)
	data, err := os.ReadFile("/proc/" + pid + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	limit := ""
	for _, l := range strings.Split(string(data), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok && limit == "" {
			if b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", p, "memory.max")); err == nil {
				limit = strings.TrimSpace(string(b))
			}
		}
		if _, p, ok := strings.Cut(l, ":memory:"); ok {
			b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/memory", p, "memory.limit_in_bytes"))
			if err != nil {
				t.Fatal(err)
			}
			limit = strings.TrimSpace(string(b))
		}
	}
	if limit != "268435456" {
		t.Errorf("memory limit after podman update --memory 256m: %q", limit)
	}
	pm("rm", "-f", "-t", "0", id)
}
