package runtime_test

import (
	"crypto/sha256"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ocikit/ocikit/runtime/defaults"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
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
	// A user namespace's root is not the host's: let it reach the directory.
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
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

	// CVE-2025-31133: the container's /dev (here the user's, bound from
	// the bundle) has /dev/null as a symbolic link to a procfs file, so
	// masking /proc/keys "with /dev/null" would bind that file over it,
	// writable (with /proc/sys/kernel/core_pattern: a host escape; here
	// the namespaced hostname). Masking must refuse anything but the null
	// device.
	t.Run("masked-path-devnull-symlink", func(t *testing.T) {
		e := e.sub(t)
		dev := userDev(t, map[string]string{"null": "/proc/sys/kernel/hostname"})
		id := e.id("devnull")
		_, stderr, err := e.run("create", "--bundle", e.bundle([]string{"true"}, func(s *specs.Spec) {
			s.Hostname = "hostile-mask"
			bindDev(s, dev)
			s.Linux.MaskedPaths = []string{"/proc/keys"}
		}), id)
		if err != nil {
			if !strings.Contains(stderr, "masked path /proc/keys") {
				t.Errorf("create failed, but not at the masked path: %s", stderr)
			}
			return
		}
		defer e.run("delete", "--force", id)
		got := readHead(t, "/proc/"+strconv.Itoa(e.state(id).Pid)+"/root/proc/keys")
		t.Errorf("create succeeded with /dev/null a symbolic link; /proc/keys reads %q", got)
	})

	// Masked and read-only paths that are, or pass through, symbolic
	// links the image put there are refused rather than followed (the
	// mount would land on what the link names).
	t.Run("masked-readonly-path-symlink", func(t *testing.T) {
		e := newEnv(t)
		for _, l := range [][2]string{{"/etc", "masklink"}, {"/etc/passwd", "filelink"}, {"etc", "rolink"}} {
			if err := os.Symlink(l[0], filepath.Join(e.rootfs, l[1])); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			name   string
			mutate func(*specs.Spec)
			want   string
		}{
			{"masked-dir", func(s *specs.Spec) { s.Linux.MaskedPaths = []string{"/masklink"} }, "masked path /masklink"},
			{"masked-file", func(s *specs.Spec) { s.Linux.MaskedPaths = []string{"/filelink"} }, "masked path /filelink"},
			{"masked-through", func(s *specs.Spec) { s.Linux.MaskedPaths = []string{"/masklink/passwd"} }, "masked path /masklink/passwd"},
			{"readonly", func(s *specs.Spec) { s.Linux.ReadonlyPaths = []string{"/rolink"} }, "readonly path /rolink"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := e.sub(t)
				e.fails(tc.want, "run", "--bundle", e.bundle([]string{"true"}, tc.mutate), e.id("link"))
			})
		}
		// The paths themselves (not links) are still masked and read-only.
		out := e.must("run", "--bundle", e.bundle([]string{"sh", "-c", "cat /etc/passwd | wc -c; touch /etc/x 2>/dev/null || echo ro"}, func(s *specs.Spec) {
			s.Linux.MaskedPaths = []string{"/etc/passwd"}
			s.Linux.ReadonlyPaths = []string{"/etc"}
		}), e.id("plain"))
		if strings.Fields(out)[0] != "0" || !strings.Contains(out, "ro") {
			t.Errorf("masked /etc/passwd and read-only /etc: %q", out)
		}
	})

	// CVE-2025-52565: /dev/console a symbolic link (to another file of
	// the root) would put the terminal over that file.
	t.Run("console-symlink", func(t *testing.T) {
		e := e.sub(t)
		dev := userDev(t, map[string]string{"console": "/etc/group"})
		sock := consoleSocket(t)
		id := e.id("console")
		_, stderr, err := e.run("create", "--console-socket", sock, "--bundle", e.bundle([]string{"true"}, func(s *specs.Spec) {
			bindDev(s, dev)
			s.Process.Terminal = true
		}), id)
		if err != nil {
			if !strings.Contains(stderr, "console") {
				t.Errorf("create failed, but not at the console: %s", stderr)
			}
			return
		}
		defer e.run("delete", "--force", id)
		fi, err := os.Stat("/proc/" + strconv.Itoa(e.state(id).Pid) + "/root/etc/group")
		t.Errorf("create succeeded with /dev/console a symbolic link; /etc/group is now %v (%v)", fi.Mode(), err)
	})

	// The runtime's own mounts must not give a container without
	// CAP_SYS_ADMIN, nor a user-namespaced one with every capability in
	// its namespace, a way to the host's procfs, sysfs or cgroupfs: they
	// are read-only or masked, and what the runtime mounted stays locked.
	t.Run("host-proc-sys-cgroup", func(t *testing.T) {
		// First strip what the runtime put in the way, then try to write.
		attack := `busybox umount /proc/timer_list 2>/dev/null && echo "STRIP umount timer_list"
busybox umount -l /proc/sys 2>/dev/null && echo "STRIP umount proc/sys"
busybox umount -l /sys/firmware 2>/dev/null && echo "STRIP umount sys/firmware"
mount -o remount,rw /sys 2>/dev/null && echo "STRIP remount sys"
mount -o remount,rw,bind /proc/sys 2>/dev/null && echo "STRIP remount proc/sys"
w() { (printf %s "$2" > "$1") 2>/dev/null && echo "WROTE $1"; }
w /proc/sys/kernel/printk_ratelimit "$(cat /proc/sys/kernel/printk_ratelimit)"
w /proc/sys/vm/overcommit_ratio "$(cat /proc/sys/vm/overcommit_ratio)"
for c in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do mkdir $c/hostile-escape 2>/dev/null && echo "WROTE mkdir $c" && rmdir $c/hostile-escape; w $c/cgroup.procs $$; done
mkdir /sys/kernel/hostile 2>/dev/null && echo "WROTE mkdir /sys/kernel"
w /sys/kernel/mm/transparent_hugepage/khugepaged/defrag "$(cat /sys/kernel/mm/transparent_hugepage/khugepaged/defrag)"
test -n "$(head -c 16 /proc/timer_list 2>/dev/null)" && echo "READ timer_list"
echo end`
		for _, tc := range []struct {
			name   string
			mutate func(*specs.Spec)
		}{
			{"default-caps", nil},
			{"userns-all-caps", both(userNS(320000), func(s *specs.Spec) {
				c := s.Process.Capabilities
				for _, n := range []string{"CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"} {
					c.Bounding, c.Effective, c.Permitted = append(c.Bounding, n), append(c.Effective, n), append(c.Permitted, n)
				}
			})},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := e.sub(t)
				out := e.must("run", "--bundle", e.bundle([]string{"sh", "-c", attack}, tc.mutate), e.id("hostfs"))
				if !strings.HasSuffix(out, "end\n") || strings.Contains(out, "WROTE") || strings.Contains(out, "READ") {
					t.Errorf("reached the host:\n%s", out)
				}
				// Without CAP_SYS_ADMIN nothing of the runtime's mounts
				// goes. With it in its own user namespace the container may
				// unmount what the runtime mounted there (only mounts
				// inherited from the host are locked, as with runc); the
				// kernel still refuses it the host's sysctls, cgroups and
				// sysfs, which the writes above check.
				if tc.mutate == nil && strings.Contains(out, "STRIP") {
					t.Errorf("stripped the runtime's mounts without CAP_SYS_ADMIN:\n%s", out)
				} else if strings.Contains(out, "STRIP") {
					t.Logf("user-namespaced container removed runtime mounts:\n%s", out)
				}
			})
		}
	})

	// A container racing the creation of another that shares its root
	// filesystem (CVE-2021-30465 class): it swaps a directory on the way
	// to a mount destination for a symbolic link to a host directory, and
	// a file given as a masked path for a link to /etc/passwd. Mounts must
	// stay inside the root; the mask must never land on what the link
	// names; failing create is fine.
	t.Run("symlink-swap-race", func(t *testing.T) {
		e := newEnv(t)
		dir, mnt := shared(t)
		victim := t.TempDir()
		vol := t.TempDir()
		if err := os.WriteFile(filepath.Join(vol, "marker"), []byte("vol"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{"mnt/x", "data"} {
			if err := os.MkdirAll(filepath.Join(e.rootfs, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(e.rootfs, "data/secret"), []byte("secret"), 0o644); err != nil {
			t.Fatal(err)
		}
		race := `while test ! -e /shared/stop; do
rm -rf /mnt/x; ln -s ` + victim + ` /mnt/x; rm -f /mnt/x; mkdir /mnt/x
rm -f /data/secret; ln -s /etc/passwd /data/secret; rm -f /data/secret; echo secret > /data/secret
echo -n s >> /shared/swaps
done`
		_, pid := e.running("racer", both(mnt, func(s *specs.Spec) { s.Process.Args = []string{"sh", "-c", race} }))
		refused := 0
		for range 20 {
			out, stderr, err := e.run("run", "--bundle", e.bundle([]string{"sh", "-c", "wc -c < /etc/passwd"}, func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt/x/vol", Type: "bind", Source: vol, Options: []string{"bind", "ro"}})
				s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/data/secret")
			}), e.id("raced"))
			if err != nil {
				refused++
				t.Logf("refused: %s", strings.TrimSpace(stderr))
				continue
			}
			if strings.TrimSpace(out) == "0" {
				t.Errorf("the mask of /data/secret landed on /etc/passwd")
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "stop"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		waitGone(t, pid)
		if ents, _ := os.ReadDir(victim); len(ents) != 0 {
			t.Errorf("created in the host directory the link named: %v", ents)
		}
		if m := hostMountsUnder(t, victim); len(m) != 0 {
			t.Errorf("mounted on the host: %v", m)
		}
		if b, _ := os.ReadFile(filepath.Join(vol, "marker")); string(b) != "vol" {
			t.Errorf("the volume changed: %q", b)
		}
		swaps, _ := os.ReadFile(filepath.Join(dir, "swaps"))
		if len(swaps) == 0 {
			t.Fatal("no swap happened: the race was not run")
		}
		t.Logf("20 creates raced with %d swaps, %d refused", len(swaps), refused)
	})

	// Executing /proc/self/fd/N (a descriptor the runtime might leak into
	// the exec'd process, such as ocikit's own binary) must fail or run
	// something of the container; the binary stays as it was.
	t.Run("exec-leaked-fd-program", func(t *testing.T) {
		e := e.sub(t)
		before := fileSum(t, e.bin)
		id, _ := e.running("fdprog", nil)
		for n := 3; n <= 12; n++ {
			out, _, err := e.run("exec", id, "/proc/self/fd/"+strconv.Itoa(n))
			if err == nil {
				t.Errorf("exec of /proc/self/fd/%d ran: %q", n, out)
			}
		}
		if fileSum(t, e.bin) != before {
			t.Fatal("the ocikit binary changed")
		}
	})

	// The root of a user-namespaced container (CAP_SYS_PTRACE in its
	// namespace) watches for exec'd processes joining it and tries to read
	// their environment and descriptors before they execve.
	t.Run("userns-ptrace-exec", func(t *testing.T) {
		e := e.sub(t)
		// A directory of the root filesystem (a bind from the host would
		// need the user namespace's root to reach the host path).
		dir := filepath.Join(e.rootfs, "ptracer")
		if err := os.Mkdir(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		watch := `while test ! -e /ptracer/stop; do for p in /proc/[0-9]*; do
if test "$(cat $p/comm 2>/dev/null)" = ocikit:exec; then
  (cat $p/environ; ls $p/fd/) >/dev/null 2>&1 && echo "READ $p" >> /ptracer/log
fi; done; done`
		id, pid := e.running("ptracer", both(userNS(330000), func(s *specs.Spec) {
			s.Process.Args = []string{"sh", "-c", watch}
			c := s.Process.Capabilities
			c.Bounding, c.Effective, c.Permitted = append(c.Bounding, "CAP_SYS_PTRACE"), append(c.Effective, "CAP_SYS_PTRACE"), append(c.Permitted, "CAP_SYS_PTRACE")
		}))
		for range 15 {
			e.must("exec", id, "true")
		}
		if err := os.WriteFile(filepath.Join(dir, "stop"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		waitGone(t, pid)
		if log, _ := os.ReadFile(filepath.Join(dir, "log")); len(log) > 0 {
			t.Errorf("the container read an exec'd process before its execve: %s", log)
		}
	})

	// An image whose /proc or /dev is a symbolic link (CVE-2025-52565's
	// /dev variant): the runtime's procfs must not be mounted where the
	// link points, and /dev/null and /dev/console must not be looked up
	// through it.
	t.Run("image-proc-dev-symlink", func(t *testing.T) {
		for _, tc := range []struct{ dir, target, want string }{
			{"proc", "/sys/fs/cgroup", "proc"},
			{"proc", "/etc", "proc"},
			{"dev", "/etc", "/dev"},
			{"dev", "/proc/sys/kernel", "/dev"},
		} {
			t.Run(tc.dir+"-"+strings.ReplaceAll(strings.Trim(tc.target, "/"), "/", "-"), func(t *testing.T) {
				e := newEnv(t)
				d := filepath.Join(e.rootfs, tc.dir)
				if err := os.Remove(d); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(tc.target, d); err != nil {
					t.Fatal(err)
				}
				out, stderr, err := e.run("run", "--bundle", e.bundle([]string{"sh", "-c", "cat /etc/passwd | wc -c; stat -f -c %T /proc /dev"}, nil), e.id("imglink"))
				if err != nil {
					if !strings.Contains(stderr, tc.want) {
						t.Errorf("refused, but not for %s: %s", tc.want, stderr)
					}
					t.Logf("refused: %s", strings.TrimSpace(stderr))
					return
				}
				// Run: then everything must be where it belongs.
				if f := strings.Fields(out); len(f) != 3 || f[0] == "0" || f[1] != "proc" || f[2] != "tmpfs" {
					t.Errorf("with /%s a link to %s: %q", tc.dir, tc.target, out)
				}
			})
		}
	})
}

// mustRunning starts a container running sleep with mutate and returns its
// id.
func mustRunning(e *env, mutate func(*specs.Spec)) string {
	id, _ := e.running("sleeper", mutate)
	return id
}

// userDev makes a directory to bind onto the container's /dev (the user's
// /dev: ocikit then creates no devices in it) holding the null device and
// the symbolic links links (name → target).
func userDev(t *testing.T, links map[string]string) string {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, ok := links["null"]; !ok {
		if err := unix.Mknod(filepath.Join(dir, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// bindDev replaces the config's /dev tmpfs with a bind of dir.
func bindDev(s *specs.Spec, dir string) {
	for i, m := range s.Mounts {
		if m.Destination == "/dev" {
			s.Mounts[i] = specs.Mount{Destination: "/dev", Type: "bind", Source: dir, Options: []string{"rbind"}}
		}
	}
}

func readHead(t *testing.T, p string) string {
	f, err := os.Open(p)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	buf := make([]byte, 64)
	n, _ := io.ReadFull(f, buf)
	return string(buf[:n])
}

// consoleSocket listens for console masters (--console-socket) and keeps
// them open until the test ends.
func consoleSocket(t *testing.T) string {
	sock := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.AcceptUnix()
			if err != nil {
				return
			}
			buf, oob := make([]byte, 256), make([]byte, unix.CmsgSpace(4))
			_, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
			c.Close()
			if err != nil {
				continue
			}
			if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && len(msgs) == 1 {
				if fds, err := unix.ParseUnixRights(&msgs[0]); err == nil {
					for _, fd := range fds {
						f := os.NewFile(uintptr(fd), "master")
						t.Cleanup(func() { f.Close() })
					}
				}
			}
		}
	}()
	return sock
}
