package runtime_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ocikit/ocikit/internal/testutil"
)

// criuWorks reports whether CRIU can run on this host (`criu check`).
func criuWorks(t *testing.T) bool {
	t.Helper()
	testutil.RequireTool(t, "criu")
	return exec.Command("criu", "check").Run() == nil
}

// TestCheckpointCRIUUnusable: on a host whose kernel CRIU cannot handle,
// checkpoint and restore say so in one line and change nothing: the
// container keeps running, no image directory, no restored container.
// Where CRIU works, TestCRIUVM's checks run instead (test/integration).
func TestCheckpointCRIUUnusable(t *testing.T) {
	e := newEnv(t)
	if criuWorks(t) {
		t.Skip("CRIU works on this host: checkpoint and restore are tested in the VM (TestCRIUVM) and by hand")
	}
	id := e.id("criu")
	e.must("run", "-d", "--bundle", e.bundle(counter, tmpTmpfs), id)
	pid := e.state(id).Pid
	if !advances(t, pid, 1) {
		t.Fatal("the counter does not count")
	}
	img := filepath.Join(t.TempDir(), "img")
	for _, args := range [][]string{
		{"checkpoint", "--image-path", img, id},
		{"checkpoint", "--leave-running", "--image-path", img, id},
		{"checkpoint", "--pre-dump", "--image-path", img, id},
		{"checkpoint", "--lazy-pages", "--page-server", "127.0.0.1:27277", "--image-path", img, id},
	} {
		e.fails("CRIU is unusable on this host", args...)
		if _, err := os.Stat(img); !os.IsNotExist(err) {
			t.Errorf("%v: image path left behind (%v)", args, err)
		}
	}
	if st := e.state(id); st.Status != "running" || st.Pid != pid {
		t.Fatalf("after the failed checkpoints: %+v", st)
	}
	if !advances(t, pid, count(t, pid)) {
		t.Error("the counter stopped after the failed checkpoints")
	}

	if err := os.Mkdir(img, 0o700); err != nil {
		t.Fatal(err)
	}
	rid := e.id("criu-restore")
	e.fails("CRIU is unusable on this host", "restore", "-d", "--image-path", img, "--bundle", e.bundle(counter, tmpTmpfs), rid)
	if _, err := os.Stat(filepath.Join(e.root, rid)); !os.IsNotExist(err) {
		t.Errorf("failed restore left its state directory (%v)", err)
	}
	if cgroupExists(rid) {
		t.Error("failed restore left its cgroup")
	}
	if left, _ := os.ReadDir(img); len(left) != 0 {
		t.Errorf("failed restore left %s in the image path", left[0].Name())
	}
}

// TestCheckpointRefused: what checkpoint and restore refuse before CRIU
// runs.
func TestCheckpointRefused(t *testing.T) {
	e := newEnv(t)
	testutil.RequireTool(t, "criu")
	id := e.id("criu-created")
	bundle := e.bundle([]string{"sleep", "100"}, nil)
	e.must("create", "--bundle", bundle, id)
	img := filepath.Join(t.TempDir(), "img")
	tests := []struct {
		name string
		want string
		args []string
	}{
		{"not running", "is created, not running", []string{"checkpoint", "--image-path", img, id}},
		{"no image path", "--image-path is required", []string{"checkpoint", id}},
		{"cgroups mode", `--manage-cgroups-mode "bogus": want soft, full, strict or ignore`, []string{"checkpoint", "--image-path", img, "--manage-cgroups-mode", "bogus", id}},
		{"lazy pages without a page server", "--lazy-pages needs --page-server ADDRESS:PORT", []string{"checkpoint", "--lazy-pages", "--image-path", img, id}},
		{"status fd without lazy pages", "--status-fd is only used with --lazy-pages", []string{"checkpoint", "--status-fd", "2", "--image-path", img, id}},
		{"status fd not open", "--status-fd 99: bad file descriptor", []string{"checkpoint", "--lazy-pages", "--page-server", ":27277", "--status-fd", "99", "--image-path", img, id}},
		{"empty ns other than network", `--empty-ns "ipc": CRIU can leave only the network namespace empty`, []string{"checkpoint", "--empty-ns", "ipc", "--image-path", img, id}},
		{"missing container", "does not exist", []string{"checkpoint", "--image-path", img, "criu-none"}},
		{"restore lazy pages without a daemon", "--lazy-pages: no criu lazy-pages daemon serves", []string{"restore", "--lazy-pages", "--image-path", t.TempDir(), "--bundle", bundle, "criu-r1"}},
		{"restore empty ns other than network", `--empty-ns "uts": CRIU can leave only the network namespace empty`, []string{"restore", "--empty-ns", "uts", "--image-path", t.TempDir(), "--bundle", bundle, "criu-r3"}},
		{"restore missing images", "image path", []string{"restore", "--image-path", img, "--bundle", bundle, "criu-r2"}},
		{"restore existing id", "already exists", []string{"restore", "-d", "--image-path", t.TempDir(), "--bundle", bundle, id}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.sub(t)
			e.fails(tt.want, tt.args...)
			if _, err := os.Stat(img); !os.IsNotExist(err) {
				t.Errorf("image path created (%v)", err)
			}
		})
	}
	if st := e.state(id); st.Status != "created" {
		t.Errorf("container is %s after the refusals, want created", st.Status)
	}
}

// TestCheckpointRootlessOldCRIU: without root, checkpoint and restore
// with a CRIU older than 3.18 (no non-root mode) are refused in one line
// naming the version, before CRIU fails as a user in its kernel feature
// detection (which would read as "CRIU is unusable on this host"), and
// leave nothing behind.
func TestCheckpointRootlessOldCRIU(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "criu")
	out, err := exec.Command("criu", "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	var major, minor int
	if _, err := fmt.Sscanf(strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0]), "Version: %d.%d", &major, &minor); err != nil {
		t.Fatalf("criu --version: %q: %v", out, err)
	}
	if major*100+minor >= 318 {
		t.Skipf("CRIU %d.%d has its non-root mode", major, minor)
	}
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "ocikit")
	data, err := os.ReadFile(testutil.Binary(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	root, img := filepath.Join(dir, "state"), filepath.Join(dir, "img")
	for _, args := range [][]string{
		{"checkpoint", "--image-path", img, "rl"},
		{"restore", "-d", "--image-path", dir, "--bundle", dir, "rl"},
	} {
		cmd := exec.Command(bin, append([]string{"--root", root}, args...)...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		if err == nil {
			t.Fatalf("%v as nobody succeeded", args)
		}
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			t.Fatalf("%v as nobody: %v, no message", args, err)
		}
		want := fmt.Sprintf("rootless checkpoint and restore need CRIU 3.18 or later (its non-root mode, with CAP_CHECKPOINT_RESTORE); this is CRIU %d.%d", major, minor)
		if !strings.Contains(msg, want) || strings.Contains(msg, "\n") {
			t.Errorf("%v as nobody: %q, want one line with %q", args, msg, want)
		}
	}
	for _, p := range []string{root, img} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left behind (%v)", p, err)
		}
	}
}
