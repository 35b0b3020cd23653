package runtime_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
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

// TestExecCreated: as runc, exec runs in a created container (also one
// with a user namespace), passes its program's status through and leaves
// the container created; start then runs the configured program.
func TestExecCreated(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		mutate func(*specs.Spec)
	}{
		{"plain", nil},
		{"userns", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 300000, Size: 65536}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 300000, Size: 65536}}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := e.sub(t)
			id := e.id("created")
			e.must("create", "--bundle", e.bundle([]string{"sleep", "1000"}, tc.mutate), id)
			pid := e.state(id).Pid
			// Pid 1 of the container is still the waiting init.
			if out := e.must("exec", id, "cat", "/proc/1/cmdline"); !strings.Contains(out, "init") {
				t.Errorf("exec in the created container: pid 1 is %q, want the waiting init", out)
			}
			_, stderr, err := e.run("exec", id, "sh", "-c", "exit 7")
			if code := exitCode(err); code != 7 {
				t.Errorf("exec ... exit 7 in a created container: exit %d (%q)", code, stderr)
			}
			if st := e.state(id); st.Status != specs.StateCreated || st.Pid != pid {
				t.Fatalf("exec changed the created container: %+v", st)
			}
			e.must("start", id)
			if out := e.must("exec", id, "cat", "/proc/1/cmdline"); !strings.Contains(out, "sleep") {
				t.Errorf("after start, pid 1 is %q, want the configured program", out)
			}
		})
	}
}

// TestExecFailureStatus: a failure of exec itself exits 255 (runc's
// status for it), never a status the program could have had.
func TestExecFailureStatus(t *testing.T) {
	e := newEnv(t)
	id, _ := e.running("fail", nil)
	stopped := e.id("stopped")
	e.must("run", "--detach", "--bundle", e.bundle([]string{"true"}, nil), stopped)
	if pid := e.state(stopped).Pid; pid > 0 {
		waitGone(t, pid)
	}
	paused, _ := e.running("paused", nil)
	e.must("pause", paused)
	defer e.run("resume", paused)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no such container", []string{e.id("missing"), "true"}, "does not exist"},
		{"no such program", []string{id, "no-such-program"}, "executable file not found"},
		{"no command", []string{id}, "a command is required"},
		{"bad pid file", []string{"--pid-file", "/nonexistent/dir/pid", id, "true"}, "pid file"},
		{"bad process file", []string{"--process", "/nonexistent/process.json", id}, "--process"},
		{"bad user", []string{"-u", "x", id, "true"}, "--user"},
		{"stopped", []string{stopped, "true"}, "is stopped"},
		{"paused", []string{paused, "true"}, "--ignore-paused"},
		{"missing sub-cgroup", []string{"--cgroup", "no-such-sub", id, "true"}, "does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, err := e.sub(t).run(append([]string{"exec"}, tc.args...)...)
			if code := exitCode(err); code != 255 {
				t.Errorf("exec %v: exit %d, want 255 (%q)", tc.args, code, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("exec %v: %q does not say %q", tc.args, stderr, tc.want)
			}
		})
	}
}

