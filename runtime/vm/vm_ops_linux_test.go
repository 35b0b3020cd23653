package vm_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocikit/ocikit/cgroups"
	"github.com/ocikit/ocikit/internal/testutil"
	"github.com/ocikit/ocikit/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestVMOps: runc's operations beyond runtime.md, answered by the guest
// for a container in a VM: ps (table, ps options, json), events --stats
// and a stream of events (statistics, an OOM kill) that ends with the
// container, pause (the
// container's counter in its root filesystem, a 9p share the host reads,
// stands still; ps still answers) and resume, update (applied to the
// guest's cgroup, a CPU quota to the host's too; more memory than the VM
// has is refused in one line). The monitor and qemu live in the
// container's cgroup on the host (here the default /ocikit/ID), which
// delete removes.
func TestVMOps(t *testing.T) {
	e := newVMEnv(t, []string{"sh", "-c", `trap "exit 143" TERM; i=0; while :; do i=$((i+1)); echo $i > /count; sleep 0.2; done`}, nil,
		func(s *specs.Spec) { s.Root.Readonly = false })
	const id = "vmtest-ops"
	e.mustOcikit("run", "-d", id)
	count := func() string {
		b, _ := os.ReadFile(filepath.Join(e.bundle, "rootfs", "count"))
		return strings.TrimSpace(string(b))
	}
	// Polls until the counter differs from old.
	advances := func(old string) bool {
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if c := count(); c != "" && c != old {
				return true
			}
			time.Sleep(100 * time.Millisecond)
		}
		return false
	}
	if !advances("") {
		t.Fatal("the container's counter never appeared")
	}
	cpuDir := testutil.CgroupDir(t, e.state(id).Pid, "cpu")
	if !strings.HasSuffix(cpuDir, "/ocikit/"+id) {
		t.Errorf("the monitor's host cgroup is %s, want the default /ocikit/%s", cpuDir, id)
	}

	t.Run("qemu hardening", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(e.root, id, "state.json"))
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			VM struct {
				QemuPid int `json:"qemuPid"`
			} `json:"vm"`
		}
		if err := json.Unmarshal(b, &rec); err != nil || rec.VM.QemuPid <= 0 {
			t.Fatalf("no qemu pid in state.json: %v %s", err, b)
		}
		status, err := os.ReadFile("/proc/" + strconv.Itoa(rec.VM.QemuPid) + "/status")
		if err != nil {
			t.Fatal(err)
		}
		field := func(name string) string {
			for _, l := range strings.Split(string(status), "\n") {
				if v, ok := strings.CutPrefix(l, name+":"); ok {
					return strings.TrimSpace(v)
				}
			}
			return ""
		}
		// Not root: a user of its own (or nobody), with the 9p
		// passthrough capabilities alone (chown, dac_override,
		// dac_read_search, fowner, fsetid, mknod, setfcap), under
		// qemu's seccomp sandbox.
		if uid := strings.Fields(field("Uid")); len(uid) != 4 || uid[0] == "0" || uid[1] == "0" || uid[2] == "0" || uid[3] == "0" {
			t.Errorf("qemu runs as uid %v, want a user other than root", uid)
		}
		if eff := field("CapEff"); eff != "000000008800001f" {
			t.Errorf("qemu's effective capabilities %s, want 000000008800001f", eff)
		}
		if sc := field("Seccomp"); sc != "2" {
			t.Errorf("qemu's seccomp mode %q, want 2 (-sandbox on)", sc)
		}
		// Its jail: the root is a directory in the state directory, with
		// no /etc/passwd, and its /proc is that of a pid namespace of
		// its own, where qemu is pid 1 and alone.
		root := "/proc/" + strconv.Itoa(rec.VM.QemuPid) + "/root"
		if l, err := os.Readlink(root); err != nil || l != filepath.Join(e.root, id, "jail") {
			t.Errorf("qemu's root %q, %v; want its jail in the state directory", l, err)
		}
		if _, err := os.Stat(root + "/etc/passwd"); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("qemu sees /etc/passwd: %v", err)
		}
		ents, err := os.ReadDir(root + "/proc")
		var pids []string
		for _, ent := range ents {
			if _, err := strconv.Atoi(ent.Name()); err == nil {
				pids = append(pids, ent.Name())
			}
		}
		if err != nil || !slices.Equal(pids, []string{"1"}) {
			t.Errorf("processes in qemu's /proc: %v, %v; want qemu alone, as pid 1", pids, err)
		}
		cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(rec.VM.QemuPid) + "/cmdline")
		if args := strings.Split(string(cmdline), "\x00"); !slices.Contains(args, "-nodefaults") || slices.Contains(args, "-netdev") {
			t.Errorf("qemu's command line lacks -nodefaults or has a network device: %q", args)
		}
	})

	t.Run("ps", func(t *testing.T) {
		out := e.mustOcikit("ps", id)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) < 2 || !strings.Contains(lines[0], "PID") || !strings.Contains(lines[0], "CMD") || !strings.Contains(out, "sh -c") {
			t.Errorf("ps: want ps -ef's header and the container's sh:\n%s", out)
		}
		if out := e.mustOcikit("ps", id, "--", "-o", "pid,comm"); !strings.HasPrefix(strings.TrimSpace(out), "PID COMMAND") || !strings.Contains(out, " sh\n") {
			t.Errorf("ps -o pid,comm:\n%s", out)
		}
		var pids []int
		if err := json.Unmarshal([]byte(e.mustOcikit("ps", "--format", "json", id)), &pids); err != nil || len(pids) == 0 {
			t.Errorf("ps --format json: %v %v", pids, err)
		}
	})

	t.Run("events --stats", func(t *testing.T) {
		var ev runtime.Event
		if err := json.Unmarshal([]byte(e.mustOcikit("events", "--stats", id)), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type != "stats" || ev.ID != id || ev.Data == nil || ev.Data.Pids.Current == 0 || ev.Data.CPU.Usage.Total == 0 || ev.Data.Memory.Usage.Usage == 0 {
			t.Errorf("events --stats: %+v", ev)
		}
	})

	t.Run("pause and resume", func(t *testing.T) {
		e.mustOcikit("pause", id)
		if st := e.state(id); st.Status != runtime.StatePaused {
			t.Fatalf("state after pause: %s", st.Status)
		}
		before := count()
		// The guest answers while paused (the VM runs for the query, the
		// container stays frozen).
		if out := e.mustOcikit("ps", id); !strings.Contains(out, "sh -c") {
			t.Errorf("ps while paused:\n%s", out)
		}
		if _, errOut, code := e.ocikit("exec", id, "true"); code == 0 || !strings.Contains(errOut, "paused") {
			t.Errorf("exec in a paused container: exit %d, %q", code, errOut)
		}
		time.Sleep(time.Second)
		if after := count(); after != before {
			t.Errorf("the counter moved while paused: %s → %s", before, after)
		}
		e.mustOcikit("resume", id)
		if st := e.state(id); st.Status != specs.StateRunning {
			t.Errorf("state after resume: %s", st.Status)
		}
		if !advances(count()) {
			t.Error("the counter did not move after resume")
		}
		if _, errOut, code := e.ocikit("resume", id); code == 0 || !strings.Contains(errOut, "not paused") {
			t.Errorf("resume of a running container: exit %d, %q", code, errOut)
		}
	})

	t.Run("update", func(t *testing.T) {
		e.mustOcikit("update", "--memory", "100m", "--pids-limit", "50", "--cpu-quota", "50000", "--cpu-period", "100000", id)
		if out := e.mustOcikit("exec", id, "cat", "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/cpu.max"); out != "104857600\n50\n50000 100000\n" {
			t.Errorf("the guest's cgroup after update: %q", out)
		}
		if q := hostCPUQuota(t, cpuDir); q != "50000 100000" {
			t.Errorf("the host cgroup's CPU quota after update: %q, want 50000 100000", q)
		}
		_, errOut, code := e.ocikit("update", "--memory", "4g", id)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if code == 0 || len(lines) != 1 || !strings.Contains(lines[0], "exceeds") {
			t.Errorf("update beyond the VM's memory: exit %d, want one line saying so: %q", code, errOut)
		}
		if out := e.mustOcikit("exec", id, "cat", "/sys/fs/cgroup/memory.max"); out != "104857600\n" {
			t.Errorf("a refused update changed the cgroup: %q", out)
		}
	})

	t.Run("events stream", func(t *testing.T) {
		cmd := exec.Command(e.bin, "--vm", "--root", e.root, "events", "--interval", "1s", id)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		events := make(chan runtime.Event, 64)
		done := make(chan error, 1)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				var ev runtime.Event
				if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
					t.Errorf("event %q: %v", sc.Text(), err)
				}
				events <- ev
			}
			close(events)
			done <- cmd.Wait()
		}()
		// next returns the next event of type typ, skipping others.
		next := func(typ string) bool {
			deadline := time.After(60 * time.Second)
			for {
				select {
				case ev, ok := <-events:
					if !ok {
						return false
					}
					if ev.Type == typ && ev.ID == id && (typ != "stats" || ev.Data != nil) {
						return true
					}
				case <-deadline:
					return false
				}
			}
		}
		for i := 0; i < 2; i++ {
			if !next("stats") {
				t.Fatalf("stats event %d never came", i+1)
			}
		}
		// The guest's OOM killer in the container's cgroup (100m since
		// update) is an "oom" event.
		if _, errOut, code := e.ocikit("exec", id, "tail", "/dev/zero"); code != 137 {
			t.Errorf("tail /dev/zero under a 100m limit: exit %d, want 137 (OOM-killed): %s", code, errOut)
		}
		if !next("oom") {
			t.Error("no oom event after the OOM kill")
		}
		// The stream ends with the container.
		e.mustOcikit("kill", id, "TERM")
		for range events {
		}
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("events after the container stopped: %v", err)
			}
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Error("events did not end when the container stopped")
		}
	})

	e.waitStopped(id)
	if out := e.mustOcikit("ps", "--format", "json", id); strings.TrimSpace(out) != "[]" {
		t.Errorf("ps of a stopped container: %q", out)
	}
	e.mustOcikit("delete", id)
	if left := e.leftovers(); len(left) > 0 {
		t.Errorf("left after delete: %v", left)
	}
	if _, err := os.Stat(cpuDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the host cgroup %s is left after delete (%v)", cpuDir, err)
	}
}

// hostCPUQuota reads a cgroup's quota and period as cpu.max writes them.
func hostCPUQuota(t *testing.T, dir string) string {
	t.Helper()
	if cgroups.HostMode() == cgroups.Unified {
		b, err := os.ReadFile(filepath.Join(dir, "cpu.max"))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	var v [2]string
	for i, f := range []string{"cpu.cfs_quota_us", "cpu.cfs_period_us"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		v[i] = strings.TrimSpace(string(b))
	}
	return v[0] + " " + v[1]
}
