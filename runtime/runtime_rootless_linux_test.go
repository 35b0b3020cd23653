package runtime_test

import (
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

const nobody = 65534

// rootlessEnv is e with a copy of the binary and a state root that an
// unprivileged user (nobody unless said otherwise) can use, and a runner
// executing ocikit as that user.
type rootlessEnv struct {
	*env
	uid, gid uint32
	groups   []uint32 // supplementary groups
	environ  []string // the environment ocikit runs with
}

func newRootlessEnv(t *testing.T) *rootlessEnv {
	return newRootlessEnvAs(t, nobody, nobody, nil)
}

// newRootlessEnvAs is newRootlessEnv for uid and gid with supplementary
// groups.
func newRootlessEnvAs(t *testing.T, uid, gid uint32, groups []uint32) *rootlessEnv {
	e := newEnv(t)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(e.bin)
	if err != nil {
		t.Fatal(err)
	}
	e.bin = filepath.Join(dir, "ocikit")
	if err := os.WriteFile(e.bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	e.root = filepath.Join(dir, "state")
	if err := os.Mkdir(e.root, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(e.root, int(uid), int(gid)); err != nil {
		t.Fatal(err)
	}
	return &rootlessEnv{env: e, uid: uid, gid: gid, groups: append([]uint32{}, groups...), environ: []string{"PATH=/usr/bin:/bin"}}
}

// bundle is a rootless bundle for the user (`ocikit spec --rootless`).
func (e *rootlessEnv) bundle(args []string, mutate func(*specs.Spec)) string {
	b := e.env.bundle(args, func(s *specs.Spec) {
		defaults.ToRootlessFor(s, e.uid, e.gid)
		if mutate != nil {
			mutate(s)
		}
	})
	if err := os.Chmod(b, 0o755); err != nil {
		e.t.Fatal(err)
	}
	return b
}

// run runs ocikit as the user.
func (e *rootlessEnv) run(args ...string) (string, string, error) {
	e.t.Helper()
	cmd := exec.Command(e.bin, append([]string{"--root", e.root}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: e.uid, Gid: e.gid, Groups: e.groups}}
	cmd.Env = e.environ
	return e.capture(cmd)
}

func (e *rootlessEnv) must(args ...string) string {
	e.t.Helper()
	out, stderr, err := e.run(args...)
	if err != nil {
		e.t.Fatalf("ocikit %s as uid %d: %v: %s", strings.Join(args, " "), e.uid, err, stderr)
	}
	return out
}

// TestRootless runs containers as an unprivileged user: without the
// privilege to mount, the init runs from the binary itself when the user
// cannot write it, else from a sealed memfd; gid_map is written after
// setgroups is denied, and cgroups that cannot be created are tolerated
// only in rootless mode (--rootless auto: not root).
func TestRootless(t *testing.T) {
	e := newRootlessEnv(t)
	out := e.must("run", "--bundle", e.bundle([]string{"sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups"}, nil), e.id("run"))
	want := "0\n         0      65534          1\n         0      65534          1\ndeny\n"
	if out != want {
		t.Errorf("rootless run printed %q, want %q", out, want)
	}

	// With a time namespace nsenter unshares the user namespace and the
	// runtime writes the maps (setgroups denied first).
	out = e.must("run", "--bundle", e.bundle([]string{"sh", "-c", "cat /proc/self/gid_map /proc/self/timens_offsets"}, func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
		s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 100}}
	}), e.id("timens"))
	if want := "         0      65534          1\nmonotonic         100         0\nboottime            0         0\n"; out != want {
		t.Errorf("rootless run with a time namespace printed %q, want %q", out, want)
	}

	// The waiting init runs from the binary when nobody cannot write it
	// (it belongs to root), else from a sealed memfd copy.
	for _, owner := range []int{0, nobody} {
		if err := os.Chown(e.bin, owner, owner); err != nil {
			t.Fatal(err)
		}
		id := e.id("created")
		e.must("create", "--bundle", e.bundle([]string{"true"}, nil), id)
		pid := e.state(id).Pid
		exe := "/proc/" + strconv.Itoa(pid) + "/exe"
		link, err := os.Readlink(exe)
		switch {
		case err != nil:
			t.Error(err)
		case owner == 0 && link != e.bin:
			t.Errorf("rootless init runs %q, want the root-owned binary %s", link, e.bin)
		case owner == nobody && !strings.HasPrefix(link, "/memfd:ocikit"):
			t.Errorf("rootless init runs %q, want a memfd copy of nobody's binary", link)
		}
		if owner == nobody {
			if w, err := os.OpenFile(exe, os.O_WRONLY, 0); err == nil {
				_, werr := w.Write([]byte("x"))
				w.Close()
				if werr == nil {
					t.Error("wrote to the rootless init's binary")
				}
			}
		}
		e.must("start", id)
		waitGone(t, pid)
		e.must("delete", id)
	}

	// kill --all without a cgroup of its own signals the init.
	id := e.id("killall")
	e.must("run", "--detach", "--bundle", e.bundle([]string{"sleep", "100"}, nil), id)
	pid := e.state(id).Pid
	e.must("kill", "--all", id, "KILL")
	waitGone(t, pid)
	e.must("delete", id)

	// Explicitly not rootless, the same cgroup error is fatal.
	_, stderr, err := e.run("--rootless=false", "run", "--bundle", e.bundle([]string{"true"}, nil), e.id("strict"))
	if err == nil || !strings.Contains(stderr, "cgroup") {
		t.Errorf("--rootless=false as nobody: %v, stderr %q; want a cgroup error", err, stderr)
	}
	_, stderr, err = e.run("--rootless=maybe", "list")
	if err == nil || strings.TrimSpace(stderr) != `ocikit: --rootless "maybe": want true, false or auto` {
		t.Errorf("--rootless=maybe: %v, stderr %q", err, stderr)
	}
	// No mount, no lock file: nothing remains.
	ents, _ := os.ReadDir(e.root)
	if len(ents) != 0 {
		t.Errorf("state root not empty after delete: %v", ents)
	}
}

