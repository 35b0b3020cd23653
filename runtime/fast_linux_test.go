package runtime_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/runtime"
	"github.com/ocikit/ocikit/runtime/nsenter"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// traced is one run of ocikit with args (on e's root, env added to the
// environment): its stdout, its stderr as the command wrote it, whether
// the C path of runtime/nsenter/fast.c did it, and its error. The run has
// GODEBUG=inittrace=1, with which the Go runtime prints a line per package
// initialised to stderr; the C path exits before it starts, and those
// lines are taken out of the stderr returned.
type traced struct {
	stdout, stderr string
	fast           bool
	err            error
}

var initTrace = regexp.MustCompile(`(?m)^init [^\n]*\n`)

func (e *env) traced(env []string, args ...string) traced {
	e.t.Helper()
	cmd := e.command(args...)
	cmd.Env = append(append(os.Environ(), "GODEBUG=inittrace=1"), env...)
	out, stderr, err := e.capture(cmd)
	return traced{
		stdout: out,
		stderr: strings.TrimSpace(initTrace.ReplaceAllString(stderr, "")),
		fast:   !strings.Contains(stderr, "init internal/"),
		err:    err,
	}
}

// noFast turns the C path off.
var noFast = []string{"_OCIKIT_NOFAST=1"}

// TestStartFast: `start` in its common case runs in C before the Go
// runtime starts and does what the Go command does (state, errors, the
// --log record); every other case is left to Go.
func TestStartFast(t *testing.T) {
	if !nsenter.Available {
		t.Skip("no cgo: no C start")
	}
	e := newEnv(t)
	ok := e.bundle([]string{"sleep", "30"}, func(s *specs.Spec) {
		// Annotations that look like the state's own fields.
		s.Annotations = map[string]string{"status": "created", `"pid":1,`: `{"hooks":true}`}
	})
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	if err := os.CopyFS(rootfs, os.DirFS(e.rootfs)); err != nil {
		t.Fatal(err)
	}
	// A script whose interpreter does not exist: create resolves it, the
	// init's execve at start fails.
	if err := os.WriteFile(filepath.Join(rootfs, "bin", "bad"), []byte("#!/nonexistent\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	bad := e.bundle([]string{"/bin/bad"}, func(s *specs.Spec) { s.Root.Path = rootfs })
	// The same with a name that the log handlers escape.
	odd := "/bin/b\"a\\d\u2028\x7f\t<&>é"
	if err := os.WriteFile(filepath.Join(rootfs, odd), []byte("#!/nonexistent\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	oddBundle := e.bundle([]string{odd}, func(s *specs.Spec) { s.Root.Path = rootfs })
	mark := filepath.Join(t.TempDir(), "poststart")
	hooked := e.bundle([]string{"sleep", "30"}, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{Poststart: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > " + mark}}}}
	})
	log := filepath.Join(t.TempDir(), "log")

	tests := []struct {
		name   string
		bundle string
		flags  []string // global flags before `start`, after --root
		noFast bool     // _OCIKIT_NOFAST
		fast   bool     // the C path is expected
		err    string   // expected in stderr (and exit status 1)
		logged string   // expected in the --log file
	}{
		{name: "plain", bundle: ok, fast: true},
		{name: "caller flags", bundle: ok, flags: []string{"--log", log, "--log-format=json", "--systemd-cgroup", "--rootless", "auto", "--criu=criu"}, fast: true},
		{name: "disabled", bundle: ok, noFast: true},
		{name: "debug", bundle: ok, flags: []string{"--debug"}},
		{name: "unknown flag", bundle: ok, flags: []string{"--no-such-flag"}, err: "unknown flag"},
		{name: "bad rootless", bundle: ok, flags: []string{"--rootless=maybe"}, err: "--rootless"},
		{name: "poststart hook", bundle: hooked},
		{name: "exec fails", bundle: bad, fast: true, err: "exec /bin/bad: no such file or directory"},
		{name: "exec fails json", bundle: bad, flags: []string{"--log", log, "--log-format", "json"}, fast: true,
			err: "exec /bin/bad: no such file or directory", logged: `"level":"error","msg":"start ID: exec /bin/bad: no such file or directory"}`},
		{name: "exec fails text", bundle: bad, flags: []string{"--log=" + log}, fast: true,
			err: "exec /bin/bad: no such file or directory", logged: `level=error msg="start ID: exec /bin/bad: no such file or directory"`},
		{name: "exec fails go", bundle: bad, flags: []string{"--log", log, "--log-format", "json"}, noFast: true,
			err: "exec /bin/bad: no such file or directory", logged: `"level":"error","msg":"start ID: exec /bin/bad: no such file or directory"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := e.sub(t)
			os.Remove(log)
			id := e.id("fast")
			e.must("create", "--bundle", tc.bundle, id)
			pid := e.state(id).Pid
			var env []string
			if tc.noFast {
				env = noFast
			}
			r := e.traced(env, append(tc.flags, "start", id)...)
			if r.fast != tc.fast {
				t.Errorf("C path taken: %v, want %v", r.fast, tc.fast)
			}
			msg, err := r.stderr, r.err
			if tc.err != "" {
				if err == nil || !strings.Contains(msg, tc.err) || strings.Contains(msg, "\n") {
					t.Fatalf("start: %v, stderr %q; want one line with %q", err, msg, tc.err)
				}
				if tc.fast && msg != "ocikit: start "+id+": "+tc.err {
					t.Errorf("stderr %q, want the Go command's %q", msg, "ocikit: start "+id+": "+tc.err)
				}
				if tc.logged != "" {
					data, _ := os.ReadFile(log)
					want := strings.ReplaceAll(tc.logged, "ID", id)
					if !strings.Contains(string(data), want) || strings.Count(string(data), "\n") != 1 {
						t.Errorf("log %q, want one record with %q", data, want)
					}
				}
				// A refused command line leaves the container created;
				// a failed execve, stopped once the init, which has sent
				// its error, has exited (start does not wait for that,
				// in either path).
				want := specs.StateStopped
				if tc.bundle == ok {
					want = specs.StateCreated
				} else {
					waitGone(t, pid)
				}
				if st := e.state(id); st.Status != want {
					t.Errorf("status after a failed start %q, want %q", st.Status, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("start: %v: %s", err, msg)
			}
			if msg != "" {
				t.Errorf("start wrote %q", msg)
			}
			if st := e.state(id); st.Status != specs.StateRunning {
				t.Errorf("status %q, want running", st.Status)
			}
			if tc.bundle == hooked {
				if _, err := os.Stat(mark); err != nil {
					t.Errorf("poststart hook did not run: %v", err)
				}
			}
			if len(tc.flags) > 0 && tc.flags[0] == "--log" {
				if _, err := os.Stat(log); err != nil {
					t.Errorf("--log file not created: %v", err)
				}
			}
			// A second start is the Go command's error.
			if r := e.traced(nil, "start", id); r.err == nil || r.fast || !strings.Contains(r.stderr, "is running, not created") {
				t.Errorf("second start: %v, %q; want Go's error", r.err, r.stderr)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		e.sub(t).fails(`container "nope" does not exist`, "start", "nope")
	})
	// An error the log handlers must escape: the C path writes what the
	// Go command writes, but for the time.
	stamp := regexp.MustCompile(`time=\S+ |"time":"[^"]*",`)
	for _, format := range []string{"text", "json"} {
		t.Run("escaped "+format, func(t *testing.T) {
			e := e.sub(t)
			var logs, stderrs []string
			for _, env := range [][]string{nil, noFast} {
				os.Remove(log)
				id := "escape-" + format
				e.must("create", "--bundle", oddBundle, id)
				r := e.traced(env, "--log", log, "--log-format", format, "start", id)
				if r.err == nil || r.fast != (env == nil) {
					t.Fatalf("start: %v, C path taken %v", r.err, r.fast)
				}
				data, _ := os.ReadFile(log)
				logs = append(logs, stamp.ReplaceAllString(string(data), ""))
				stderrs = append(stderrs, r.stderr)
				e.must("delete", "--force", id)
			}
			if logs[0] != logs[1] || stderrs[0] != stderrs[1] {
				t.Errorf("C path wrote\n%q, %q\nGo wrote\n%q, %q", logs[0], stderrs[0], logs[1], stderrs[1])
			}
		})
	}
}

// TestDeleteFast: `delete` of a container whose init is gone runs in C
// before the Go runtime starts and removes what the Go command removes
// (cgroup, state directory); a live init, hooks, a bundle to remove or
// processes left in the cgroup are left to Go.
func TestDeleteFast(t *testing.T) {
	if !nsenter.Available {
		t.Skip("no cgo: no C delete")
	}
	e := newEnv(t)
	mark := filepath.Join(t.TempDir(), "poststop")
	tests := []struct {
		name   string
		args   []string // the init's program
		mutate func(*specs.Spec)
		flags  []string // delete's flags
		fast   bool
	}{
		{name: "exited", args: []string{"true"}, fast: true},
		{name: "exited force", args: []string{"true"}, flags: []string{"--force"}, fast: true},
		{name: "exited rm -f after id", args: []string{"true"}, flags: []string{"ID", "-f"}, fast: true},
		{name: "running force", args: []string{"sleep", "30"}, flags: []string{"-f"}},
		{name: "poststop hook", args: []string{"true"}, mutate: func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > " + mark}}}}
		}},
		{name: "remove bundle", args: []string{"true"}, mutate: func(s *specs.Spec) {
			s.Annotations = map[string]string{runtime.AnnotationRemoveBundle: "true"}
		}},
		{name: "process left in cgroup", args: []string{"sh", "-c", "sleep 30 & exit 0"}, mutate: func(s *specs.Spec) {
			// Without a pid namespace of its own the init's children
			// outlive it.
			dropNS(s, specs.PIDNamespace)
		}, flags: []string{"-f"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := e.sub(t)
			os.Remove(mark)
			id := e.id("del")
			bundle := e.bundle(tc.args, tc.mutate)
			e.must("create", "--bundle", bundle, id)
			pid := e.state(id).Pid
			e.must("start", id)
			if tc.args[0] != "sleep" {
				waitGone(t, pid)
			}
			args := []string{"delete"}
			if len(tc.flags) > 0 && tc.flags[0] == "ID" {
				args = append(args, id)
				args = append(args, tc.flags[1:]...)
			} else {
				args = append(append(args, tc.flags...), id)
			}
			r := e.traced(nil, args...)
			if r.err != nil {
				t.Fatalf("delete: %v: %s", r.err, r.stderr)
			}
			if r.fast != tc.fast {
				t.Errorf("C path taken: %v, want %v", r.fast, tc.fast)
			}
			if r.stderr != "" {
				t.Errorf("delete wrote %q", r.stderr)
			}
			if _, err := os.Stat(filepath.Join(e.root, id)); !os.IsNotExist(err) {
				t.Errorf("state directory left: %v", err)
			}
			if cgroupExists(id) {
				t.Errorf("cgroup left")
			}
			if tc.mutate != nil && strings.Contains(tc.name, "hook") {
				if _, err := os.Stat(mark); err != nil {
					t.Errorf("poststop hook did not run: %v", err)
				}
			}
			if tc.mutate != nil && strings.Contains(tc.name, "bundle") {
				if _, err := os.Stat(bundle); !os.IsNotExist(err) {
					t.Errorf("bundle left: %v", err)
				}
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		e := e.sub(t)
		e.fails(`container "nope" does not exist`, "delete", "nope")
		e.must("delete", "--force", "nope")
	})
}

// TestKillFast: `kill ID [SIGNAL]` of a created or running container runs
// in C before the Go runtime starts; --all, other signal names, paused or
// stopped containers are Go's, with Go's errors.
func TestKillFast(t *testing.T) {
	if !nsenter.Available {
		t.Skip("no cgo: no C kill")
	}
	e := newEnv(t)
	bundle := e.bundle([]string{"sleep", "30"}, nil)
	id := e.id("kill")
	e.must("create", "--bundle", bundle, id)
	pid := e.state(id).Pid
	steps := []struct {
		name   string
		args   []string // after "kill"; ID stands for the container
		fast   bool
		err    string
		status specs.ContainerState // after the step
	}{
		{"probe created", []string{"ID", "0"}, true, "", specs.StateCreated},
		{"start", nil, false, "", specs.StateRunning},
		{"probe running", []string{"ID", "0"}, true, "", specs.StateRunning},
		{"ignored TERM", []string{"ID"}, true, "", specs.StateRunning},
		{"number", []string{"ID", "10"}, true, "", specs.StateRunning},
		{"real-time name", []string{"ID", "RTMIN+1"}, false, "", specs.StateRunning},
		{"unknown name", []string{"ID", "NOPE"}, false, `unknown signal "NOPE"`, specs.StateRunning},
		{"all", []string{"--all", "ID", "0"}, false, "", specs.StateRunning},
		{"sigkill", []string{"ID", "sigkill"}, true, "", specs.StateStopped},
		{"stopped", []string{"ID", "KILL"}, false, "container not running", specs.StateStopped},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			e := e.sub(t)
			if st.args == nil {
				e.must("start", id)
				return
			}
			args := []string{"kill"}
			for _, a := range st.args {
				args = append(args, strings.ReplaceAll(a, "ID", id))
			}
			r := e.traced(nil, args...)
			msg, err := r.stderr, r.err
			if r.fast != st.fast {
				t.Errorf("C path taken: %v, want %v", r.fast, st.fast)
			}
			if st.err == "" && err != nil {
				t.Fatalf("kill: %v: %s", err, msg)
			}
			if st.err != "" && (err == nil || !strings.Contains(msg, st.err)) {
				t.Fatalf("kill: %v, %q; want an error with %q", err, msg, st.err)
			}
			if st.status == specs.StateStopped {
				waitGone(t, pid)
			}
			if got := e.state(id).Status; got != st.status {
				t.Errorf("status %q, want %q", got, st.status)
			}
		})
	}
}

// TestStateFast: `state` runs in C before the Go runtime starts and prints
// byte for byte what the Go command prints, in every status, annotations
// that encoding/json escapes included.
func TestStateFast(t *testing.T) {
	if !nsenter.Available {
		t.Skip("no cgo: no C state")
	}
	e := newEnv(t)
	bundle := e.bundle([]string{"sleep", "30"}, func(s *specs.Spec) {
		s.Annotations = map[string]string{"a<b>&c": "line\u2028sep", "quote": `"q" \ é`, "empty": ""}
	})
	id := e.id("state")
	e.must("create", "--bundle", bundle, id)
	compare := func(t *testing.T, want specs.ContainerState) {
		t.Helper()
		fast := e.traced(nil, "state", id)
		if fast.err != nil || !fast.fast {
			t.Fatalf("state: %v, C path taken: %v", fast.err, fast.fast)
		}
		slow := e.traced(noFast, "state", id)
		if slow.err != nil || slow.fast {
			t.Fatalf("state without the C path: %v, C path taken: %v", slow.err, slow.fast)
		}
		if fast.stdout != slow.stdout {
			t.Errorf("C state:\n%s\nGo state:\n%s", fast.stdout, slow.stdout)
		}
		if st := e.state(id); st.Status != want {
			t.Errorf("status %q, want %q", st.Status, want)
		}
	}
	compare(t, specs.StateCreated)
	pid := e.state(id).Pid
	e.must("start", id)
	compare(t, specs.StateRunning)
	e.must("pause", id)
	compare(t, "paused")
	e.must("resume", id)
	e.must("kill", id, "KILL")
	waitGone(t, pid)
	compare(t, specs.StateStopped)
	e.fails(`container "nope" does not exist`, "state", "nope")
}

// TestPrimeCgroup: on cgroup v1 `run` and `create` start, from the
// constructor, a no-op move of the runtime into its own cgroup (fast.c
// primeself), so that the RCU grace period the init's move into the
// container's cgroup waits for after a quiet period has begun by then;
// no other command does, nor one run with _OCIKIT_NOFAST.
func TestPrimeCgroup(t *testing.T) {
	if !nsenter.Available {
		t.Skip("no cgo: no constructor")
	}
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil || st.Type == unix.CGROUP2_SUPER_MAGIC {
		t.Skip("cgroup v2: the init is born in its cgroup, nothing to prime")
	}
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("no strace (make deps installs it)")
	}
	e := newEnv(t)
	bundle := e.bundle([]string{"true"}, nil)
	for _, tt := range []struct {
		name string
		env  []string
		args []string
		want bool
	}{
		{"run", nil, []string{"run", "--bundle", bundle, e.id("prime")}, true},
		{"off", noFast, []string{"run", "--bundle", bundle, e.id("prime-off")}, false},
		{"list", nil, []string{"list"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := e.straced(t, strace, tt.env, []string{"-e", "trace=write", "-e", "signal=none", "-y"}, tt.args...)
			// "TID write(FD</sys/fs/cgroup/.../cgroup.procs>, "PID", N)": a
			// write into a cgroup other than the container's (whose
			// path names its id) is the runtime's move into its own.
			id := tt.args[len(tt.args)-1]
			primed := false
			for _, l := range strings.Split(string(data), "\n") {
				if path, _, ok := strings.Cut(l, "/cgroup.procs>"); ok && !strings.Contains(path, id) {
					primed = true
				}
			}
			if primed != tt.want {
				t.Errorf("the runtime moved itself into its cgroup: %v, want %v:\n%s", primed, tt.want, data)
			}
		})
	}
}

// straced runs ocikit with args on e's root (env added to the
// environment) under strace -f with the options opts and returns the
// trace.
func (e *env) straced(t *testing.T, strace string, env, opts []string, args ...string) []byte {
	t.Helper()
	trace := filepath.Join(t.TempDir(), "trace")
	cmd := exec.Command(strace, append(append(append([]string{"-f", "-qq", "-o", trace}, opts...),
		e.bin, "--root", e.root), args...)...)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v: %s", args, err, out)
	}
	data, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
