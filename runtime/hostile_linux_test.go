package runtime_test

import (
	"crypto/sha256"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ocikit/ocikit/runtime/defaults"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The hostile-container suite: containers, some holding CAP_SYS_ADMIN,
// that redirect or race what the runtime does on their behalf during
// create, start and exec. Each subtest is one attack and asserts that it
// was blocked: the host file untouched, the operation failing safely, or
// the runtime writing where it should.

// sysAdmin grants CAP_SYS_ADMIN (mount(2) and friends) to the container.
func sysAdmin(s *specs.Spec) {
	c := s.Process.Capabilities
	c.Bounding = append(c.Bounding, "CAP_SYS_ADMIN")
	c.Effective = append(c.Effective, "CAP_SYS_ADMIN")
	c.Permitted = append(c.Permitted, "CAP_SYS_ADMIN")
}

// userNS gives the container a user namespace whose root is host uid and
// gid hostID.
func userNS(hostID uint32) func(*specs.Spec) {
	return func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: hostID, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: hostID, Size: 65536}}
	}
}

// shared binds a fresh host directory onto /shared in the container and
// returns its host path.
func shared(t *testing.T) (string, func(*specs.Spec)) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	return dir, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/shared", Type: "bind", Source: dir, Options: []string{"rbind"}})
	}
}

func both(fs ...func(*specs.Spec)) func(*specs.Spec) {
	return func(s *specs.Spec) {
		for _, f := range fs {
			f(s)
		}
	}
}

