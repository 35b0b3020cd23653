package runtime_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// running creates and starts a container running sleep with mutate
// applied to its configuration, and returns its id and init pid.
func (e *env) running(name string, mutate func(*specs.Spec)) (string, int) {
	e.t.Helper()
	id := e.id(name)
	e.must("run", "--detach", "--bundle", e.bundle([]string{"sleep", "1000"}, mutate), id)
	return id, e.state(id).Pid
}

// exitCode is the exit status of a failed ocikit run (-1: not an exit).
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

func TestExecNamespaces(t *testing.T) {
	e := newEnv(t)
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "marker"), []byte("inside"), 0o644); err != nil {
		t.Fatal(err)
	}
	id, initPid := e.running("ns", func(s *specs.Spec) {
		s.Hostname = "exec-host"
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: data, Options: []string{"bind", "ro"}})
	})
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"uts", []string{"hostname"}, "exec-host\n"},
		{"pid", []string{"cat", "/proc/1/cmdline"}, "sleep\x001000\x00"},
		// /proc/self resolves only for a process of the procfs's pid namespace.
		{"pid-self", []string{"sh", "-c", "readlink /proc/self"}, ""},
		{"mount", []string{"cat", "/data/marker"}, "inside"},
		{"root", []string{"ls", "/bin/busybox"}, "/bin/busybox\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := e.sub(t)
			out := e.must(append([]string{"exec", id}, tc.args...)...)
			if tc.want == "" {
				if n, err := strconv.Atoi(strings.TrimSpace(out)); err != nil || n <= 1 {
					t.Errorf("exec %v = %q, want a pid of the container", tc.args, out)
				}
				return
			}
			if out != tc.want {
				t.Errorf("exec %v = %q, want %q", tc.args, out, tc.want)
			}
		})
	}
	// Every namespace is the init's, the cgroup too.
	pidFile := filepath.Join(t.TempDir(), "pid")
	e.must("exec", "--detach", "--pid-file", pidFile, id, "sleep", "1000")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSpace(string(b))
	for _, ns := range []string{"mnt", "pid", "uts", "ipc", "net", "cgroup"} {
		want, err1 := os.Readlink("/proc/" + strconv.Itoa(initPid) + "/ns/" + ns)
		got, err2 := os.Readlink("/proc/" + pid + "/ns/" + ns)
		if err1 != nil || err2 != nil || got != want {
			t.Errorf("%s namespace of the exec'd process %q (%v), init's %q (%v)", ns, got, err2, want, err1)
		}
	}
	want, _ := os.ReadFile("/proc/" + strconv.Itoa(initPid) + "/cgroup")
	got, err := os.ReadFile("/proc/" + pid + "/cgroup")
	if err != nil || string(got) != string(want) {
		t.Errorf("cgroups of the exec'd process:\n%s\ninit's:\n%s", got, want)
	}
	// --detach returned with the process running its program.
	if exe, err := os.Readlink("/proc/" + pid + "/exe"); err != nil || !strings.HasSuffix(exe, "/busybox") {
		t.Errorf("detached process runs %q (%v), want busybox", exe, err)
	}
}

func TestExecStatus(t *testing.T) {
	e := newEnv(t)
	id, _ := e.running("status", nil)
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"zero", []string{"true"}, 0},
		{"seven", []string{"sh", "-c", "exit 7"}, 7},
		{"signal", []string{"sh", "-c", "kill -9 $$"}, 128 + 9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := e.sub(t)
			_, stderr, err := e.run(append([]string{"exec", id}, tc.args...)...)
			code := 0
			if err != nil {
				code = exitCode(err)
			}
			if code != tc.code {
				t.Errorf("exec %v: exit %d (%v, %q), want %d", tc.args, code, err, stderr, tc.code)
			}
		})
	}
}

