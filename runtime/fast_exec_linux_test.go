package runtime_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/runtime/nsenter"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// execProbe prints what a process sees of itself that exec decides: its
// ids, groups, capabilities, no_new_privs, seccomp, umask, limits,
// oom_score_adj, environment, working directory, namespaces, cgroups,
// the owner of its stdio and its keyrings.
const execProbe = `id; echo "home=$HOME"; env; pwd; umask; ulimit -n; cat /proc/self/oom_score_adj
grep -E '^(Uid|Gid|Groups|Cap[A-Za-z]+|NoNewPrivs|Seccomp|Seccomp_filters):' /proc/self/status
cat /proc/self/cgroup
for n in mnt pid net ipc uts cgroup user; do readlink /proc/self/ns/$n; done
stat -L -c '%u:%g' /proc/self/fd/0 /proc/self/fd/1 /proc/self/fd/2
sed 's/.* //' /proc/keys | sort`

// TestExecFast: `exec` in its common cases (runc's and podman's command
// lines, containerd's --process) runs in C before the Go runtime starts
// (runtime/nsenter/fastexec.c), and the process it starts sees exactly
// what the Go command's sees; every other case is the Go command's.
func TestExecFast(t *testing.T) {
	if !nsenter.Available {
		t.Skip("no cgo: no C exec")
	}
	e := newEnv(t)
	containers := []struct {
		name   string
		flags  []string // create's
		mutate func(*specs.Spec)
	}{
		{name: "default"},
		// Every namespace type: exec joins eight.
		{name: "seccomp userns", mutate: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace},
				specs.LinuxNamespace{Type: specs.TimeNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 300000, Size: 65536}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 300000, Size: 65536}}
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"sethostname"}, Action: specs.ActErrno}}}
		}},
		// Hooks do not concern exec (a seccomp listener does:
		// TestExecSeccompListener).
		{name: "hooks", mutate: func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststart: []specs.Hook{{Path: "/bin/true"}}, Poststop: []specs.Hook{{Path: "/bin/true"}}}
		}},
		{name: "no keyring", flags: []string{"--no-new-keyring"}, mutate: func(s *specs.Spec) {
			s.Process.Env = append(s.Process.Env, "HOME=/from/config", "X=1", "X=2")
			s.Process.Cwd = "/tmp"
		}},
	}
	dir := t.TempDir()
	writeProcess := func(name string, p specs.Process) string {
		t.Helper()
		data, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name+".json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	umask, oom := uint32(0o27), 500
	full := writeProcess("full", specs.Process{
		Args: []string{"sh", "-c", execProbe},
		Env:  []string{"A=1", "PATH=/bin:/sbin", "A=2", "B="},
		Cwd:  "/tmp",
		User: specs.User{UID: 1000, GID: 100, Umask: &umask, AdditionalGids: []uint32{10, 20}},
		Capabilities: &specs.LinuxCapabilities{
			Bounding: []string{"CAP_NET_RAW", "CAP_CHOWN"}, Effective: []string{"CAP_NET_RAW"},
			Permitted: []string{"CAP_NET_RAW", "CAP_CHOWN"}, Inheritable: []string{"CAP_NET_RAW"},
			Ambient: []string{"CAP_NET_RAW"},
		},
		Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200}},
		NoNewPrivileges: true,
		OOMScoreAdj:     &oom,
	})
	// An ambient capability that is not inheritable: the kernel cannot
	// raise it, the process warns (as runc) and goes on.
	ambient := writeProcess("ambient", specs.Process{
		Args: []string{"sh", "-c", "grep CapAmb /proc/self/status"}, Cwd: "/",
		Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_NET_RAW"}, Permitted: []string{"CAP_NET_RAW"},
			Ambient: []string{"CAP_NET_RAW"}},
	})
	unknownCap := writeProcess("unknown-cap", specs.Process{
		Args: []string{"true"}, Cwd: "/", Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_NOPE"}},
	})
	apparmor := writeProcess("apparmor", specs.Process{Args: []string{"true"}, Cwd: "/", ApparmorProfile: "unconfined"})
	terminal := writeProcess("terminal", specs.Process{Args: []string{"true"}, Cwd: "/", Terminal: true})
	// What a process sees of its terminal: its name, owner and mode, that
	// stdio is it, its size, and who runs.
	const ttyProbe = `tty; stat -c '%u:%g %a' "$(tty)"; test -t 0 && test -t 1 && test -t 2 && echo stdio-tty; stty size; id -u`
	sized := writeProcess("sized", specs.Process{Args: []string{"sh", "-c", ttyProbe}, Cwd: "/", Terminal: true,
		ConsoleSize: &specs.Box{Height: 12, Width: 34}, User: specs.User{UID: 1000, GID: 1000}})
	caseFold := filepath.Join(dir, "case.json")
	if err := os.WriteFile(caseFold, []byte(`{"Args":["true"],"cwd":"/"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "log")
	stamp := regexp.MustCompile(`time=\S+ |"time":"[^"]*",`)

	runs := []struct {
		name string
		args []string // after "exec"; ID stands for the container
		fast bool     // the C path is expected
		code int      // the exit status
		err  string   // in stderr
	}{
		{name: "probe", args: []string{"ID", "sh", "-c", execProbe}, fast: true},
		{name: "flags", args: []string{"--env", "HOME=", "-e", "A=1", "--env=PATH=/bin", "--cwd", "/tmp", "--user", "1000:1000", "ID", "sh", "-c", execProbe}, fast: true},
		{name: "user only", args: []string{"-u", "1000", "--", "ID", "sh", "-c", execProbe}, fast: true},
		{name: "process", args: []string{"--process", full, "ID"}, fast: true},
		{name: "process wins", args: []string{"-p", full, "--cwd", "/", "ID", "ignored"}, fast: true},
		{name: "exit status", args: []string{"ID", "sh", "-c", "exit 7"}, fast: true, code: 7},
		{name: "signal", args: []string{"ID", "sh", "-c", "kill -9 $$"}, fast: true, code: 137},
		{name: "no program", args: []string{"ID", "/nonexistent"}, fast: true, code: 255, err: "no such file or directory"},
		{name: "relative cwd", args: []string{"--cwd", "tmp", "ID", "true"}, code: 255, err: "must be an absolute path"},
		{name: "bad env", args: []string{"--env", "NOEQUALS", "ID", "true"}, code: 255, err: "want NAME=VALUE"},
		{name: "ambient warning", args: []string{"--process", ambient, "ID"}, fast: true, err: "ambient"},
		{name: "log", args: []string{"ID", "/nonexistent"}, fast: true, code: 255, err: "no such file or directory"},
		{name: "capability flag", args: []string{"--cap", "CAP_NET_ADMIN", "ID", "true"}},
		{name: "unknown capability", args: []string{"-p", unknownCap, "ID"}, err: "CAP_NOPE"},
		{name: "apparmor", args: []string{"-p", apparmor, "ID"}, code: 255, err: "apparmor"},
		{name: "terminal", args: []string{"-p", terminal, "ID"}, code: 255, err: "--console-socket"},
		{name: "member name case", args: []string{"-p", caseFold, "ID"}},
		{name: "tty flag", args: []string{"--tty=false", "ID", "true"}, fast: true},
		{name: "console socket without terminal", args: []string{"--console-socket", filepath.Join(dir, "none.sock"), "ID", "true"}, code: 255, err: "without a terminal"},
		{name: "terminal in the foreground", args: []string{"-t", "ID", "true"}},
		{name: "console socket missing", args: []string{"-t", "-d", "--console-socket", filepath.Join(dir, "none.sock"), "ID", "true"}, fast: true, code: 255, err: "console socket: dial unix"},
		// "@name" is the abstract namespace to Go's net package: Go's.
		{name: "abstract console socket", args: []string{"-t", "-d", "--console-socket", "@ocikit-test-none", "ID", "true"}, code: 255, err: "console socket: dial unix @ocikit-test-none"},
	}
	for _, c := range containers {
		t.Run(c.name, func(t *testing.T) {
			e := e.sub(t)
			id := e.id("xfast")
			e.must(append(append([]string{"run", "--detach"}, c.flags...), "--bundle", e.bundle([]string{"sleep", "1000"}, c.mutate), id)...)
			for _, r := range runs {
				t.Run(r.name, func(t *testing.T) {
					var got [2]traced
					var logs [2]string
					for i, env := range [][]string{nil, noFast} {
						args := []string{"exec"}
						if r.name == "log" {
							os.Remove(log)
							args = []string{"--log", log, "--log-format", "json", "exec"}
						}
						if r.name == "terminal" {
							args = append(args, "--detach")
						}
						for _, a := range r.args {
							args = append(args, strings.ReplaceAll(a, "ID", id))
						}
						got[i] = e.traced(env, args...)
						if code := exitCode(got[i].err); got[i].err != nil && code != r.code || got[i].err == nil && r.code != 0 {
							t.Errorf("exec (C path allowed: %v): exit %d, want %d; stderr %q", env == nil, code, r.code, got[i].stderr)
						}
						data, _ := os.ReadFile(log)
						logs[i] = stamp.ReplaceAllString(string(data), "")
					}
					if got[0].fast != r.fast || got[1].fast {
						t.Errorf("C path taken: %v (and %v with it turned off), want %v", got[0].fast, got[1].fast, r.fast)
					}
					if got[0].stdout != got[1].stdout {
						t.Errorf("stdout with the C path:\n%s\nwith Go:\n%s", got[0].stdout, got[1].stdout)
					}
					se := [2]string{stamp.ReplaceAllString(got[0].stderr, ""), stamp.ReplaceAllString(got[1].stderr, "")}
					if se[0] != se[1] || !strings.Contains(se[0], r.err) {
						t.Errorf("stderr with the C path %q, with Go %q; want the same, with %q", se[0], se[1], r.err)
					}
					if logs[0] != logs[1] {
						t.Errorf("--log with the C path %q, with Go %q", logs[0], logs[1])
					}
					if r.name == "probe" && !strings.Contains(got[0].stdout, "uid=0(root)") {
						t.Errorf("probe printed %q", got[0].stdout)
					}
				})
			}
			// A terminal goes to --console-socket (containerd's shim and
			// conmon: --detach), a pty of the container's devpts owned by
			// the process's user.
			t.Run("console socket", func(t *testing.T) {
				for _, cs := range []struct {
					name string
					args []string
					want string
				}{
					{"tty", []string{"-t", "ID", "sh", "-c", ttyProbe}, "/dev/pts/"},
					{"tty user", []string{"--tty", "-u", "1000", "ID", "sh", "-c", ttyProbe}, ":5 620"},
					{"process", []string{"-p", sized, "ID"}, "12 34"},
				} {
					t.Run(cs.name, func(t *testing.T) {
						var outs [2]string
						for i, env := range [][]string{nil, noFast} {
							sock := filepath.Join(t.TempDir(), "console.sock")
							got := recvConsole(t, sock)
							args := []string{"exec", "--detach", "--console-socket", sock}
							for _, a := range cs.args {
								args = append(args, strings.ReplaceAll(a, "ID", id))
							}
							r := e.traced(env, args...)
							if r.err != nil || r.fast != (env == nil) {
								t.Fatalf("exec (C path allowed: %v): %v, %q; C path taken: %v", env == nil, r.err, r.stderr, r.fast)
							}
							outs[i] = strings.ReplaceAll(<-got, "\r\n", "\n")
						}
						if outs[0] != outs[1] || !strings.Contains(outs[0], cs.want) || !strings.Contains(outs[0], "stdio-tty") {
							t.Errorf("terminal with the C path:\n%s\nwith Go:\n%s\nwant %q", outs[0], outs[1], cs.want)
						}
					})
				}
			})
			t.Run("stdin", func(t *testing.T) {
				in := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
				for _, env := range [][]string{nil, noFast} {
					cmd := e.command("exec", id, "sh", "-c", "wc -c; echo done >&2")
					cmd.Env = append(os.Environ(), env...)
					cmd.Stdin = strings.NewReader(in)
					out, stderr, err := e.capture(cmd)
					if err != nil || strings.TrimSpace(out) != strconv.Itoa(len(in)) || stderr != "done\n" {
						t.Errorf("exec wc -c of 1 MiB (C path allowed: %v): %v, %q, %q", env == nil, err, out, stderr)
					}
				}
			})
			t.Run("detach", func(t *testing.T) {
				pidFile := filepath.Join(t.TempDir(), "pid")
				r := e.traced(nil, "exec", "--detach", "--pid-file", pidFile, id, "sleep", "100")
				if r.err != nil || !r.fast {
					t.Fatalf("exec --detach: %v (%s), C path taken: %v", r.err, r.stderr, r.fast)
				}
				data, err := os.ReadFile(pidFile)
				if err != nil {
					t.Fatal(err)
				}
				pid, _ := strconv.Atoi(string(data))
				init := e.state(id).Pid
				for _, ns := range []string{"pid", "mnt", "net"} {
					a, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/" + ns)
					b, _ := os.Readlink("/proc/" + strconv.Itoa(init) + "/ns/" + ns)
					if a == "" || a != b {
						t.Errorf("the detached process's %s namespace %q, the init's %q", ns, a, b)
					}
				}
				if cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); string(cmdline) != "sleep\x00100\x00" {
					t.Errorf("pid file names %d, running %q", pid, cmdline)
				}
			})
			// The states exec refuses are Go's to report.
			e.must("pause", id)
			if r := e.traced(nil, "exec", id, "true"); r.fast || exitCode(r.err) != 255 || !strings.Contains(r.stderr, "paused") {
				t.Errorf("exec in a paused container: %v, %q, C path taken: %v", r.err, r.stderr, r.fast)
			}
			e.must("resume", id)
			init := e.state(id).Pid
			e.must("kill", id, "KILL")
			waitGone(t, init)
			if r := e.traced(nil, "exec", id, "true"); r.fast || exitCode(r.err) != 255 || !strings.Contains(r.stderr, "stopped") {
				t.Errorf("exec in a stopped container: %v, %q, C path taken: %v", r.err, r.stderr, r.fast)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		if r := e.traced(nil, "exec", "nope", "true"); r.fast || exitCode(r.err) != 255 || !strings.Contains(r.stderr, "does not exist") {
			t.Errorf("exec in a missing container: %v, %q, C path taken: %v", r.err, r.stderr, r.fast)
		}
	})
}
