package runtime_test

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ocikit/ocikit/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	id := e.id("life")
	b := e.bundle([]string{"sleep", "1000"}, nil)
	pidFile := filepath.Join(t.TempDir(), "pid")
	e.must("create", "--bundle", b, "--pid-file", pidFile, id)

	st := e.state(id)
	if st.Status != specs.StateCreated || st.Pid <= 0 || st.Bundle != b || st.ID != id || st.Version != specs.Version {
		t.Fatalf("after create: %+v", st)
	}
	if st.Rootfs != e.rootfs || st.Created.IsZero() {
		t.Errorf("state lacks rootfs or created: %+v", st)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil || strings.TrimSpace(string(data)) != strconv.Itoa(st.Pid) {
		t.Errorf("pid file = %q, %v; want %d", data, err, st.Pid)
	}
	// The init waits: it has not executed sleep yet.
	if exe, _ := os.Readlink("/proc/" + strconv.Itoa(st.Pid) + "/exe"); strings.HasSuffix(exe, "/busybox") {
		t.Fatalf("created container already runs its program")
	}
	if list := e.must("list", "-q"); strings.TrimSpace(list) != id {
		t.Errorf("list -q = %q, want %q", list, id)
	}

	e.must("start", id)
	if st := e.state(id); st.Status != specs.StateRunning {
		t.Fatalf("after start: status %s", st.Status)
	}
	exe, err := os.Readlink("/proc/" + strconv.Itoa(st.Pid) + "/exe")
	if err != nil || !strings.HasSuffix(exe, "/busybox") {
		t.Errorf("running container's process is %q, %v; want busybox", exe, err)
	}
	if out := e.must("list", "--format", "json"); !strings.Contains(out, `"status":"running"`) {
		t.Errorf("list --format json = %s", out)
	}

	e.must("kill", id, "KILL")
	waitGone(t, st.Pid)
	if st := e.state(id); st.Status != specs.StateStopped {
		t.Fatalf("after kill: status %s", st.Status)
	}
	e.must("delete", id)
	e.fails("does not exist", "state", id)
	if cgroupExists(id) {
		t.Errorf("cgroup of %s left behind", id)
	}
	if _, err := os.Stat(filepath.Join(e.root, id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state directory left behind: %v", err)
	}
}

func TestWrongState(t *testing.T) {
	e := newEnv(t)
	id := e.id("wrong")
	b := e.bundle([]string{"sleep", "1000"}, nil)
	e.fails("does not exist", "start", id)
	e.fails("does not exist", "kill", id)
	e.fails("does not exist", "delete", id)
	e.fails("invalid container id", "create", "--bundle", b, "../x")
	e.must("create", "--bundle", b, id)
	e.fails("already exists", "create", "--bundle", b, id)
	pid := e.state(id).Pid

	// runtime.md "Delete": a created container is not stopped.
	e.fails("not stopped", "delete", id)
	if st := e.state(id); st.Status != specs.StateCreated || st.Pid != pid {
		t.Fatalf("failed delete changed the container: %+v", st)
	}
	e.fails("unknown signal", "kill", id, "SIGNOPE")
	e.must("start", id)
	e.fails("not created", "start", id)
	e.must("kill", id, "9")
	waitGone(t, pid)
	e.fails("container not running", "kill", id, "TERM")
	e.fails("not created", "start", id)
	e.must("delete", id)
}

// TestKillContract: kill as runc's callers use it. Signal 0 probes a
// created or running init; a stopped container fails with "container not
// running" (containerd's shim matches those words), except with --all.
func TestKillContract(t *testing.T) {
	e := newEnv(t)
	id := e.id("kc")
	e.must("create", "--bundle", e.bundle([]string{"sleep", "1000"}, nil), id)
	pid := e.state(id).Pid
	e.must("kill", id, "0")
	if st := e.state(id); st.Status != specs.StateCreated || st.Pid != pid {
		t.Fatalf("kill 0 changed the created container: %+v", st)
	}
	e.must("start", id)
	e.must("kill", id, "0")
	e.must("kill", "--all", id, "0")
	e.must("kill", id, "KILL")
	waitGone(t, pid)
	tests := []struct {
		args []string
		want string // "" when it succeeds
	}{
		{[]string{"kill", id, "0"}, "container not running"},
		{[]string{"kill", id}, "container not running"},
		{[]string{"kill", id, "SIGKILL"}, "container not running"},
		{[]string{"kill", "--all", id, "KILL"}, ""},
		{[]string{"kill", "-a", id}, ""},
		{[]string{"kill", id, "NOSUCH"}, "unknown signal"},
		{[]string{"kill", id, "65"}, "invalid signal"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			e := e.sub(t)
			if tc.want == "" {
				e.must(tc.args...)
			} else {
				e.fails(tc.want, tc.args...)
			}
		})
	}
	e.must("delete", id)
}

