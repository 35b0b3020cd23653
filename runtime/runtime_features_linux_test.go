package runtime_test

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestJoinNamespaces(t *testing.T) {
	e := newEnv(t)
	a := e.id("nsa")
	e.must("create", "--bundle", e.bundle([]string{"sleep", "1000"}, func(s *specs.Spec) { s.Hostname = "alpha" }), a)
	apid := e.state(a).Pid
	nsPath := func(typ string) string { return "/proc/" + strconv.Itoa(apid) + "/ns/" + typ }
	want := map[string]string{}
	for _, typ := range []string{"net", "ipc", "uts", "pid"} {
		l, err := os.Readlink(nsPath(typ))
		if err != nil {
			t.Fatal(err)
		}
		want[typ] = l
	}
	b := e.bundle([]string{"sh", "-c", "readlink /proc/self/ns/net; readlink /proc/self/ns/ipc; readlink /proc/self/ns/uts; hostname; echo $$; readlink /proc/1/exe >/dev/null 2>&1 && echo leak || echo hidden"},
		func(s *specs.Spec) {
			s.Hostname = ""
			setNS(s, specs.NetworkNamespace, nsPath("net"))
			setNS(s, specs.IPCNamespace, nsPath("ipc"))
			setNS(s, specs.UTSNamespace, nsPath("uts"))
			setNS(s, specs.PIDNamespace, nsPath("pid"))
		})
	out := e.must("run", "--bundle", b, e.id("nsb"))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 {
		t.Fatalf("output %q", out)
	}
	for i, typ := range []string{"net", "ipc", "uts"} {
		if lines[i] != want[typ] {
			t.Errorf("%s namespace %s, want %s (joined)", typ, lines[i], want[typ])
		}
	}
	if lines[3] != "alpha" {
		t.Errorf("hostname %q in the joined uts namespace, want alpha", lines[3])
	}
	if lines[4] == "1" {
		t.Errorf("pid 1 in a joined pid namespace whose init is another process")
	}
	// The waiting init of A (pid 1 there) is non-dumpable: its exe is not
	// reachable from B.
	if lines[5] != "hidden" {
		t.Errorf("/proc/1/exe of the waiting init is readable from a container sharing its pid namespace")
	}
	e.fails("join namespace /proc/self/ns/ipc", "run", "--bundle", e.bundle([]string{"true"}, func(s *specs.Spec) {
		setNS(s, specs.NetworkNamespace, "/proc/self/ns/ipc")
	}), e.id("nsbad"))
	e.fails("/nonexistent", "run", "--bundle", e.bundle([]string{"true"}, func(s *specs.Spec) {
		setNS(s, specs.NetworkNamespace, "/nonexistent")
	}), e.id("nsbad"))
	e.must("delete", "-f", a)
}

