//go:build linux

package integration

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocikit/ocikit/internal/testutil"
	"github.com/ocikit/ocikit/runtime/vm"
)

// TestContainerdVM: containerd's runc shim v2 runs ocikit's VM runtime
// when ctr's --runc-binary names the ocikit-vm link (containerd's
// BinaryName): a busybox image runs in a VM of its own (the guest's
// kernel, not the host's), its output and exit status reach ctr, and a
// detached task answers ctr's pause, resume, ps and kill through the
// shim. The shim reads the metrics of the cgroup of the state's pid, the
// VM's monitor: it and qemu live in the container's cgroupsPath on the
// host, so `ctr task metrics` reports the VM's memory, limited to the
// guest's memory plus vm.HostMemoryOverhead, and the cgroup goes with
// the task.
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
		const limit = 64 << 20
		c.mustRun(c.runArgs("-d", "--memory-limit", strconv.Itoa(limit), ctrImage, id, "sh", "-c", "trap 'exit 143' TERM; while :; do sleep 0.2; done")...)
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
		usage, hostLimit, cpu := taskMetrics(t, c.mustRun("task", "metrics", "--format", "json", id))
		t.Logf("ctr task metrics: memory usage %d MiB, limit %d MiB, cpu %d ms", usage>>20, hostLimit>>20, cpu/1e6)
		if usage == 0 || cpu == 0 {
			t.Errorf("ctr task metrics %s: memory usage %d, cpu %d ns: want the VM's (the monitor's cgroup)", id, usage, cpu)
		}
		if want := int64(limit + vm.MemoryOverhead + vm.HostMemoryOverhead); hostLimit != want {
			t.Errorf("ctr task metrics %s: memory limit %d, want %d (the container's limit + guest and host overheads)", id, hostLimit, want)
		}
		cgDir := monitorCgroup(t, c, id)
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
		if _, err := os.Stat(cgDir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the VM's host cgroup %s is left after delete (%v)", cgDir, err)
		}
	})
}

// taskMetrics reads the memory usage and limit and the CPU time (ns) from
// `ctr task metrics --format json`: cgroup v1's memory.usage.{usage,limit}
// and cpu.usage.total, or v2's memory.{usage,usage_limit} and
// cpu.usage_usec.
func taskMetrics(t *testing.T, out string) (usage, limit, cpu int64) {
	t.Helper()
	var m struct {
		Memory struct {
			Usage      json.RawMessage `json:"usage"`
			UsageLimit int64           `json:"usage_limit"`
		} `json:"memory"`
		CPU struct {
			Usage     json.RawMessage `json:"usage"`
			UsageUsec int64           `json:"usage_usec"`
		} `json:"cpu"`
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("ctr task metrics: %v\n%s", err, out)
	}
	var v1 struct {
		Usage int64 `json:"usage"`
		Limit int64 `json:"limit"`
	}
	var cpu1 struct {
		Total int64 `json:"total"`
	}
	if json.Unmarshal(m.Memory.Usage, &v1) == nil {
		json.Unmarshal(m.CPU.Usage, &cpu1)
		return v1.Usage, v1.Limit, cpu1.Total
	}
	if err := json.Unmarshal(m.Memory.Usage, &usage); err != nil {
		t.Fatalf("ctr task metrics: memory.usage %s: %v\n%s", m.Memory.Usage, err, out)
	}
	return usage, m.Memory.UsageLimit, m.CPU.UsageUsec * 1000
}

// monitorCgroup is the host cgroup directory (the memory controller's on
// cgroup v1, the unified one on v2) of the VM monitor, the state's pid.
func monitorCgroup(t *testing.T, c *containerd, id string) string {
	t.Helper()
	out, err := exec.Command(c.bin, "--root", filepath.Join(c.runcRoot, c.ns), "state", id).Output()
	if err != nil {
		t.Fatalf("ocikit-vm state %s: %v", id, err)
	}
	var st struct {
		Pid int `json:"pid"`
	}
	if err := json.Unmarshal(out, &st); err != nil || st.Pid <= 0 {
		t.Fatalf("ocikit-vm state %s: pid %d, %v", id, st.Pid, err)
	}
	return testutil.CgroupDir(t, st.Pid, "memory")
}