func TestKillSignalNames(t *testing.T) {
	e := newEnv(t)
	for _, sig := range []string{"SIGKILL", "KILL", "kill", "9"} {
		t.Run(sig, func(t *testing.T) {
			e := e.sub(t)
			id := e.id("sig")
			e.must("run", "-d", "--bundle", e.bundle([]string{"sleep", "1000"}, nil), id)
			pid := e.state(id).Pid
			e.must("kill", id, sig)
			waitGone(t, pid)
			e.must("delete", id)
		})
	}
}

func TestKillAll(t *testing.T) {
	e := newEnv(t)
	id := e.id("all")
	// No pid namespace: the children survive the init unless all are
	// signalled.
	b := e.bundle([]string{"sh", "-c", "sleep 1000 & sleep 1000 & wait"}, func(s *specs.Spec) { dropNS(s, specs.PIDNamespace) })
	e.must("run", "-d", "--bundle", b, id)
	pid := e.state(id).Pid
	e.must("kill", "--all", id, "KILL")
	waitGone(t, pid)
	e.must("delete", id)
	if cgroupExists(id) {
		t.Errorf("cgroup of %s left behind", id)
	}
}

func TestRunForeground(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		args   []string
		mutate func(*specs.Spec)
		code   int
		out    string
	}{
		{name: "true", args: []string{"true"}},
		{name: "exit7", args: []string{"sh", "-c", "exit 7"}, code: 7},
		{name: "stdout", args: []string{"sh", "-c", "echo hello"}, out: "hello\n"},
		{name: "hostname", args: []string{"hostname"}, mutate: func(s *specs.Spec) { s.Hostname = "box1" }, out: "box1\n"},
		{name: "env", args: []string{"sh", "-c", "echo $FOO"}, mutate: func(s *specs.Spec) { s.Process.Env = append(s.Process.Env, "FOO=bar") }, out: "bar\n"},
		{name: "cwd", args: []string{"sh", "-c", "pwd"}, mutate: func(s *specs.Spec) { s.Process.Cwd = "/tmp" }, out: "/tmp\n"},
		// Without a pid namespace the program can kill itself: 128+9.
		{name: "killed", args: []string{"sh", "-c", "kill -KILL $$"}, mutate: func(s *specs.Spec) { dropNS(s, specs.PIDNamespace) }, code: 137},
		{name: "pid1", args: []string{"sh", "-c", "echo $$"}, out: "1\n"},
		// Written before /proc/sys becomes read-only (readonlyPaths).
		{name: "sysctl", args: []string{"cat", "/proc/sys/net/ipv4/ping_group_range"}, mutate: func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"net.ipv4.ping_group_range": "0 0"}
		}, out: "0\t0\n"},
		{name: "user", args: []string{"id"}, mutate: func(s *specs.Spec) {
			s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10}}
		}, out: "uid=1000(user) gid=1000(user) groups=10(wheel)\n"},
		{name: "userns", args: []string{"cat", "/proc/self/uid_map"}, mutate: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
		}, out: "         0     200000      65536\n"},
		// A new time namespace: nsenter unshares it, writes the offsets
		// and forks the init (pid 1 of its new pid namespace).
		{name: "timens", args: []string{"sh", "-c", "cat /proc/self/timens_offsets; echo $$"}, mutate: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 100}, "boottime": {Secs: 7, Nanosecs: 5}}
		}, out: "monotonic         100         0\nboottime            7         5\n1\n"},
		// A new user namespace with a joined network namespace: nsenter
		// asks the runtime for the maps.
		{name: "userns+joined", args: []string{"sh", "-c", "cat /proc/self/uid_map; readlink /proc/self/ns/net"}, mutate: func(s *specs.Spec) {
			setNS(s, specs.NetworkNamespace, "/proc/self/ns/net")
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
		}, out: "         0     200000      65536\n" + hostNetNS() + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := e.sub(t)
			id := e.id(tc.name)
			out, stderr, err := e.run("run", "--bundle", e.bundle(tc.args, tc.mutate), id)
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Fatalf("exit status %d, want %d (stderr %q)", code, tc.code, stderr)
			}
			if tc.out != "" && out != tc.out {
				t.Errorf("stdout %q, want %q", out, tc.out)
			}
			// run deletes the container once its program exited.
			e.fails("does not exist", "state", id)
			if cgroupExists(id) {
				t.Errorf("cgroup left behind")
			}
		})
	}
}