func TestHooks(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	log := filepath.Join(dir, "hooks.log")
	script := filepath.Join(dir, "hook.sh")
	realRootfs, err := filepath.EvalSymlinks(e.rootfs)
	if err != nil {
		t.Fatal(err)
	}
	// args: kind [fail]; appends "kind status pid" to the log.
	err = os.WriteFile(script, []byte(`#!/bin/sh
st=$(cat)
status=$(echo "$st" | sed 's/.*"status":"\([a-z]*\)".*/\1/')
echo "$1 $status" >> `+log+`
if [ "$1" = createContainer ]; then
	[ "$(pwd -P)" = "`+realRootfs+`" ] || { echo "hook $1 not run in the container's root: $(pwd)" >&2; exit 4; }
else
	[ -f config.json ] || { echo "hook $1 not run in the bundle: $(pwd)" >&2; exit 4; }
fi
[ "$2" = fail ] && { echo "hook $1 refuses" >&2; exit 3; }
exit 0
`), 0o755)
	if err != nil {
		t.Fatal(err)
	}
	hook := func(kind string, fail bool) specs.Hook {
		h := specs.Hook{Path: script, Args: []string{"hook.sh", kind}}
		if fail {
			h.Args = append(h.Args, "fail")
		}
		return h
	}
	all := func(failAt string) *specs.Hooks {
		return &specs.Hooks{
			Prestart:        []specs.Hook{hook("prestart", failAt == "prestart")},
			CreateRuntime:   []specs.Hook{hook("createRuntime", failAt == "createRuntime")},
			CreateContainer: []specs.Hook{hook("createContainer", failAt == "createContainer")},
			// In the container: the path resolves there, so a shell
			// writing through a bind mount of the log's directory.
			StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo startContainer created >> /hooks/hooks.log" + map[bool]string{true: "; exit 1"}[failAt == "startContainer"]}}},
			Poststart:      []specs.Hook{hook("poststart", failAt == "poststart")},
			// Two poststop hooks: a failing one must not stop the next
			// (runtime.md lifecycle step 12).
			Poststop: []specs.Hook{hook("poststop", failAt == "poststop"), hook("poststop2", false)},
		}
	}
	bind := specs.Mount{Destination: "/hooks", Type: "bind", Source: dir, Options: []string{"bind"}}
	tests := []struct {
		failAt string
		want   string
		errMsg string
	}{
		{"", "prestart creating,createRuntime creating,createContainer creating,startContainer created,poststart running,poststop stopped,poststop2 stopped", ""},
		{"poststop", "prestart creating,createRuntime creating,createContainer creating,startContainer created,poststart running,poststop stopped,poststop2 stopped", ""},
		{"createRuntime", "prestart creating,createRuntime creating,poststop stopped,poststop2 stopped", "createRuntime hook " + script + ": exit status 3: hook createRuntime refuses"},
		{"createContainer", "prestart creating,createRuntime creating,createContainer creating,poststop stopped,poststop2 stopped", "createContainer hook"},
		{"startContainer", "prestart creating,createRuntime creating,createContainer creating,startContainer created,poststop stopped,poststop2 stopped", "startContainer hook /bin/sh"},
		{"poststart", "prestart creating,createRuntime creating,createContainer creating,startContainer created,poststart running,poststop stopped,poststop2 stopped", "poststart hook"},
	}
	for _, tc := range tests {
		t.Run("fail="+tc.failAt, func(t *testing.T) {
			e := e.sub(t)
			os.Remove(log)
			id := e.id("hooks")
			b := e.bundle([]string{"true"}, func(s *specs.Spec) {
				s.Hooks = all(tc.failAt)
				s.Mounts = append(s.Mounts, bind)
			})
			_, stderr, err := e.run("run", "--bundle", b, id)
			if tc.errMsg == "" && err != nil {
				t.Fatalf("run: %v: %s", err, stderr)
			}
			if tc.errMsg != "" && (err == nil || !strings.Contains(stderr, tc.errMsg)) {
				t.Fatalf("run: err %v, stderr %q; want an error containing %q", err, stderr, tc.errMsg)
			}
			data, _ := os.ReadFile(log)
			got := strings.Join(strings.Split(strings.TrimSpace(string(data)), "\n"), ",")
			if got != tc.want {
				t.Errorf("hooks ran:\n%s\nwant:\n%s", got, tc.want)
			}
			e.fails("does not exist", "state", id)
			if cgroupExists(id) {
				t.Errorf("cgroup left behind")
			}
		})
	}
	t.Run("timeout", func(t *testing.T) {
		e := e.sub(t)
		one := 1
		b := e.bundle([]string{"true"}, func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sleep", Args: []string{"sleep", "100"}, Timeout: &one}}}
		})
		e.fails("timed out after 1s", "create", "--bundle", b, e.id("timeout"))
	})
}

func TestConsoleSocket(t *testing.T) {
	e := newEnv(t)
	sock := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	type result struct {
		name string
		out  string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		c, err := l.AcceptUnix()
		if err != nil {
			got <- result{err: err}
			return
		}
		defer c.Close()
		buf, oob := make([]byte, 256), make([]byte, unix.CmsgSpace(4))
		n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		if err != nil {
			got <- result{err: err}
			return
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			got <- result{err: errors.New("no control message")}
			return
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			got <- result{err: errors.New("no fd")}
			return
		}
		master := os.NewFile(uintptr(fds[0]), "master")
		defer master.Close()
		out, _ := io.ReadAll(master) // EIO once the program exits
		got <- result{name: string(buf[:n]), out: string(out)}
	}()
	id := e.id("tty")
	b := e.bundle([]string{"sh", "-c", "test -t 0 && test -t 1 && echo tty; stty size"}, func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.ConsoleSize = &specs.Box{Height: 33, Width: 77}
	})
	e.fails("--console-socket is required", "create", "--bundle", b, id)
	e.must("create", "--bundle", b, "--console-socket", sock, id)
	e.must("start", id)
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.name != "/dev/ptmx" {
		t.Errorf("console message %q, want /dev/ptmx (runc's)", r.name)
	}
	if want := "tty\r\n33 77\r\n"; r.out != want {
		t.Errorf("terminal output %q, want %q", r.out, want)
	}
	e.must("delete", "-f", id)
}