func TestExecOverrides(t *testing.T) {
	e := newEnv(t)
	id, _ := e.running("over", func(s *specs.Spec) {
		s.Process.Env = append(s.Process.Env, "KEEP=1", "FOO=config")
		s.Process.Cwd = "/bin"
	})
	procFile := filepath.Join(t.TempDir(), "process.json")
	p := specs.Process{
		Args: []string{"sh", "-c", `echo "$X $KEEP"; id -u; pwd`},
		Env:  []string{"PATH=/bin", "X=fromfile"},
		Cwd:  "/proc",
		User: specs.User{UID: 2, GID: 3},
	}
	data, _ := json.Marshal(p)
	if err := os.WriteFile(procFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"config", []string{"sh", "-c", `echo "$FOO $KEEP"; pwd; id -u`}, "config 1\n/bin\n0\n"},
		{"env-cwd", []string{"-e", "FOO=flag", "-e", "NEW=n", "--cwd", "/tmp", "sh", "-c", `echo "$FOO $KEEP $NEW"; pwd`}, "flag 1 n\n/tmp\n"},
		{"user", []string{"-u", "1000:1001", "-g", "7", "-g", "8", "sh", "-c", "id -u; id -g; id -G"}, "1000\n1001\n1001 7 8\n"},
		{"uid-only", []string{"--user", "1000", "sh", "-c", "id -u; id -g"}, "1000\n0\n"},
		// The whole process from the file: the configured KEEP is gone.
		{"process-file", []string{"--process", procFile}, "fromfile \n2\n/proc\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := e.sub(t)
			// Flags (each with a value) before the id, the command after.
			i := 0
			for i < len(tc.args) && strings.HasPrefix(tc.args[i], "-") {
				i += 2
			}
			args := append(append(append([]string{"exec"}, tc.args[:i]...), id), tc.args[i:]...)
			if out := e.must(args...); out != tc.want {
				t.Errorf("ocikit %v = %q, want %q", args, out, tc.want)
			}
		})
	}
	e.fails("--user \"x\": want uid[:gid]", "exec", "-u", "x", id, "true")
	e.fails("--env \"NOEQUALS\": want NAME=VALUE", "exec", "-e", "NOEQUALS", id, "true")
	e.fails("a command is required", "exec", id)
	e.fails("executable file not found", "exec", id, "no-such-program")
}

func TestExecWrongState(t *testing.T) {
	e := newEnv(t)
	e.fails("does not exist", "exec", e.id("missing"), "true")
	id := e.id("created")
	e.must("create", "--bundle", e.bundle([]string{"sleep", "1000"}, nil), id)
	e.fails("container \""+id+"\" is created, not running", "exec", id, "true")

	stopped := e.id("stopped")
	e.must("run", "--detach", "--bundle", e.bundle([]string{"true"}, nil), stopped)
	if pid := e.state(stopped).Pid; pid > 0 {
		waitGone(t, pid)
	}
	e.fails("is stopped, not running", "exec", stopped, "true")
}

func TestExecUserNamespace(t *testing.T) {
	e := newEnv(t)
	id, initPid := e.running("userns", func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 300000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 300000, Size: 65536}}
	})
	out := e.must("exec", id, "sh", "-c", "cat /proc/self/uid_map; id -u; hostname")
	if f := strings.Fields(out); len(f) < 5 || f[0] != "0" || f[1] != "300000" || f[2] != "65536" || f[3] != "0" {
		t.Errorf("exec in a user namespace: %q, want the map 0 300000 65536 and uid 0", out)
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	e.must("exec", "-d", "--pid-file", pidFile, "-u", "1000", id, "sleep", "1000")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSpace(string(b))
	st, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil || !strings.Contains(string(st), "\nUid:\t301000\t301000\t301000\t301000\n") {
		t.Errorf("exec'd process's host uid: %s (%v), want 301000", grepLine(string(st), "Uid:"), err)
	}
	want, _ := os.Readlink("/proc/" + strconv.Itoa(initPid) + "/ns/user")
	if got, _ := os.Readlink("/proc/" + pid + "/ns/user"); got != want {
		t.Errorf("user namespace %q, init's %q", got, want)
	}
}

func grepLine(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

func TestExecSeccompAndCapabilities(t *testing.T) {
	e := newEnv(t)
	errno := uint(1) // EPERM
	id, _ := e.running("secc", func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{
				Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &errno,
			}},
		}
		caps := []string{"CAP_KILL", "CAP_SETUID", "CAP_SETGID"}
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	})
	out := e.must("exec", id, "sh", "-c", "mkdir /tmp/d 2>&1; grep -E '^(Seccomp|CapEff|CapBnd):' /proc/self/status")
	if !strings.Contains(out, "Operation not permitted") {
		t.Errorf("mkdir under the container's seccomp profile: %q, want EPERM", out)
	}
	// CAP_KILL 5, CAP_SETGID 6, CAP_SETUID 7.
	if !strings.Contains(out, "Seccomp:\t2") || !strings.Contains(out, "CapEff:\t00000000000000e0") || !strings.Contains(out, "CapBnd:\t00000000000000e0") {
		t.Errorf("exec'd process status:\n%s\nwant seccomp filter mode and the configured capabilities 0xe0", out)
	}
	// --cap adds CAP_NET_ADMIN (12).
	out = e.must("exec", "--cap", "CAP_NET_ADMIN", id, "grep", "^CapEff:", "/proc/self/status")
	if !strings.Contains(out, "00000000000010e0") {
		t.Errorf("--cap CAP_NET_ADMIN: %q, want 0x10e0", out)
	}
	out = e.must("exec", "--no-new-privs", id, "grep", "^NoNewPrivs:", "/proc/self/status")
	if !strings.Contains(out, "1") {
		t.Errorf("--no-new-privs: %q", out)
	}
}