func TestDetach(t *testing.T) {
	e := newEnv(t)
	id := e.id("detach")
	e.must("run", "--detach", "--bundle", e.bundle([]string{"sleep", "1000"}, nil), id)
	st := e.state(id)
	if st.Status != specs.StateRunning {
		t.Fatalf("status %s after run -d", st.Status)
	}
	e.must("delete", "--force", id)
	waitGone(t, st.Pid)
	e.fails("does not exist", "state", id)
}

func TestConcurrentStart(t *testing.T) {
	e := newEnv(t)
	id := e.id("conc")
	e.must("create", "--bundle", e.bundle([]string{"sleep", "1000"}, nil), id)
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = e.run("start", id)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent starts succeeded, want exactly 1", ok, n)
	}
	// Concurrent creates of distinct containers and deletes of one.
	ids := make([]string, n)
	for i := range n {
		ids[i] = e.id("many")
	}
	b := e.bundle([]string{"sleep", "1000"}, nil)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = e.run("run", "-d", "--bundle", b, ids[i])
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("run -d %s: %v", ids[i], err)
		}
	}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = e.run("delete", "--force", id)
		}()
	}
	wg.Wait()
	e.fails("does not exist", "state", id)
	for _, x := range ids {
		e.must("delete", "-f", x)
	}
}

// hostNetNS is the network namespace of the test (and of the init of a
// container joining /proc/self/ns/net, resolved by nsenter in the
// runtime's process).
func hostNetNS() string {
	l, _ := os.Readlink("/proc/self/ns/net")
	return l
}

// TestCgroupV2BornInCgroup checks how the init enters its cgroup on a
// cgroup v2 host: born in it (clone3 CLONE_INTO_CGROUP) when it must be
// there from the start (a createRuntime hook), moved late otherwise
// (TestInitMemoryNotCharged), with a cgroup namespace right before the
// cgroup2 mount, which is rooted where the init unshared it; the program is in the cgroup
// either way and a cgroup namespace's /sys/fs/cgroup shows the
// container's cgroup only. A hybrid host is made to look like a pure v2
// one in a private mount namespace.
func TestCgroupV2BornInCgroup(t *testing.T) {
	e := newEnv(t)
	testutil.RequireTool(t, "unshare")
	for _, tt := range []struct {
		name           string
		hook, cgroupNS bool
		late           bool
	}{
		// The init without Go (cinit_linux.go) is born in its cgroup
		// in every case: it has no memory of its own worth keeping out.
		{"hook", true, false, false},
		{"cgroup namespace", false, true, false},
		{"neither", false, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := e.sub(t)
			id := e.id("v2")
			// A file in the container's cgroup only, to see where
			// /sys/fs/cgroup is rooted.
			b := e.bundle([]string{"sh", "-c", "cat /proc/self/cgroup; ls /sys/fs/cgroup"}, func(s *specs.Spec) {
				if !tt.cgroupNS {
					dropNS(s, specs.CgroupNamespace)
				}
				if tt.hook {
					s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/true"}}}
				}
			})
			script := `if ! stat -fc %T /sys/fs/cgroup | grep -q cgroup2; then umount -l /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup || exit 77; fi; exec "$@"`
			cmd := exec.Command("unshare", "-m", "sh", "-c", script, "sh", e.bin, "--debug", "--root", e.root, "run", "--bundle", b, id)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if errors.As(err, &ee) && ee.ExitCode() == 77 {
				t.Skip("cannot mount cgroup2 here")
			}
			if err != nil {
				t.Fatalf("run: %v: %s", err, out)
			}
			want := "0::/ocikit/" + id + "\n"
			if tt.cgroupNS {
				want = "0::/\n"
			}
			if !strings.Contains(string(out), want) {
				t.Errorf("cgroups of the container: want %q: %s", want, out)
			}
			if tt.cgroupNS && strings.Contains(string(out), "\nocikit\n") {
				t.Errorf("/sys/fs/cgroup shows the host's hierarchy: %s", out)
			}
			if strings.Contains(string(out), "clone into cgroup failed") {
				t.Errorf("the init was migrated, not born in its cgroup: %s", out)
			}
			if late := strings.Contains(string(out), "cgroup joined"); late != tt.late {
				t.Errorf("joined late: %v, want %v: %s", late, tt.late, out)
			}
			if cgroupExists(id) {
				t.Errorf("cgroup left behind")
			}
		})
	}
}