// TestExecIgnorePaused: exec --ignore-paused into a paused container
// returns once resume lets the process run (exec must not hold the
// container's lock meanwhile: resume takes it).
func TestExecIgnorePaused(t *testing.T) {
	e := newEnv(t)
	id, _ := e.running("ignpaused", nil)
	e.must("pause", id)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hang guard only
	defer cancel()
	out := filepath.Join(t.TempDir(), "out")
	cmd := exec.CommandContext(ctx, e.bin, "--root", e.root, "exec", "--ignore-paused", id, "sh", "-c", "echo done")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e.must("resume", id)
	if err := cmd.Wait(); err != nil {
		data, _ := os.ReadFile(out)
		t.Fatalf("exec --ignore-paused: %v: %s", err, data)
	}
	if data, _ := os.ReadFile(out); string(data) != "done\n" {
		t.Errorf("exec --ignore-paused printed %q", data)
	}
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

// TestExecForwardsSignals sends SIGUSR1 to a foreground exec: the
// process gets it and its exit status comes back.
func TestExecForwardsSignals(t *testing.T) {
	e := newEnv(t)
	id, _ := e.running("fwd", nil)
	// The background sleep's stdio away from exec's: exec relays the
	// process's output until every holder has closed it, as runc's.
	cmd := exec.Command(e.bin, "--root", e.root, "exec", id, "sh", "-c", `trap "echo got; exit 3" USR1; echo ready; sleep 1000 >/dev/null 2>&1 & wait`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(out)
	line, err := r.ReadString('\n')
	if err != nil || line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("first line %q, %v", line, err)
	}
	cmd.Process.Signal(syscall.SIGUSR1)
	rest, _ := io.ReadAll(r)
	if err := cmd.Wait(); exitCode(err) != 3 {
		t.Fatalf("exec exited with %v, want status 3", err)
	}
	if string(rest) != "got\n" {
		t.Errorf("output after the signal %q, want got", rest)
	}
}

// TestExecTerminal: exec --tty from a terminal wires the process's pty to
// the caller's; with --detach the pty master goes to --console-socket.
func TestExecTerminal(t *testing.T) {
	e := newEnv(t)
	id, _ := e.running("term", nil)
	t.Run("foreground", func(t *testing.T) {
		ptmx, tty := openTestPty(t)
		defer ptmx.Close()
		unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 21, Col: 61})
		cmd := exec.Command(e.bin, "--root", e.root, "exec", "--tty", id, "sh", "-c", "test -t 0 && echo is-a-tty; stty size; exit 5")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		tty.Close()
		outc := make(chan string, 1)
		go func() {
			data, _ := io.ReadAll(ptmx) // EIO once ocikit and the process are gone
			outc <- string(data)
		}()
		if err := cmd.Wait(); exitCode(err) != 5 {
			t.Errorf("exec exited with %v, want status 5", err)
		}
		if out := <-outc; !strings.Contains(out, "is-a-tty") || !strings.Contains(out, "21 61") {
			t.Errorf("terminal output %q, want is-a-tty and the caller's size 21 61", out)
		}
	})
	t.Run("console-socket", func(t *testing.T) {
		e := e.sub(t)
		sock := filepath.Join(t.TempDir(), "console.sock")
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		got := make(chan string, 1)
		go func() {
			c, err := l.AcceptUnix()
			if err != nil {
				got <- err.Error()
				return
			}
			defer c.Close()
			buf, oob := make([]byte, 256), make([]byte, unix.CmsgSpace(4))
			_, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
			msgs, perr := unix.ParseSocketControlMessage(oob[:oobn])
			if err != nil || perr != nil || len(msgs) != 1 {
				got <- "no control message"
				return
			}
			fds, err := unix.ParseUnixRights(&msgs[0])
			if err != nil || len(fds) != 1 {
				got <- "no fd"
				return
			}
			master := os.NewFile(uintptr(fds[0]), "master")
			defer master.Close()
			out, _ := io.ReadAll(master)
			got <- string(out)
		}()
		e.fails("a terminal with --detach needs --console-socket", "exec", "-t", "-d", id, "true")
		e.fails("--console-socket given without a terminal", "exec", "--console-socket", sock, id, "true")
		e.must("exec", "-t", "-d", "--console-socket", sock, id, "sh", "-c", "test -t 1 && echo tty-ok")
		if out := <-got; out != "tty-ok\r\n" {
			t.Errorf("terminal output %q, want tty-ok", out)
		}
	})
}

func openTestPty(t *testing.T) (ptmx, tty *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return ptmx, tty
}

// TestExecRootAndFDs: the process gets the init's root in a --no-pivot
// container (where the mount namespace's root is the host's), and
// --preserve-fds passes descriptors.
func TestExecRootAndFDs(t *testing.T) {
	e := newEnv(t)
	id := e.id("nopivot")
	e.must("run", "--detach", "--no-pivot", "--bundle", e.bundle([]string{"sleep", "1000"}, nil), id)
	if out := e.must("exec", id, "ls", "/bin/busybox"); out != "/bin/busybox\n" {
		t.Errorf("exec in a --no-pivot container sees %q, want the container's root", out)
	}
	f, err := os.CreateTemp(t.TempDir(), "fd")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("preserved")
	f.Seek(0, 0)
	cmd := exec.Command(e.bin, "--root", e.root, "exec", "--preserve-fds", "1", id, "sh", "-c", "cat <&3; ls /proc/self/fd")
	cmd.ExtraFiles = []*os.File{f}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("exec --preserve-fds: %v", err)
	}
	// cat's output, then stdio, 3 and ls's own directory descriptor.
	if fds := strings.Fields(strings.TrimPrefix(string(out), "preserved")); !strings.HasPrefix(string(out), "preserved") || len(fds) != 5 {
		t.Errorf("exec --preserve-fds 1: %q, want the file's content and descriptors 0-3 (+ ls's)", out)
	}
}

// TestExecRootless: an unprivileged user execs into its rootless
// container (joining the user namespace it owns; no cgroup to join).
func TestExecRootless(t *testing.T) {
	e := newRootlessEnv(t)
	id := e.id("rootless")
	e.must("run", "--detach", "--bundle", e.bundle([]string{"sleep", "1000"}, nil), id)
	initPid := e.state(id).Pid
	out := e.must("exec", id, "sh", "-c", "id -u; cat /proc/1/cmdline; echo; cat /proc/self/uid_map")
	if f := strings.Fields(out); len(f) != 5 || f[0] != "0" || f[1] != "sleep\x001000\x00" || f[2] != "0" || f[3] != "65534" {
		t.Errorf("rootless exec printed %q, want uid 0, the container's init and the map 0 65534 1", out)
	}
	pidFile := filepath.Join(e.t.TempDir(), "pid")
	if err := os.Chmod(filepath.Dir(pidFile), 0o777); err != nil {
		t.Fatal(err)
	}
	e.must("exec", "-d", "--pid-file", pidFile, id, "sleep", "1000")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"user", "mnt", "pid"} {
		want, _ := os.Readlink("/proc/" + strconv.Itoa(initPid) + "/ns/" + ns)
		if got, _ := os.Readlink("/proc/" + strings.TrimSpace(string(b)) + "/ns/" + ns); got != want {
			t.Errorf("%s namespace %q, init's %q", ns, got, want)
		}
	}
}