// TestRootRemovable: the read-only view of the binary is a detached mount
// that goes away with its last user, so no mount appears under the root
// and a throwaway root is removed with a plain rm -rf, even while a
// container waits for start.
func TestRootRemovable(t *testing.T) {
	e := newEnv(t)
	b := e.bundle([]string{"true"}, nil)
	e.must("run", "--bundle", b, e.id("ran"))
	id := e.id("waiting")
	e.must("create", "--bundle", b, id)
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(mi), "\n") {
		if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], e.root+"/") {
			t.Errorf("mount under the state root: %s", l)
		}
	}
	pid := e.state(id).Pid
	link, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil {
		t.Fatal(err)
	}
	// The init's binary is ocikit's, on a read-only mount.
	var st, self unix.Stat_t
	if err := unix.Stat("/proc/"+strconv.Itoa(pid)+"/exe", &st); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(e.bin, &self); err != nil {
		t.Fatal(err)
	}
	if st.Ino != self.Ino || st.Dev != self.Dev {
		t.Errorf("init runs %s, not ocikit's binary", link)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs("/proc/"+strconv.Itoa(pid)+"/exe", &fs); err != nil || fs.Flags&unix.ST_RDONLY == 0 {
		t.Errorf("init binary's mount flags %#x (%v), want read-only", fs.Flags, err)
	}
	e.must("delete", "--force", id)
	if err := os.RemoveAll(e.root); err != nil {
		t.Errorf("remove the state root: %v", err)
	}
}

// TestSeccompUnderRlimitAS: the seccomp program is compiled by create (and
// cached under the root), so an init whose RLIMIT_AS is below what the Go
// runtime has mapped still loads it.
func TestSeccompUnderRlimitAS(t *testing.T) {
	e := newEnv(t)
	gib := uint64(1 << 30)
	b := e.bundle([]string{"sh", "-c", "ulimit -v; echo ok"}, func(s *specs.Spec) {
		s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_AS", Hard: gib, Soft: gib})
		s.Linux.Seccomp = bigProfile()
	})
	for i := 0; i < 2; i++ { // the second run finds the program in the cache
		if out := e.must("run", "--bundle", b, e.id("rlimit-as")); out != "1048576\nok\n" {
			t.Errorf("run %d printed %q", i, out)
		}
	}
	// The program, and its entry for the C create (seccomp.CEntry),
	// which took the second run.
	cached, _ := filepath.Glob(filepath.Join(e.root, ".seccomp-cache", "*.bpf"))
	forC, _ := filepath.Glob(filepath.Join(e.root, ".seccomp-cache", "c-*.bpf"))
	if len(cached) != 2 || len(forC) != 1 {
		t.Errorf("seccomp cache holds %v, want one program and its entry for the C create", cached)
	}
}

// bigProfile refuses (EPERM) the syscalls a container rarely needs, for
// three architectures and with argument conditions, as container engines'
// default profiles do: libseccomp needs memory to build it.
func bigProfile() *specs.LinuxSeccomp {
	names := strings.Fields(`acct add_key bpf clock_adjtime clock_settime create_module delete_module
		finit_module get_kernel_syms get_mempolicy init_module ioperm iopl kcmp kexec_file_load
		kexec_load keyctl lookup_dcookie mbind mount move_pages nfsservctl open_by_handle_at
		perf_event_open pivot_root process_vm_readv process_vm_writev ptrace query_module quotactl
		reboot request_key set_mempolicy setns settimeofday stime swapon swapoff sysfs _sysctl
		umount umount2 unshare uselib userfaultfd ustat vm86 vm86old fsopen fsconfig fsmount
		fspick move_mount open_tree mount_setattr name_to_handle_at syslog vhangup`)
	eperm := uint(1)
	p := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls:      []specs.LinuxSyscall{{Names: names, Action: specs.ActErrno, ErrnoRet: &eperm}},
	}
	for _, n := range []string{"personality", "clone", "socket", "prctl", "ioctl", "fcntl", "setsockopt"} {
		for v := uint64(1); v < 40; v++ {
			p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{n}, Action: specs.ActErrno, ErrnoRet: &eperm,
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1 << 40, ValueTwo: v, Op: specs.OpMaskedEqual}}})
		}
	}
	return p
}

