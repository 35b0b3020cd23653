package runtime_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cgroupValue reads a limit of the container's default cgroup: the v1
// file under the controller's hierarchy, or the v2 file.
func cgroupValue(t *testing.T, id, ctrl, v1, v2 string) string {
	t.Helper()
	p := filepath.Join("/sys/fs/cgroup", ctrl, "ocikit", id, v1)
	if cgroups.HostMode() == cgroups.Unified {
		p = filepath.Join("/sys/fs/cgroup/ocikit", id, v2)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

func TestUpdate(t *testing.T) {
	e := newEnv(t)
	id := e.id("upd")
	mem, pids := int64(64<<20), int64(100)
	b := e.bundle([]string{"sleep", "1000"}, func(s *specs.Spec) {
		s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &mem}, Pids: &specs.LinuxPids{Limit: &pids}}
	})
	e.must("run", "-d", "--bundle", b, id)
	pid := e.state(id).Pid
	memory := func() string { return cgroupValue(t, id, "memory", "memory.limit_in_bytes", "memory.max") }
	pidsMax := func() string { return cgroupValue(t, id, "pids", "pids.max", "pids.max") }
	if memory() != strconv.Itoa(64<<20) || pidsMax() != "100" {
		t.Fatalf("before update: memory %s, pids %s", memory(), pidsMax())
	}

	e.must("update", "--memory", "128m", id)
	if memory() != strconv.Itoa(128<<20) || pidsMax() != "100" {
		t.Errorf("after update --memory 128m: memory %s, pids %s", memory(), pidsMax())
	}
	e.must("update", "--pids-limit", "50", id)
	if memory() != strconv.Itoa(128<<20) || pidsMax() != "50" {
		t.Errorf("after update --pids-limit 50: memory %s, pids %s", memory(), pidsMax())
	}
	res := filepath.Join(t.TempDir(), "res.json")
	if err := os.WriteFile(res, []byte(`{"pids":{"limit":60},"memory":{"limit":100663296}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	e.must("update", "-r", res, id)
	if memory() != "100663296" || pidsMax() != "60" {
		t.Errorf("after update -r: memory %s, pids %s", memory(), pidsMax())
	}
	// -r - reads standard input, as containerd and podman pass it.
	cmd := exec.Command(e.bin, "--root", e.root, "update", "-r", "-", id)
	cmd.Stdin = strings.NewReader(`{"pids":{"limit":65}}`)
	if out, err := cmd.CombinedOutput(); err != nil || pidsMax() != "65" {
		t.Errorf("update -r -: %v: %s; pids.max %s", err, out, pidsMax())
	}
	// Docker's spelling and runc's.
	e.must("update", "--cpu-shares", "512", id)
	e.must("update", "--cpu-share", "256", id)
	if v := cgroupValue(t, id, "cpu", "cpu.shares", "cpu.weight"); cgroups.HostMode() != cgroups.Unified && v != "256" {
		t.Errorf("cpu.shares = %s, want 256", v)
	}
	// A paused container can be updated.
	e.must("pause", id)
	e.must("update", "--pids-limit", "70", id)
	e.must("resume", id)
	if pidsMax() != "70" {
		t.Errorf("after update of the paused container: pids %s", pidsMax())
	}

	// The merged resources are saved: in the copy of the configuration.
	data, err := os.ReadFile(filepath.Join(e.root, id, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	r := spec.Linux.Resources
	if r == nil || r.Memory == nil || r.Memory.Limit == nil || *r.Memory.Limit != 100663296 || r.Pids == nil || *r.Pids.Limit != 70 ||
		r.CPU == nil || r.CPU.Shares == nil || *r.CPU.Shares != 256 {
		t.Errorf("saved resources: %s", data)
	}

	for _, tc := range []struct {
		name, want string
		args       []string
	}{
		{"memory", "invalid --memory", []string{"--memory", "lots"}},
		{"memory-negative", "invalid --memory-swap", []string{"--memory-swap", "-5"}},
		{"pids", "invalid --pids-limit", []string{"--pids-limit", "many"}},
		{"cpu-period", "invalid --cpu-period", []string{"--cpu-period", "-1"}},
		{"blkio-weight", "invalid --blkio-weight", []string{"--blkio-weight", "5"}},
		{"cpuset-syntax", "invalid --cpuset-cpus", []string{"--cpuset-cpus", "0-x"}},
		{"cpuset-absent", "cpuset", []string{"--cpuset-cpus", "4096"}},
		{"both", "cannot be combined", []string{"-r", res, "--memory", "1g"}},
		{"json", "invalid linux.resources JSON", []string{"-r", filepath.Join(e.root, id, "state.json.missing")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.sub(t)
			if tc.name == "json" {
				bad := filepath.Join(t.TempDir(), "bad.json")
				os.WriteFile(bad, []byte(`{"memory":{"limit":"1g"}}`), 0o644)
				tc.args[1] = bad
			}
			e.fails(tc.want, append(append([]string{"update"}, tc.args...), id)...)
		})
	}
	if pidsMax() != "70" {
		t.Errorf("failed updates changed pids.max to %s", pidsMax())
	}

	e.must("kill", id, "KILL")
	waitGone(t, pid)
	e.fails("is stopped: cannot update", "update", "--memory", "1g", id)
	e.must("delete", id)
	e.fails("does not exist", "update", "--memory", "1g", id)
}
