package runtime_test

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocikit/ocikit/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// counter is a container program that writes an increasing number to
// /tmp/c ten times a second.
var counter = []string{"sh", "-c", "i=0; while :; do i=$((i+1)); echo $i >/tmp/c.new; mv /tmp/c.new /tmp/c; sleep 0.1; done"}

// tmpTmpfs gives the container a /tmp of its own.
func tmpTmpfs(s *specs.Spec) {
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev"}})
}

// count reads the counter of the container whose init is pid.
func count(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/root/tmp/c")
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return n
}

// advances waits up to 10 seconds for the counter to pass n.
func advances(t *testing.T, pid, n int) bool {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if count(t, pid) > n {
			return true
		}
	}
	return false
}

func TestPauseResume(t *testing.T) {
	e := newEnv(t)
	id := e.id("pause")
	e.must("run", "-d", "--bundle", e.bundle(counter, tmpTmpfs), id)
	pid := e.state(id).Pid
	if !advances(t, pid, 1) {
		t.Fatal("the counter does not count")
	}

	e.must("pause", id)
	if st := e.state(id); st.Status != runtime.StatePaused || st.Pid != pid {
		t.Fatalf("after pause: %+v", st)
	}
	if out := e.must("list", "--format", "json"); !strings.Contains(out, `"status":"paused"`) {
		t.Errorf("list --format json = %s", out)
	}
	frozen := count(t, pid)
	// One second is ten ticks of a counter that runs.
	time.Sleep(time.Second)
	if n := count(t, pid); n != frozen {
		t.Fatalf("counter went from %d to %d while paused", frozen, n)
	}
	e.fails("not running: cannot pause", "pause", id)
	e.fails("not created", "start", id)

	e.must("resume", id)
	if st := e.state(id); st.Status != specs.StateRunning {
		t.Fatalf("after resume: status %s", st.Status)
	}
	if !advances(t, pid, frozen) {
		t.Fatalf("counter stays at %d after resume", frozen)
	}
	e.fails("not paused: cannot resume", "resume", id)

	e.must("kill", id, "KILL")
	waitGone(t, pid)
	e.fails("is stopped, not running", "pause", id)
	e.fails("is stopped, not paused", "resume", id)
	e.must("delete", id)
	e.fails("does not exist", "pause", id)
	e.fails("does not exist", "resume", id)
}

func TestPauseWrongState(t *testing.T) {
	e := newEnv(t)
	id := e.id("pcreated")
	e.must("create", "--bundle", e.bundle([]string{"sleep", "1000"}, nil), id)
	e.fails("is created, not running: cannot pause", "pause", id)
	e.fails("is created, not paused: cannot resume", "resume", id)
	e.must("delete", "--force", id)
}

// A paused container can be killed and force-deleted: on cgroup v1 a
// frozen process dies only once thawed, which kill and delete do.
func TestPausedKillDelete(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name string
		cmd  []string
	}{
		{"kill", []string{"kill"}},
		{"kill-all", []string{"kill", "--all"}},
		{"delete-force", []string{"delete", "--force"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.sub(t)
			id := e.id("pk")
			e.must("run", "-d", "--bundle", e.bundle(counter, tmpTmpfs), id)
			pid := e.state(id).Pid
			e.must("pause", id)
			args := append(append([]string{}, tc.cmd...), id)
			if tc.cmd[0] == "kill" {
				args = append(args, "KILL")
			}
			e.must(args...)
			waitGone(t, pid)
			if tc.cmd[0] == "kill" {
				if st := e.state(id); st.Status != specs.StateStopped {
					t.Fatalf("after kill of a paused container: status %s", st.Status)
				}
				e.must("delete", id)
			}
			e.fails("does not exist", "state", id)
			if cgroupExists(id) {
				t.Errorf("cgroup of %s left behind", id)
			}
		})
	}
}