// TestExecCPUAffinity: process.execCPUAffinity of a --process file; final
// is the affinity of the program (initial holds until the cgroup move).
func TestExecCPUAffinity(t *testing.T) {
	if goruntime.NumCPU() < 2 {
		t.Skip("needs two CPUs")
	}
	e := newEnv(t)
	id, _ := e.running("affinity", nil)
	tests := []struct {
		name string
		aff  specs.CPUAffinity
		want string
	}{
		{"initial and final", specs.CPUAffinity{Initial: "0", Final: "1"}, "1"},
		{"final", specs.CPUAffinity{Final: "0"}, "0"},
		{"final range", specs.CPUAffinity{Initial: "1", Final: "0-1"}, "0-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := e.sub(t)
			aff := tc.aff
			p := specs.Process{Args: []string{"grep", "Cpus_allowed_list", "/proc/self/status"}, Env: []string{"PATH=/bin"}, Cwd: "/", ExecCPUAffinity: &aff}
			data, _ := json.Marshal(p)
			f := filepath.Join(t.TempDir(), "process.json")
			if err := os.WriteFile(f, data, 0o644); err != nil {
				t.Fatal(err)
			}
			out := e.must("exec", "--process", f, id)
			if got := strings.TrimSpace(strings.TrimPrefix(out, "Cpus_allowed_list:")); got != tc.want {
				t.Errorf("affinity %q, want %q", got, tc.want)
			}
		})
	}
	p := specs.Process{Args: []string{"true"}, Cwd: "/", ExecCPUAffinity: &specs.CPUAffinity{Final: "x"}}
	data, _ := json.Marshal(p)
	f := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(f, data, 0o644); err != nil {
		t.Fatal(err)
	}
	e.fails(`execCPUAffinity.final "x"`, "exec", "--process", f, id)
}

// TestExecSeccompListener: the notify descriptor of an exec'd process's
// filter reaches the agent at linux.seccomp.listenerPath, as the init's
// does, with and without noNewPrivileges.
func TestExecSeccompListener(t *testing.T) {
	e := newEnv(t)
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
	ch := make(chan got, 8)
	go func() {
		for {
			c, err := l.AcceptUnix()
			if err != nil {
				return
			}
			buf, oob := make([]byte, 8192), make([]byte, unix.CmsgSpace(4))
			n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
			c.Close()
			var g got
			if g.err = err; err == nil {
				g.err = json.Unmarshal(buf[:n], &g.st)
			}
			if cms, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && len(cms) == 1 {
				if fds, err := unix.ParseUnixRights(&cms[0]); err == nil {
					g.fds = len(fds)
					for _, fd := range fds {
						unix.Close(fd)
					}
				}
			}
			ch <- g
		}
	}()
	id, _ := e.running("notify", func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			ListenerPath:  sock,
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"acct"}, Action: specs.ActNotify}},
		}
	})
	if g := <-ch; g.err != nil || g.fds != 1 {
		t.Fatalf("init's notify descriptor: %+v", g)
	}
	for _, args := range [][]string{{"exec", id, "true"}, {"exec", "--no-new-privs", id, "true"}} {
		e.must(args...)
		g := <-ch
		if g.err != nil || g.fds != 1 || g.st.State.ID != id || g.st.State.Status != specs.StateRunning {
			t.Errorf("ocikit %v: agent got %d fds and %+v (%v)", args, g.fds, g.st, g.err)
		}
	}
}

// TestExecNoNewKeyring: an exec'd process joins the container's session
// keyring (named by the container id) unless the container was created
// with --no-new-keyring, as runc's exec follows the container's setting.
func TestExecNoNewKeyring(t *testing.T) {
	e := newEnv(t)
	unmaskKeys := func(s *specs.Spec) {
		s.Linux.MaskedPaths = slices.DeleteFunc(s.Linux.MaskedPaths, func(p string) bool { return p == "/proc/keys" })
	}
	for _, tc := range []struct {
		name  string
		flags []string
		named bool
	}{
		{"default", nil, true},
		{"no-new-keyring", []string{"--no-new-keyring"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.sub(t)
			id := e.id("keyring")
			e.must(append(append([]string{"run", "-d", "--bundle", e.bundle([]string{"sleep", "1000"}, unmaskKeys)}, tc.flags...), id)...)
			out := e.must("exec", id, "cat", "/proc/keys")
			if named := strings.Contains(out, id); named != tc.named {
				t.Errorf("exec's /proc/keys names the container's keyring: %v, want %v:\n%s", named, tc.named, out)
			}
		})
	}
}
