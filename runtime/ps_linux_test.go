package runtime_test

import (
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/runtime"
)

func TestPs(t *testing.T) {
	e := newEnv(t)
	id := e.id("ps")
	// The init (sh) and two sleeps.
	e.must("run", "-d", "--bundle", e.bundle([]string{"sh", "-c", "sleep 1000 & sleep 1001 & wait"}, nil), id)
	pid := e.state(id).Pid
	var pids []int
	// The shell forks its children after start returns.
	for range 200 {
		pids = nil
		if err := json.Unmarshal([]byte(e.must("ps", "--format", "json", id)), &pids); err != nil {
			t.Fatal(err)
		}
		if len(pids) == 3 {
			break
		}
	}
	if len(pids) != 3 || !slices.Contains(pids, pid) {
		t.Fatalf("ps --format json = %v, want the init %d and two sleeps", pids, pid)
	}
	for _, p := range pids {
		if p == pid {
			continue
		}
		ppid := ppidOf(t, p)
		if ppid != pid {
			t.Errorf("process %d of the container has parent %d, want the init %d", p, ppid, pid)
		}
	}

	table := e.must("ps", id)
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "PID") {
		t.Fatalf("ps table:\n%s", table)
	}
	if !strings.Contains(table, "sleep 1000") || !strings.Contains(table, "sleep 1001") {
		t.Errorf("ps table lacks the sleeps:\n%s", table)
	}
	custom := e.must("ps", id, "--", "-o", "pid,comm")
	if n := len(strings.Split(strings.TrimSpace(custom), "\n")); n != 4 || !strings.Contains(custom, "sleep") {
		t.Errorf("ps ID -- -o pid,comm:\n%s", custom)
	}
	e.fails("no PID column", "ps", id, "-o", "comm")
	// As runc: json ignores ps options.
	if out := e.must("ps", "--format", "json", id, "-ef"); !strings.HasPrefix(out, "[") {
		t.Errorf("ps --format json ID -ef = %q, want the JSON pids", out)
	}
	e.fails("unknown --format", "ps", "--format", "yaml", id)

	e.must("kill", id, "KILL")
	waitGone(t, pid)
	if out := strings.TrimSpace(e.must("ps", "--format", "json", id)); out != "[]" {
		t.Errorf("ps of a stopped container = %s, want []", out)
	}
	e.must("delete", id)
	e.fails("does not exist", "ps", id)
}

func ppidOf(t *testing.T, pid int) int {
	t.Helper()
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	data := string(raw)
	f := strings.Fields(data[strings.LastIndexByte(data, ')')+2:])
	n, _ := strconv.Atoi(f[1])
	return n
}

func TestFilterPs(t *testing.T) {
	out := "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 /sbin/init\nroot 42 1 0 10:00 ? 00:00:00 sleep 42\nroot 420 1 0 10:00 ? 00:00:00 sleep 1\n"
	for _, tc := range []struct {
		name string
		pids []int
		want string
	}{
		{"one", []int{42}, "UID PID PPID C STIME TTY TIME CMD\nroot 42 1 0 10:00 ? 00:00:00 sleep 42\n"},
		{"none", nil, "UID PID PPID C STIME TTY TIME CMD\n"},
		{"two", []int{1, 420}, "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 /sbin/init\nroot 420 1 0 10:00 ? 00:00:00 sleep 1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := runtime.FilterPs([]byte(out), tc.pids)
			if err != nil || string(got) != tc.want {
				t.Errorf("FilterPs = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := runtime.FilterPs([]byte("COMMAND\nsh\n"), []int{1}); err == nil {
		t.Error("FilterPs without a PID column succeeded")
	}
}