// TestIDMappedMountInUserNS: an idmapped bind mount for a container in a
// new user namespace is made by the runtime (in the host's user
// namespace), so root-owned host files appear owned by the container's
// root; without idmap they appear as the overflow id.
func TestIDMappedMountInUserNS(t *testing.T) {
	e := newEnv(t)
	src := t.TempDir()
	if err := os.Chmod(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts []string
		want string
	}{
		{"idmap", []string{"bind", "idmap"}, "0:0\n"},
		{"ridmap", []string{"rbind", "ridmap"}, "0:0\n"},
		{"plain", []string{"bind"}, "65534:65534\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := e.sub(t)
			b := e.bundle([]string{"stat", "-c", "%u:%g", "/root/f"}, func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
				s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
				s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/root", Type: "bind", Source: src, Options: tc.opts})
			})
			if out := e.must("run", "--bundle", b, e.id(tc.name)); out != tc.want {
				t.Errorf("owner of the mounted file %q, want %q", out, tc.want)
			}
		})
	}
}

// TestSystemdCgroupUnavailable: --systemd-cgroup on a host without systemd
// fails before any process starts, with one line naming the driver.
func TestSystemdCgroupUnavailable(t *testing.T) {
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Skip("systemd runs on this host")
	}
	e := newEnv(t)
	id := e.id("systemd")
	e.fails("--systemd-cgroup: systemd is not running (no /run/systemd/private): ", "--systemd-cgroup", "run", "--bundle", e.bundle([]string{"true"}, nil), id)
	e.fails("does not exist", "state", id)
}

// TestSmallAddressSpaceRlimits: RLIMIT_AS and RLIMIT_DATA far below what
// the Go init has mapped are set last, just before the execve
// (process.SetRlimitsLate), and the program sees exactly the configured
// values.
func TestSmallAddressSpaceRlimits(t *testing.T) {
	e := newEnv(t)
	const mib32 = uint64(32 << 20)
	b := e.bundle([]string{"sh", "-c", "ulimit -v; ulimit -d; echo ok"}, func(s *specs.Spec) {
		s.Process.Rlimits = append(s.Process.Rlimits,
			specs.POSIXRlimit{Type: "RLIMIT_AS", Hard: mib32, Soft: mib32},
			specs.POSIXRlimit{Type: "RLIMIT_DATA", Hard: mib32, Soft: mib32})
	})
	for i := 0; i < 3; i++ {
		if out := e.must("run", "--bundle", b, e.id("small-as")); out != "32768\n32768\nok\n" {
			t.Errorf("run %d printed %q", i, out)
		}
	}
}

// TestMountSourcesInUserNS: for a container in a user namespace whose root
// is not the host's, the runtime opens bind sources with its own
// privileges (a source behind a directory only the host's root may search
// is bound, as runc 1.1.5 does), and each when the init comes to it, so an
// idmapped mount's source may be something an earlier mount put in place
// (as current runc, which asks the runtime mount by mount).
func TestMountSourcesInUserNS(t *testing.T) {
	e := newEnv(t)
	private := filepath.Join(t.TempDir(), "private") // under a 0700 directory of root's
	if err := os.MkdirAll(filepath.Join(private, "pub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(private, "pub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(private, "pub", "f"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	vol := filepath.Join(private, "vol")
	if err := os.MkdirAll(filepath.Join(vol, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vol, "sub", "g"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// Fresh destinations in the shared rootfs (its root cannot make them).
	dest := "/" + filepath.Base(t.TempDir())
	for _, d := range []string{"pub", "vol", "idm"} {
		if err := os.MkdirAll(filepath.Join(e.rootfs, dest, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Join(e.rootfs, dest)) })
	userns := func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
	}
	for _, c := range []struct {
		name   string
		script string
		mounts []specs.Mount
		want   string
	}{
		{"unreachable", "cat " + dest + "/pub/f", []specs.Mount{
			{Destination: dest + "/pub", Type: "bind", Source: filepath.Join(private, "pub"), Options: []string{"bind", "ro"}},
		}, "hello\n"},
		{"in order", "stat -c %u:%g " + dest + "/idm/g", []specs.Mount{
			{Destination: dest + "/vol", Type: "bind", Source: vol, Options: []string{"rbind"}},
			// Only in the container's mount namespace, once the bind
			// above is there.
			{Destination: dest + "/idm", Type: "bind", Source: filepath.Join(e.rootfs, dest, "vol", "sub"), Options: []string{"bind", "idmap"}},
		}, "0:0\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := e.sub(t)
			b := e.bundle([]string{"sh", "-c", c.script}, func(s *specs.Spec) {
				userns(s)
				s.Mounts = append(s.Mounts, c.mounts...)
			})
			if out := e.must("run", "--bundle", b, e.id("mountsrc")); out != c.want {
				t.Errorf("container printed %q, want %q", out, c.want)
			}
		})
	}
}
