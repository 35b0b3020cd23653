package runtime_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestRootThreadContained checks what the runtime's thread that prepares
// a container's root filesystem (cinit_linux.go rootThread: in the
// container's namespaces, inside the runtime process) lets through: no
// descriptor of the runtime reaches a createContainer hook it forks, no
// thread of the runtime stays in the container's namespaces or root once
// the container runs, and the hostname and sysctls it writes land in the
// container's namespaces, never in the runtime's.
func TestRootThreadContained(t *testing.T) {
	e := newEnv(t)

	t.Run("createContainer hook descriptors", func(t *testing.T) {
		e := e.sub(t)
		out := filepath.Join(t.TempDir(), "fds")
		// The hook lists its descriptors: ls, exec'd by the shell, holds
		// what the hook was given and the directory it lists (through
		// /proc/self: $$ is a pid of the container's pid namespace, /proc
		// still the host's).
		b := e.bundle([]string{"true"}, func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/sh",
				Args: []string{"sh", "-c", "exec ls -l /proc/self/fd/ >" + out}}}}
		})
		// A descriptor the runtime's caller leaked (not close-on-exec).
		leak, err := os.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer leak.Close()
		cmd := exec.Command(e.bin, "--root", e.root, "run", "--bundle", b, e.id("hookfds"))
		cmd.ExtraFiles = []*os.File{leak}
		if data, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("run: %v: %s", err, data)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), " 1 -> "+out) {
			t.Fatalf("the hook's listing does not show its stdout: %s", data)
		}
		for _, l := range strings.Split(string(data), "\n") {
			f := strings.Fields(l)
			if len(f) < 3 || f[len(f)-2] != "->" {
				continue
			}
			if strings.HasPrefix(f[len(f)-1], "/proc/") && strings.HasSuffix(f[len(f)-1], "/fd") {
				continue // ls's own
			}
			if n, err := strconv.Atoi(f[len(f)-3]); err != nil || n > 2 {
				t.Errorf("createContainer hook holds a descriptor of the runtime: %s", l)
			}
		}
	})

	t.Run("no runtime thread stays inside", func(t *testing.T) {
		e := e.sub(t)
		id := e.id("threads")
		b := e.bundle([]string{"sh", "-c", "echo ready; exec sleep 1000"}, func(s *specs.Spec) {
			s.Hostname = "inside"
		})
		cmd := exec.Command(e.bin, "--root", e.root, "run", "--bundle", b, id)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			e.run("kill", id, "KILL")
			cmd.Wait()
		}()
		if l, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || l != "ready\n" {
			t.Fatalf("container's first line %q: %v", l, err)
		}
		// The runtime (a foreground run) waits for the container: each of
		// its threads, the thread-group leader first, is where the test is.
		proc := "/proc/" + strconv.Itoa(cmd.Process.Pid)
		tasks, err := os.ReadDir(proc + "/task")
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			dir := proc + "/task/" + task.Name()
			for _, ns := range []string{"mnt", "net", "uts", "ipc", "cgroup"} {
				want, _ := os.Readlink("/proc/self/ns/" + ns)
				if got, err := os.Readlink(dir + "/ns/" + ns); err == nil && got != want {
					t.Errorf("runtime thread %s is in %s, not the runtime's %s", task.Name(), got, want)
				}
			}
			var want, got os.FileInfo
			if want, err = os.Stat("/"); err == nil {
				got, err = os.Stat(dir + "/root/")
			}
			if err == nil && !os.SameFile(want, got) {
				t.Errorf("runtime thread %s has another root (the container's?)", task.Name())
			}
		}
	})

	// A container joining a pid namespace by path (a pod's shared one)
	// shares it with processes running there already, as root. The thread
	// forks while its root is still the host's (before pivot_root): the
	// helper of an idmapped mount (a new user namespace, whose owner's
	// root may open its /proc/<pid>/root with no capability at all) must
	// not be born in that pid namespace; only the createContainer hooks
	// are. A process there that polled /proc wrote host files through the
	// helper's root after one or two runs. The same for the Go init (the
	// systemd driver, OCIKIT_GO_INIT), which forked the helper itself.
	t.Run("forks into a joined pid namespace", func(t *testing.T) {
		for _, goInit := range []bool{false, true} {
			t.Run("Go init "+strconv.FormatBool(goInit), func(t *testing.T) {
				if goInit {
					t.Setenv("OCIKIT_GO_INIT", "1")
				}
				// Pids a Go init takes for threads that ended are
				// no concern: compare with the same container
				// without the idmapped mount.
				e := e.sub(t)
				with, without := forksIntoJoinedPidNS(e, true), forksIntoJoinedPidNS(e, false)
				if len(with) != len(without) {
					t.Errorf("with an idmapped mount, pids %v of the joined pid namespace went to processes of the runtime's between the init and the first hook; without, %v",
						with, without)
				}
			})
		}
	})

	t.Run("hostname and sysctls", func(t *testing.T) {
		e := e.sub(t)
		// The runtime runs in namespaces of its own, so that a write that
		// missed the container's could only change a throwaway "host".
		unshare := testutil.RequireTool(t, "unshare")
		b := e.bundle([]string{"sh", "-c", "echo $(hostname) $(cat /proc/sys/net/ipv4/ip_default_ttl /proc/sys/kernel/shmmax)"},
			func(s *specs.Spec) {
				s.Hostname = "sysctl-inside"
				s.Linux.Sysctl = map[string]string{"net.ipv4.ip_default_ttl": "42", "kernel.shmmax": "12345678"}
			})
		const host = `echo $(hostname) $(cat /proc/sys/net/ipv4/ip_default_ttl /proc/sys/kernel/shmmax)`
		script := host + `; "$0" --root "$1" run --bundle "$2" "$3" || exit; ` + host
		out, err := exec.Command(unshare, "--net", "--ipc", "--uts", "--mount", "--propagation", "private",
			"sh", "-c", script, e.bin, e.root, b, e.id("sysctl")).CombinedOutput()
		if err != nil {
			t.Fatalf("run: %v: %s", err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != 3 {
			t.Fatalf("output %q: want the runtime's values, the container's, the runtime's", out)
		}
		if lines[1] != "sysctl-inside 42 12345678" {
			t.Errorf("the container sees %q, want sysctl-inside 42 12345678", lines[1])
		}
		if lines[2] != lines[0] {
			t.Errorf("the runtime's hostname, ip_default_ttl and shmmax changed from %q to %q", lines[0], lines[2])
		}
	})
}

// forksIntoJoinedPidNS creates a container joining the pid namespace of a
// new running one, with a createContainer hook and, with idmap, an
// idmapped mount. It returns the pids of the namespace, handed out in
// order in the idle sandbox, that went between the init and the hook to
// others than the init's threads: what the runtime or the init forked
// there while mounting, with the host's root.
func forksIntoJoinedPidNS(e *env, idmap bool) []int {
	t := e.t
	sandbox, sbPid := e.running("sbpid", nil)
	defer e.run("delete", "--force", sandbox)
	hookOut := filepath.Join(t.TempDir(), "hookpid")
	idSrc := t.TempDir()
	b := e.bundle([]string{"true"}, func(s *specs.Spec) {
		setNS(s, specs.PIDNamespace, "/proc/"+strconv.Itoa(sbPid)+"/ns/pid")
		if idmap {
			ids := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/home", Source: idSrc, Type: "bind",
				Options: []string{"bind", "idmap"}, UIDMappings: ids, GIDMappings: ids})
		}
		s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/sh",
			Args: []string{"sh", "-c", "echo $$ >" + hookOut}}}}
	})
	id := e.id("joinpid")
	e.must("create", "--bundle", b, id)
	defer e.run("delete", "--force", id)
	// The init's pid in the namespace, and its threads' (a Go init's
	// threads take pids there too).
	task := "/proc/" + strconv.Itoa(e.state(id).Pid) + "/task/"
	tids, err := os.ReadDir(task)
	if err != nil {
		t.Fatal(err)
	}
	initPid, threads := 0, map[int]bool{}
	for _, tid := range tids {
		status, err := os.ReadFile(task + tid.Name() + "/status")
		if err != nil {
			t.Fatal(err)
		}
		nspid := strings.Fields(field(string(status), "NSpid:"))
		if len(nspid) == 0 {
			t.Fatalf("no NSpid for thread %s", tid.Name())
		}
		n, err := strconv.Atoi(nspid[len(nspid)-1])
		if err != nil {
			t.Fatal(err)
		}
		threads[n] = true
		if tid.Name() == strconv.Itoa(e.state(id).Pid) {
			initPid = n
		}
	}
	data, err := os.ReadFile(hookOut)
	if err != nil {
		t.Fatal(err)
	}
	hookPid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || initPid == 0 {
		t.Fatalf("init's pid %d, hook's %q", initPid, data)
	}
	var others []int
	for p := initPid + 1; p < hookPid; p++ {
		if !threads[p] {
			others = append(others, p)
		}
	}
	return others
}
