package runtime_test

import (
	"os"
	"os/exec"
	"path/filepath"
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