// TestLongID runs a container whose state directory path is longer than a
// unix socket path may be (107 bytes).
func TestLongID(t *testing.T) {
	e := newEnv(t)
	id := e.id(strings.Repeat("x", 150))
	e.must("create", "--bundle", e.bundle([]string{"sleep", "1000"}, nil), id)
	e.must("start", id)
	pid := e.state(id).Pid
	e.must("kill", id, "KILL")
	waitGone(t, pid)
	e.must("delete", id)
}

// TestRunKeep: run --keep leaves the stopped container for delete, as
// runc; without it run deletes it. --no-subreaper still reports the
// status of an init that is run's own child.
func TestRunKeep(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name  string
		flags []string
		kept  bool
	}{
		{"keep", []string{"--keep"}, true},
		{"default", nil, false},
		{"no-subreaper", []string{"--no-subreaper"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := e.sub(t)
			id := e.id("keep")
			b := e.bundle([]string{"sh", "-c", "exit 3"}, func(s *specs.Spec) { dropNS(s, specs.PIDNamespace) })
			_, stderr, err := e.run(append(append([]string{"run", "--bundle", b}, tc.flags...), id)...)
			if code := exitCode(err); code != 3 {
				t.Fatalf("run %v: exit %d, want 3 (%q)", tc.flags, code, stderr)
			}
			_, _, serr := e.run("state", id)
			if (serr == nil) != tc.kept {
				t.Fatalf("run %v: container kept = %v, want %v", tc.flags, serr == nil, tc.kept)
			}
			if !tc.kept {
				return
			}
			if st := e.state(id); st.Status != specs.StateStopped || st.Pid != 0 {
				t.Errorf("kept container: %+v, want stopped with pid 0", st)
			}
			if out := e.must("list", "-q"); !strings.Contains(out, id) {
				t.Errorf("list -q lacks the kept container: %q", out)
			}
			e.must("delete", id)
			e.fails("does not exist", "state", id)
		})
	}
}

// TestPidfdSocket: --pidfd-socket of create and exec sends a pidfd of the
// init and of the exec'd process (runc 1.2's flag).
func TestPidfdSocket(t *testing.T) {
	e := newEnv(t)
	sock := filepath.Join(t.TempDir(), "pidfd.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	pidfds := make(chan int, 2)
	go func() {
		for {
			c, err := l.AcceptUnix()
			if err != nil {
				return
			}
			buf, oob := make([]byte, 64), make([]byte, unix.CmsgSpace(4))
			_, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
			c.Close()
			pid := -1
			if err == nil {
				if cms, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && len(cms) == 1 {
					if fds, err := unix.ParseUnixRights(&cms[0]); err == nil && len(fds) == 1 {
						pid = pidfdPid(fds[0])
						unix.Close(fds[0])
					}
				}
			}
			pidfds <- pid
		}
	}()
	id := e.id("pidfd")
	e.must("create", "--pidfd-socket", sock, "--bundle", e.bundle([]string{"sleep", "1000"}, nil), id)
	if got, want := <-pidfds, e.state(id).Pid; got != want {
		t.Errorf("create --pidfd-socket sent a pidfd of %d, want the init %d", got, want)
	}
	e.must("start", id)
	pidFile := filepath.Join(t.TempDir(), "pid")
	e.must("exec", "-d", "--pid-file", pidFile, "--pidfd-socket", sock, id, "sleep", "1000")
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := <-pidfds; strconv.Itoa(got) != string(data) {
		t.Errorf("exec --pidfd-socket sent a pidfd of %d, want the process %s", got, data)
	}
}

// pidfdPid is the pid a pidfd refers to (its fdinfo's Pid line).
func pidfdPid(fd int) int {
	data, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(fd))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "Pid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return -1
}

// TestRunConfigFlag: --config names the configuration instead of the
// bundle's config.json (current runc's flag).
func TestRunConfigFlag(t *testing.T) {
	e := newEnv(t)
	b := e.bundle([]string{"sh", "-c", "echo from-bundle"}, nil)
	other := e.bundle([]string{"sh", "-c", "echo from-config"}, nil)
	cfg := filepath.Join(t.TempDir(), "other.json")
	data, err := os.ReadFile(filepath.Join(other, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out := e.must("run", "--bundle", b, "--config", cfg, e.id("config")); out != "from-config\n" {
		t.Errorf("run --config printed %q, want from-config", out)
	}
	if out := e.must("run", "--bundle", b, e.id("noconfig")); out != "from-bundle\n" {
		t.Errorf("run without --config printed %q, want from-bundle", out)
	}
	e.fails("no such file", "create", "--bundle", b, "--config", filepath.Join(t.TempDir(), "missing.json"), e.id("missing"))
}
