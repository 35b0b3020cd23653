//go:build linux

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocikit/ocikit/internal/testutil"
)

// TestContainerdVM: containerd's runc shim v2 runs ocikit's VM runtime
// when ctr's --runc-binary names the ocikit-vm link (containerd's
// BinaryName): a busybox image runs in a VM of its own (the guest's
// kernel, not the host's), its output and exit status reach ctr, and a
// detached task answers ctr's pause, resume, ps and kill through the
// shim.
func TestContainerdVM(t *testing.T) {
	if testing.Short() {
		t.Skip("boots virtual machines")
	}
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "qemu-system-x86_64")
	dir := t.TempDir()
	bin := testutil.Binary(t)
	archive := ctrArchive(t, bin, dir)
	c := startContainerdWith(t, dir, "ocikit-ctd-vm", "")
	// The link is the shim's runtime binary, and what the cleanup runs.
	c.bin = filepath.Join(dir, "ocikit-vm")
	if err := os.Symlink(bin, c.bin); err != nil {
		t.Fatal(err)
	}
	c.mustRun("images", "import", "--base-name", "ocikit.test/ocikit/busybox", "--snapshotter", c.snap, archive)
	host, err := exec.Command("uname", "-r").Output()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("run", func(t *testing.T) {
		out, err := c.run(c.runArgs("--rm", ctrImage, "vm1", "sh", "-c", "uname -r; exit 3")...)
		if code := exitCode(err); code != 3 {
			t.Fatalf("ctr run of `exit 3` in a VM: %v (status %d), want status 3\n%s", err, code, out)
		}
		if guest := strings.TrimSpace(out); guest == "" || guest == strings.TrimSpace(string(host)) {
			t.Errorf("uname -r printed %q: want the guest kernel's release, not the host's %q", guest, host)
		}
	})

	t.Run("detached", func(t *testing.T) {
		const id = "vmbg"
		c.mustRun(c.runArgs("-d", ctrImage, id, "sh", "-c", "trap 'exit 143' TERM; while :; do sleep 0.2; done")...)
		if st, err := c.ocikitState(id); err != nil || st != "running" {
			t.Fatalf("ocikit-vm state %s: %q, %v; want running (was ocikit-vm the shim's runtime?)", id, st, err)
		}
		c.mustRun("task", "pause", id)
		if st := c.taskStatus(id); st != "PAUSED" {
			t.Errorf("ctr task ls after pause: %q, want PAUSED", st)
		}
		c.mustRun("task", "resume", id)
		if st := c.taskStatus(id); st != "RUNNING" {
			t.Errorf("ctr task ls after resume: %q, want RUNNING", st)
		}
		if out := c.mustRun("task", "ps", id); len(strings.Fields(out)) < 3 {
			t.Errorf("ctr task ps %s lists no process:\n%s", id, out)
		}
		c.mustRun("task", "kill", "-s", "SIGTERM", id)
		deadline := time.Now().Add(60 * time.Second)
		for c.taskStatus(id) != "STOPPED" {
			if time.Now().After(deadline) {
				t.Fatalf("task %s not STOPPED 60s after SIGTERM: %q", id, c.taskStatus(id))
			}
			time.Sleep(100 * time.Millisecond)
		}
		c.mustRun("task", "delete", id)
		c.mustRun("containers", "rm", id)
	})
}
