package runtime

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocikit/ocikit/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestParseSignal: kill's signal argument as runc takes it, plus 0 (the
// null signal of a liveness probe) and the real-time names.
func TestParseSignal(t *testing.T) {
	tests := []struct {
		in   string
		want syscall.Signal
		err  string
	}{
		{"TERM", syscall.SIGTERM, ""},
		{"SIGTERM", syscall.SIGTERM, ""},
		{"sigkill", syscall.SIGKILL, ""},
		{"kill", syscall.SIGKILL, ""},
		{"9", syscall.SIGKILL, ""},
		{"0", 0, ""},
		{"64", 64, ""},
		{"RTMIN+1", 35, ""},
		{"SIGRTMAX-2", 62, ""},
		{"-1", 0, "invalid signal"},
		{"65", 0, "invalid signal"},
		{"FOO", 0, "unknown signal"},
		{"SIG", 0, "unknown signal"},
		{"", 0, "unknown signal"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSignal(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrInvalidSpec) {
					t.Fatalf("ParseSignal(%q) = %v, %v; want an ErrInvalidSpec saying %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseSignal(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

// TestExecSubCgroup: --cgroup as runc parses it: a lone path for every
// controller (cgroup v2's single one), controller:path for some, paths
// kept inside the container's cgroup, existing sub-cgroups only.
func TestExecSubCgroup(t *testing.T) {
	base := t.TempDir()
	st := &cgroups.State{Paths: map[string]string{}}
	for _, c := range []string{"cpu", "memory", "pids"} {
		st.Paths[c] = filepath.Join(base, c, "ctr")
		for _, sub := range []string{"a", "b"} {
			if err := os.MkdirAll(filepath.Join(st.Paths[c], sub), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	p := func(c, sub string) string { return filepath.Join(base, c, "ctr", sub) }
	tests := []struct {
		name string
		args []string
		want map[string]string
		err  string
	}{
		{"lone path", []string{"a"}, map[string]string{"cpu": p("cpu", "a"), "memory": p("memory", "a"), "pids": p("pids", "a")}, ""},
		{"per controller", []string{"cpu,memory:a", "pids:b"}, map[string]string{"cpu": p("cpu", "a"), "memory": p("memory", "a"), "pids": p("pids", "b")}, ""},
		{"some controllers", []string{"memory:b"}, map[string]string{"cpu": p("cpu", ""), "memory": p("memory", "b"), "pids": p("pids", "")}, ""},
		{"dot-dot stays inside", []string{"cpu:../../a"}, map[string]string{"cpu": p("cpu", "a"), "memory": p("memory", ""), "pids": p("pids", "")}, ""},
		{"missing", []string{"c"}, nil, "does not exist"},
		{"unknown controller", []string{"rdma:a"}, nil, "no \"rdma\" cgroup controller"},
		{"twice", []string{"cpu:a", "cpu:b"}, nil, "given twice"},
		{"lone path among several", []string{"a", "cpu:b"}, nil, "controller prefix is needed"},
		{"empty controller", []string{",cpu:a"}, nil, "empty controller"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := execSubCgroup(st, tc.args)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("execSubCgroup(%q) = %v, %v; want an error saying %q", tc.args, got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for c, want := range tc.want {
				if got.Paths[c] != filepath.Clean(want) {
					t.Errorf("%s: %s, want %s", c, got.Paths[c], filepath.Clean(want))
				}
			}
			if st.Paths["cpu"] != p("cpu", "") {
				t.Errorf("the container's own state changed: %v", st.Paths)
			}
		})
	}
}

// TestStateJSON: state and list print runc's field order, and the pid of a
// stopped container as 0 (runtime-spec's State omits it).
func TestStateJSON(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	tests := []struct {
		name string
		st   State
		want string
	}{
		{"stopped", State{State: specs.State{Version: "1.3.0", ID: "a", Status: specs.StateStopped, Bundle: "/b"}, Rootfs: "/b/rootfs", Created: created},
			`{"ociVersion":"1.3.0","id":"a","pid":0,"status":"stopped","bundle":"/b","rootfs":"/b/rootfs","created":"2026-01-02T03:04:05.000000006Z","owner":""}`},
		{"annotations", State{State: specs.State{Version: "1.3.0", ID: "a", Pid: 7, Status: specs.StateRunning, Bundle: "/b", Annotations: map[string]string{"k": "v"}}, Rootfs: "/r", Created: created, Owner: "root"},
			`{"ociVersion":"1.3.0","id":"a","pid":7,"status":"running","bundle":"/b","rootfs":"/r","created":"2026-01-02T03:04:05.000000006Z","annotations":{"k":"v"},"owner":"root"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := json.Marshal(tc.st)
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != tc.want {
				t.Errorf("got  %s\nwant %s", data, tc.want)
			}
			var back State
			if err := json.Unmarshal(data, &back); err != nil || back.ID != tc.st.ID || back.Pid != tc.st.Pid || back.Owner != tc.st.Owner {
				t.Errorf("round trip: %+v, %v", back, err)
			}
		})
	}
}

func TestRootlessCgroups(t *testing.T) {
	for _, tc := range []struct {
		mode string
		want bool
		err  bool
	}{{"true", true, false}, {"false", false, false}, {"maybe", false, true}} {
		got, err := RootlessCgroups(tc.mode)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("RootlessCgroups(%q) = %v, %v", tc.mode, got, err)
		}
	}
	for _, tc := range []struct {
		m    string
		want bool
	}{
		{"         0          0 4294967295\n", true},
		{"         0       1000          1\n", false},
		{"0 100000 65536\n", false},
		{"", false},
	} {
		if got := isHostUIDMap([]byte(tc.m)); got != tc.want {
			t.Errorf("isHostUIDMap(%q) = %v", tc.m, got)
		}
	}
}
