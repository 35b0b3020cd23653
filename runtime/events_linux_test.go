package runtime_test

import (
	"bufio"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestEventsStats(t *testing.T) {
	e := newEnv(t)
	id := e.id("stats")
	e.must("run", "-d", "--bundle", e.bundle([]string{"sh", "-c", "sleep 1000 & wait"}, nil), id)
	pid := e.state(id).Pid
	out := e.must("events", "--stats", id)
	if strings.Count(out, "\n") != 1 {
		t.Fatalf("events --stats printed %q, want one line", out)
	}
	var ev runtime.Event
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatalf("events --stats: %v: %s", err, out)
	}
	if ev.Type != "stats" || ev.ID != id || ev.Data == nil {
		t.Fatalf("events --stats = %s", out)
	}
	if ev.Data.Memory.Usage.Usage == 0 || ev.Data.Pids.Current == 0 || ev.Data.CPU.Usage.Total == 0 {
		t.Errorf("events --stats lacks memory, pids or cpu usage: %s", out)
	}
	// runc's field names, which its callers parse.
	for _, f := range []string{`"cpu":{"usage":{`, `"memory":{`, `"usage":{"limit":`, `"pids":{"current":`, `"blkio":{`} {
		if !strings.Contains(out, f) {
			t.Errorf("events --stats lacks %s: %s", f, out)
		}
	}
	e.must("pause", id)
	e.must("events", "--stats", id) // a paused container has statistics too
	e.must("kill", id, "KILL")
	waitGone(t, pid)
	e.fails("is stopped, not running", "events", "--stats", id)
	e.fails("is stopped, not running", "events", id)
	e.fails("not positive", "events", "--interval", "0s", id)
	e.must("delete", id)
	e.fails("does not exist", "events", "--stats", id)
}

// events starts `ocikit events --interval 50ms ID` and returns its
// output's lines and the command.
func (e *env) events(id string) (*bufio.Scanner, *exec.Cmd) {
	e.t.Helper()
	cmd := exec.Command(e.bin, "--root", e.root, "events", "--interval", "50ms", id)
	out, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return bufio.NewScanner(out), cmd
}

func nextEvent(t *testing.T, sc *bufio.Scanner) (runtime.Event, bool) {
	t.Helper()
	if !sc.Scan() {
		return runtime.Event{}, false
	}
	var ev runtime.Event
	if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
		t.Fatalf("events line %q: %v", sc.Text(), err)
	}
	return ev, true
}

// Without --stats, events prints statistics until the container stops,
// then exits.
func TestEventsUntilStopped(t *testing.T) {
	e := newEnv(t)
	id := e.id("ev")
	e.must("run", "-d", "--bundle", e.bundle([]string{"sleep", "1000"}, nil), id)
	pid := e.state(id).Pid
	sc, cmd := e.events(id)
	for range 2 {
		ev, ok := nextEvent(t, sc)
		if !ok || ev.Type != "stats" || ev.ID != id || ev.Data == nil || ev.Data.Memory.Usage.Usage == 0 {
			t.Fatalf("event %+v, %v; want stats with memory usage", ev, ok)
		}
	}
	e.must("kill", id, "KILL")
	waitGone(t, pid)
	for {
		if _, ok := nextEvent(t, sc); !ok {
			break
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("events after the container stopped: %v", err)
	}
	e.must("delete", id)
}

// The OOM killer's action in the container's memory cgroup is an "oom"
// event.
func TestEventsOOM(t *testing.T) {
	e := newEnv(t)
	id := e.id("oom")
	limit := int64(16 << 20)
	b := e.bundle([]string{"sh", "-c", "x=0123456789; while :; do x=$x$x; done"}, func(s *specs.Spec) {
		s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit, Swap: &limit}}
	})
	e.must("create", "--bundle", b, id)
	pid := e.state(id).Pid
	sc, cmd := e.events(id)
	// The first statistics say the watch is set up.
	if ev, ok := nextEvent(t, sc); !ok || ev.Type != "stats" {
		t.Fatalf("first event %+v, %v; want stats", ev, ok)
	}
	e.must("start", id)
	oom := false
	for {
		ev, ok := nextEvent(t, sc)
		if !ok {
			break
		}
		if ev.Type == "oom" {
			if ev.ID != id || ev.Data != nil {
				t.Errorf("oom event %+v", ev)
			}
			oom = true
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("events: %v", err)
	}
	waitGone(t, pid)
	if !oom {
		t.Error("no oom event before the container stopped")
	}
	e.must("delete", id)
}