func fileSum(t *testing.T, p string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

// processFile writes process.json for exec -p: the default process with
// args and mutate applied.
func processFile(t *testing.T, args []string, mutate func(*specs.Process)) string {
	p := defaults.Spec().Process
	p.Terminal = false
	p.Args = args
	if mutate != nil {
		mutate(p)
	}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "process.json")
	if err := os.WriteFile(f, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// containedCheck prints CONTAINED when the working directory lies inside
// the process's root (walking up from it ends at "/") and ESCAPED when it
// does not (CVE-2024-21626: a working directory on a leaked host
// directory climbs out of the root with "..").
const containedCheck = `up=.; for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do up=$up/..; done
if test "$(stat -c %d:%i $up)" = "$(stat -c %d:%i /)"; then echo CONTAINED; else echo ESCAPED; fi`

func TestHostile(t *testing.T) {
	e := newEnv(t)

	// CVE-2025-52881 class: a container holding CAP_SYS_ADMIN covers its
	// /proc with a tmpfs of its own files before an exec asking for
	// oomScoreAdj. The write must reach the exec'd process's real
	// oom_score_adj, not the container's file.
	t.Run("exec-covered-proc", func(t *testing.T) {
		e := e.sub(t)
		id, _ := e.running("coverproc", sysAdmin)
		e.must("exec", id, "sh", "-c", `mkdir /dev/shm/realproc && mount -t proc proc /dev/shm/realproc &&
			mount -t tmpfs tmpfs /proc && mkdir -p /proc/self/attr /proc/thread-self/attr /proc/sys/kernel &&
			for f in self/oom_score_adj self/setgroups self/status thread-self/attr/exec self/attr/exec sys/kernel/cap_last_cap; do echo untouched > /proc/$f; done`)
		adj := 321
		pf := processFile(t, []string{"cat", "/dev/shm/realproc/self/oom_score_adj"}, func(p *specs.Process) { p.OOMScoreAdj = &adj })
		out, stderr, err := e.run("exec", "-p", pf, id)
		if err == nil && strings.TrimSpace(out) != "321" {
			t.Errorf("exec'd process's oom_score_adj %q, want 321", out)
		}
		if err != nil {
			t.Logf("exec refused: %s", stderr) // failing safely is fine too
		}
		got := e.must("exec", id, "sh", "-c", "cat /proc/self/oom_score_adj /proc/thread-self/attr/exec /proc/self/setgroups")
		if got != "untouched\nuntouched\nuntouched\n" {
			t.Errorf("the container's fake /proc files were written: %q", got)
		}
		// A covered /proc/self/status must not lead exec astray either:
		// the capabilities come from the kernel.
		caps := e.must("exec", id, "sh", "-c", "grep CapEff /dev/shm/realproc/self/status")
		if !strings.Contains(caps, "CapEff:") {
			t.Errorf("exec with a covered /proc: %q", caps)
		}
	})

	// A user-namespaced init waiting for start must not be dumpable: a
	// process with the host uid of the container's root (another
	// container with the same mapping) could ptrace it, read its
	// environment and descriptors or open its /proc/<pid>/exe.
	t.Run("userns-init-dumpable", func(t *testing.T) {
		e := e.sub(t)
		const hostID = 310000
		id := e.id("nodump")
		e.must("create", "--bundle", e.bundle([]string{"true"}, userNS(hostID)), id)
		defer e.run("delete", "--force", id)
		pid := strconv.Itoa(e.state(id).Pid)
		for _, args := range [][]string{
			{"cat", "/proc/" + pid + "/environ"},
			{"readlink", "/proc/" + pid + "/exe"},
			{"ls", "/proc/" + pid + "/fd/"},
		} {
			cmd := exec.Command(args[0], args[1:]...)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: hostID, Gid: hostID}}
			if out, err := cmd.CombinedOutput(); err == nil {
				t.Errorf("as host uid %d, %s of the created init succeeded: %q", hostID, strings.Join(args, " "), out)
			}
		}
		// And it still works: the init's oomScoreAdj came through (written
		// before the process became non-dumpable).
		id2 := e.id("nodump-oom")
		adj := 77
		out := e.must("run", "--bundle", e.bundle([]string{"cat", "/proc/self/oom_score_adj"}, both(userNS(hostID), func(s *specs.Spec) {
			s.Process.OOMScoreAdj = &adj
		})), id2)
		if strings.TrimSpace(out) != "77" {
			t.Errorf("oom_score_adj in a user namespace %q, want 77", out)
		}
		out = e.must("exec", "-p", processFile(t, []string{"cat", "/proc/self/oom_score_adj"}, func(p *specs.Process) { p.OOMScoreAdj = &adj }), mustRunning(e, userNS(hostID)))
		if strings.TrimSpace(out) != "77" {
			t.Errorf("exec'd oom_score_adj in a user namespace %q, want 77", out)
		}
	})

	// CVE-2024-21626 class: a working directory given as /proc/self/fd/N
	// must not land on a descriptor the runtime leaked (a host
	// directory), for run and for exec; nor may any such descriptor stay
	// open in the container's processes.
	t.Run("leaked-fd-cwd", func(t *testing.T) {
		e := e.sub(t)
		id, _ := e.running("fdleak", nil)
		for n := 3; n <= 12; n++ {
			cwd := "/proc/self/fd/" + strconv.Itoa(n)
			out, _, err := e.run("run", "--bundle", e.bundle([]string{"sh", "-c", containedCheck}, func(s *specs.Spec) { s.Process.Cwd = cwd }), e.id("fdcwd"))
			if err == nil && strings.TrimSpace(out) != "CONTAINED" {
				t.Errorf("run with cwd %s: %q", cwd, out)
			}
			out, _, err = e.run("exec", "--cwd", cwd, id, "sh", "-c", containedCheck)
			if err == nil && strings.TrimSpace(out) != "CONTAINED" {
				t.Errorf("exec with cwd %s: %q", cwd, out)
			}
		}
		fds := func(out string) {
			t.Helper()
			for _, f := range strings.Fields(out) {
				if n, err := strconv.Atoi(f); err != nil || n > 3 {
					t.Errorf("open descriptors in the container %q, want 0-2 (and ls's own 3)", out)
					return
				}
			}
		}
		fds(e.must("run", "--bundle", e.bundle([]string{"ls", "/proc/self/fd"}, nil), e.id("fds")))
		fds(e.must("exec", id, "ls", "/proc/self/fd"))
	})

	// CVE-2019-5736: while execs come and go, a process of the container
	// keeps trying to open every /proc/<pid>/exe it sees for writing; the
	// ocikit binary must come out unchanged.
	t.Run("exe-overwrite-during-exec", func(t *testing.T) {
		e := e.sub(t)
		dir, mnt := shared(t)
		before := fileSum(t, e.bin)
		attack := `while test ! -e /shared/stop; do for p in /proc/[0-9]*; do (echo x > $p/exe) 2>/dev/null && echo WROTE $p >> /shared/log; done; done`
		id, pid := e.running("exe", both(mnt, func(s *specs.Spec) { s.Process.Args = []string{"sh", "-c", attack} }))
		for range 15 {
			e.must("exec", id, "true")
		}
		if err := os.WriteFile(filepath.Join(dir, "stop"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		waitGone(t, pid)
		if log, _ := os.ReadFile(filepath.Join(dir, "log")); len(log) > 0 {
			t.Errorf("the container wrote an exe: %s", log)
		}
		if fileSum(t, e.bin) != before {
			t.Fatal("the ocikit binary changed")
		}
	})
}

// mustRunning starts a container running sleep with mutate and returns its
// id.
func mustRunning(e *env, mutate func(*specs.Spec)) string {
	id, _ := e.running("sleeper", mutate)
	return id
}