func TestFailureCleanup(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		args   []string
		mutate func(*specs.Spec)
		want   string
	}{
		{"bad binary", []string{"/bin/nope"}, nil, "exec: stat /bin/nope: no such file or directory"},
		{"not in path", []string{"nope"}, nil, `exec: "nope": executable file not found in $PATH`},
		{"bad mount", []string{"true"}, func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "nosuchfs", Source: "none"})
		}, "prepare rootfs: "},
		{"bad cwd", []string{"true"}, func(s *specs.Spec) { s.Process.Cwd = "/nonexistent" }, "cwd: chdir /nonexistent"},
		// config.md: cwd is REQUIRED and MUST be absolute; "bin" exists
		// under / and chdir(2) would take it.
		{"relative cwd", []string{"true"}, func(s *specs.Spec) { s.Process.Cwd = "bin" }, `process.cwd "bin" must be an absolute path`},
		{"no cwd", []string{"true"}, func(s *specs.Spec) { s.Process.Cwd = "" }, "process.cwd must not be empty"},
		{"hostname without uts", []string{"true"}, func(s *specs.Spec) { s.Hostname = "x"; dropNS(s, specs.UTSNamespace) }, "hostname needs a uts namespace"},
		{"duplicate namespace", []string{"true"}, func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace})
		}, "pid namespace listed twice"},
		{"bad version", []string{"true"}, func(s *specs.Spec) { s.Version = "invalid" }, `ociVersion "invalid"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := e.sub(t)
			id := e.id("fail")
			b := e.bundle(tc.args, tc.mutate)
			e.fails(tc.want, "create", "--bundle", b, id)
			if _, err := os.Stat(filepath.Join(e.root, id)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("state directory left behind")
			}
			if cgroupExists(id) {
				t.Errorf("cgroup left behind")
			}
			if out := e.must("list", "-q"); strings.TrimSpace(out) != "" {
				t.Errorf("list after failed create: %q", out)
			}
		})
	}
}

// TestDeleteForceHalfCreated kills `create` while a createRuntime hook
// runs: the container stays "creating" with its init's pid recorded, and
// delete --force removes it all.
func TestDeleteForceHalfCreated(t *testing.T) {
	e := newEnv(t)
	id := e.id("half")
	b := e.bundle([]string{"true"}, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "kill -9 $PPID"}}}}
	})
	if _, _, err := e.run("create", "--bundle", b, id); err == nil {
		t.Fatal("create survived its own SIGKILL")
	}
	// The container is recorded: "creating" while its init lives, or
	// "stopped" once the init noticed its runtime was gone and exited.
	if st := e.state(id); st.Status != specs.StateCreating && st.Status != specs.StateStopped {
		t.Fatalf("half-created container: %+v", st)
	}
	e.must("delete", "--force", id)
	e.fails("does not exist", "state", id)
	if cgroupExists(id) {
		t.Errorf("cgroup left behind")
	}
}

// TestBinaryProtection checks the CVE-2019-5736 defences: a process
// sharing the pid namespace of a waiting init cannot reach its exe, the
// exe is a read-only mount even for the host's root, and a container whose
// program is /proc/self/exe cannot write it.
func TestBinaryProtection(t *testing.T) {
	e := newEnv(t)
	sum := func() [32]byte {
		data, err := os.ReadFile(e.bin)
		if err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(data)
	}
	before := sum()
	a := e.id("victim")
	e.must("create", "--bundle", e.bundle([]string{"true"}, nil), a)
	apid := e.state(a).Pid
	// The attack of CVE-2019-5736: hold the init's exe by an O_PATH
	// descriptor, let the init exec, then reopen the descriptor for
	// writing. The read-only mount refuses it even to the host's root.
	fd, err := unix.Open("/proc/"+strconv.Itoa(apid)+"/exe", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	b := e.id("attacker")
	attack := `for p in /proc/[0-9]*; do echo x > $p/exe 2>/dev/null && echo WROTE $p; done; echo x > /proc/self/exe 2>/dev/null && echo WROTE self; echo done`
	out := e.must("run", "--bundle", e.bundle([]string{"sh", "-c", attack}, func(s *specs.Spec) {
		setNS(s, specs.PIDNamespace, "/proc/"+strconv.Itoa(apid)+"/ns/pid")
	}), b)
	if strings.Contains(out, "WROTE") || !strings.Contains(out, "done") {
		t.Errorf("attack output %q", out)
	}
	e.must("start", a)
	waitGone(t, apid)
	w, err := unix.Open("/proc/self/fd/"+strconv.Itoa(fd), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		unix.Close(w)
		t.Fatal("reopened the init's exe for writing")
	}
	switch err {
	case unix.EROFS:
	case unix.ETXTBSY:
		// The kernel checks "being executed" before the read-only
		// mount: another test's init may be running the same protected
		// file right now. The file must still be on a read-only mount.
		var st unix.Statfs_t
		if err := unix.Fstatfs(fd, &st); err != nil {
			t.Fatal(err)
		}
		if st.Flags&unix.ST_RDONLY == 0 {
			t.Errorf("reopen init exe for write: ETXTBSY, and its mount is not read-only (flags %#x)", st.Flags)
		}
	default:
		t.Errorf("reopen init exe for write: %v, want EROFS", err)
	}
	// The program /proc/self/exe is ocikit's binary seen through the
	// read-only mount: a dynamically linked build cannot run there (no
	// libc in the rootfs), the static one `make build` writes runs with
	// the container's credentials, as runc's static binary does; neither
	// can be written.
	_, stderr, err := e.run("run", "--bundle", e.bundle([]string{"/proc/self/exe", "x"}, nil), e.id("selfexe"))
	if err == nil || !strings.Contains(stderr, "exec /proc/self/exe") && !strings.Contains(stderr, `unknown command "x"`) {
		t.Errorf("run of /proc/self/exe: %v: %s", err, stderr)
	}
	e.must("delete", a)
	if sum() != before {
		t.Fatal("the ocikit binary changed")
	}
}

func TestStateJSON(t *testing.T) {
	e := newEnv(t)
	id := e.id("json")
	b := e.bundle([]string{"true"}, func(s *specs.Spec) { s.Annotations = map[string]string{"k": "v"} })
	e.must("create", "--bundle", b, id)
	var m map[string]any
	if err := json.Unmarshal([]byte(e.must("state", id)), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ociVersion", "id", "status", "pid", "bundle", "rootfs", "created", "owner", "annotations"} {
		if _, ok := m[k]; !ok {
			t.Errorf("state lacks %q: %v", k, m)
		}
	}
	e.must("delete", "-f", id)
}

// TestSeccompListener checks that a notify descriptor reaches the agent
// at listenerPath with the container process state, both when the filter
// is loaded at create (no noNewPrivileges) and at start.
func TestSeccompListener(t *testing.T) {
	e := newEnv(t)
	for _, nnp := range []bool{false, true} {
		t.Run("noNewPrivileges="+strconv.FormatBool(nnp), func(t *testing.T) {
			e := e.sub(t)
			sock := filepath.Join(t.TempDir(), "agent.sock")
			l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			type got struct {
				st  specs.ContainerProcessState
				fds int
				err error
			}
			ch := make(chan got, 1)
			go func() {
				c, err := l.AcceptUnix()
				if err != nil {
					ch <- got{err: err}
					return
				}
				defer c.Close()
				buf, oob := make([]byte, 8192), make([]byte, unix.CmsgSpace(4))
				n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
				if err != nil {
					ch <- got{err: err}
					return
				}
				var g got
				g.err = json.Unmarshal(buf[:n], &g.st)
				if cms, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && len(cms) == 1 {
					if fds, err := unix.ParseUnixRights(&cms[0]); err == nil {
						g.fds = len(fds)
						for _, fd := range fds {
							unix.Close(fd)
						}
					}
				}
				ch <- g
			}()
			id := e.id("notify")
			b := e.bundle([]string{"true"}, func(s *specs.Spec) {
				s.Process.NoNewPrivileges = nnp
				s.Linux.Seccomp = &specs.LinuxSeccomp{
					DefaultAction:    specs.ActAllow,
					ListenerPath:     sock,
					ListenerMetadata: "meta",
					Syscalls:         []specs.LinuxSyscall{{Names: []string{"acct"}, Action: specs.ActNotify}},
				}
			})
			e.must("run", "--bundle", b, id)
			g := <-ch
			if g.err != nil {
				t.Fatal(g.err)
			}
			if g.fds != 1 || g.st.State.ID != id || g.st.Metadata != "meta" || len(g.st.Fds) != 1 || g.st.Fds[0] != specs.SeccompFdName || g.st.Pid <= 0 {
				t.Errorf("agent got %d fds and %+v", g.fds, g.st)
			}
		})
	}
}

// TestNoProcess: runtime.md lets create succeed without process; start
// MUST then fail.
func TestNoProcess(t *testing.T) {
	e := newEnv(t)
	id := e.id("noproc")
	e.must("create", "--bundle", e.bundle(nil, func(s *specs.Spec) { s.Process = nil }), id)
	pid := e.state(id).Pid
	e.fails("process is not set", "start", id)
	waitGone(t, pid)
	if st := e.state(id); st.Status != specs.StateStopped {
		t.Errorf("status %s after the failed start", st.Status)
	}
	e.must("delete", id)
}

// TestUnknownCapabilityWarns: an unknown capability name is logged as a
// warning and the container runs (config.md "Linux Process": runtimes
// SHOULD NOT fail for a capability they cannot map, and MUST log it).
func TestUnknownCapabilityWarns(t *testing.T) {
	e := newEnv(t)
	b := e.bundle([]string{"true"}, func(s *specs.Spec) {
		s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_NO_SUCH_THING")
	})
	_, stderr, err := e.run("run", "--bundle", b, e.id("unknown-cap"))
	if err != nil {
		t.Fatalf("run: %v: %s", err, stderr)
	}
	if !strings.Contains(stderr, "CAP_NO_SUCH_THING") {
		t.Errorf("stderr %q does not warn about CAP_NO_SUCH_THING", stderr)
	}
}
