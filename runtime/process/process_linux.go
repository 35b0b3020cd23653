package process

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"github.com/moby/sys/capability"
	"github.com/ocikit/ocikit/convert"
	"github.com/ocikit/ocikit/runtime/rules"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// SetRlimits applies process.rlimits to the calling process (inherited
// across execve). Names are validated first; nothing is set when one is bad.
func SetRlimits(rl []specs.POSIXRlimit) error {
	if err := ValidateRlimits(rl); err != nil {
		return err
	}
	for _, r := range rl {
		lim := unix.Rlimit{Cur: r.Soft, Max: r.Hard}
		if err := unix.Prlimit(0, rlimitResource(r.Type), &lim, nil); err != nil {
			return fmt.Errorf("process: set rlimit %s to %d/%d: %w", r.Type, r.Soft, r.Hard, err)
		}
	}
	return nil
}

// addressSpaceLimits constrain the calling process's own later mmap(2)
// calls. The runtime's Go init keeps running (and mapping memory) between
// setting the rlimits and its execve(2), so a limit below what it has
// mapped already would make the Go runtime fail with "out of memory".
var addressSpaceLimits = map[string]bool{"RLIMIT_AS": true, "RLIMIT_DATA": true}

// SetRlimitsEarly applies the rlimits that may be set while the caller
// still has its privileges (before SetUser and ApplyCapabilities): every
// limit but the address-space ones, whose hard limits it only raises where
// asked (raising needs CAP_SYS_RESOURCE); SetRlimitsLate then sets those
// exactly, right before execve(2). Lowering a limit needs no privilege.
func SetRlimitsEarly(rl []specs.POSIXRlimit) error {
	if err := ValidateRlimits(rl); err != nil {
		return err
	}
	for _, r := range rl {
		res := rlimitResource(r.Type)
		lim := unix.Rlimit{Cur: r.Soft, Max: r.Hard}
		if addressSpaceLimits[r.Type] {
			var cur unix.Rlimit
			if err := unix.Prlimit(0, res, nil, &cur); err != nil {
				return fmt.Errorf("process: get rlimit %s: %w", r.Type, err)
			}
			if r.Hard <= cur.Max {
				continue
			}
			lim = unix.Rlimit{Cur: cur.Cur, Max: r.Hard}
		}
		if err := unix.Prlimit(0, res, &lim, nil); err != nil {
			return fmt.Errorf("process: set rlimit %s to %d/%d: %w", r.Type, lim.Cur, lim.Max, err)
		}
	}
	return nil
}

// SetRlimitsLate sets the address-space rlimits (RLIMIT_AS, RLIMIT_DATA)
// that SetRlimitsEarly left for last; call it just before execve(2).
func SetRlimitsLate(rl []specs.POSIXRlimit) error {
	for _, r := range rl {
		if !addressSpaceLimits[r.Type] {
			continue
		}
		lim := unix.Rlimit{Cur: r.Soft, Max: r.Hard}
		if err := unix.Prlimit(0, rlimitResource(r.Type), &lim, nil); err != nil {
			return fmt.Errorf("process: set rlimit %s to %d/%d: %w", r.Type, r.Soft, r.Hard, err)
		}
	}
	return nil
}

// SetUser switches to process.user: the additional groups (setgroups(2),
// skipped when a user namespace denies it and none are asked for), then
// gid and uid with setresgid/setresuid, keeping the permitted capabilities
// (PR_SET_KEEPCAPS) so ApplyCapabilities can then set the spec's sets for a
// non-root user; and process.user.umask when set.
//
// Go applies setgroups, setresuid and setresgid to all threads of the
// process (since Go 1.16), so a multi-threaded init is consistent.
func SetUser(p *specs.Process) error {
	if p == nil {
		return nil
	}
	u := p.User
	if u.Umask != nil {
		unix.Umask(int(*u.Umask & 0o777))
	}
	gids := make([]int, 0, len(u.AdditionalGids))
	for _, g := range u.AdditionalGids {
		gids = append(gids, int(g))
	}
	if setgroupsAllowed() {
		// syscall.Setgroups, like Setresuid/Setresgid below, changes every
		// thread (credentials are per thread); unix.Setgroups would change
		// only the calling one.
		if err := syscall.Setgroups(gids); err != nil {
			return fmt.Errorf("process: setgroups %v: %w", u.AdditionalGids, err)
		}
	} else if len(gids) > 0 {
		return fmt.Errorf("process: additionalGids %v: setgroups is denied in this user namespace", u.AdditionalGids)
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("process: keep capabilities: %w", err)
	}
	defer unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0) //nolint:errcheck // best effort: keepcaps is cleared on execve anyway
	if err := unix.Setresgid(int(u.GID), int(u.GID), int(u.GID)); err != nil {
		return fmt.Errorf("process: setresgid %d: %w", u.GID, err)
	}
	if err := unix.Setresuid(int(u.UID), int(u.UID), int(u.UID)); err != nil {
		return fmt.Errorf("process: setresuid %d: %w", u.UID, err)
	}
	return nil
}

// maxPasswd bounds how much of a container's /etc/passwd HomeDir reads.
const maxPasswd = 16 << 20

// HomeDir returns the home directory of uid in the passwd(5) file at path,
// read as the calling process sees it (inside the container: after
// pivot_root or chroot), or "/" when there is no such entry, as runc does
// for HOME. The file comes from the container: anything but a regular
// file (a FIFO would block), or a broken one, counts as no entry.
func HomeDir(path string, uid uint32) string {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return "/"
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return "/"
	}
	entries, err := convert.ParsePasswd(io.LimitReader(f, maxPasswd))
	if err != nil {
		return "/"
	}
	for _, e := range entries {
		if e.UID == uid && e.Home != "" {
			return e.Home
		}
	}
	return "/"
}

// setgroupsAllowed reports whether setgroups(2) may be called: not in a user
// namespace whose /proc/self/setgroups says "deny".
func setgroupsAllowed() bool {
	b, err := readProc(procSelf, "setgroups")
	if err != nil {
		return true // no user namespace support: setgroups is governed by CAP_SETGID only
	}
	return strings.TrimSpace(string(b)) != "deny"
}

// ApplyCapabilities sets the five capability sets of process.capabilities:
// the bounding set is dropped first (which needs CAP_SETPCAP, so the
// effective set is first raised to the permitted one), then effective,
// permitted and inheritable, then ambient. A nil c (no
// process.capabilities) means no capabilities at all, as runc does: a root
// process in a container never keeps the caller's full set by omission.
//
// config.md "capabilities" (runtime-spec 1.3): a value that cannot be
// mapped to a kernel interface, or cannot be granted, MUST be logged as a
// warning, and the runtime SHOULD NOT fail for capabilities it cannot
// grant. So unknown names, names newer than the running kernel
// (/proc/sys/kernel/cap_last_cap), and capabilities the caller does not
// hold itself (a runtime in a restricted environment: not in its permitted
// set, which capset(2) cannot add to) are left out, each with one warning
// (WithLogger), as runc and crun do.
func ApplyCapabilities(c *specs.LinuxCapabilities, opts ...Option) error {
	if c == nil {
		c = &specs.LinuxCapabilities{}
	}
	o := newOptions(opts)
	last, err := capability.LastCap()
	if err != nil {
		return fmt.Errorf("process: capabilities: %w", err)
	}
	cur, err := capability.NewPid2(0)
	if err != nil {
		return fmt.Errorf("process: capabilities: %w", err)
	}
	if err := loadCaps(cur, last); err != nil {
		return fmt.Errorf("process: read capabilities: %w", err)
	}
	warned := map[string]bool{}
	warn := func(name, why string) {
		if !warned[name] {
			warned[name] = true
			o.log.Warn("ignoring capability: "+why, "capability", name)
		}
	}
	sets := []struct {
		which capability.CapType
		names []string
	}{
		{capability.BOUNDING, c.Bounding},
		{capability.EFFECTIVE, c.Effective},
		{capability.PERMITTED, c.Permitted},
		{capability.INHERITABLE, c.Inheritable},
		{capability.AMBIENT, c.Ambient},
	}
	want, err := capability.NewPid2(0)
	if err != nil {
		return fmt.Errorf("process: capabilities: %w", err)
	}
	want.Clear(capability.CAPS | capability.BOUNDS | capability.AMBS)
	for _, s := range sets {
		for _, n := range s.names {
			cp, err := ParseCapability(n)
			switch {
			case err != nil:
				warn(n, "unknown")
			case cp > last:
				warn(n, "unknown to the running kernel")
			case !grantable(cur, s.which, cp):
				warn(n, "the runtime does not hold it, so it cannot be granted")
			default:
				want.Set(s.which, cp)
			}
		}
	}
	// Raise the effective set to the permitted one so CAP_SETPCAP (needed
	// to drop from the bounding set) is usable after SetUser cleared it.
	for i := capability.Cap(0); i <= last; i++ {
		if cur.Get(capability.PERMITTED, i) {
			cur.Set(capability.EFFECTIVE, i)
		}
	}
	if err := cur.Apply(capability.CAPS); err != nil {
		return fmt.Errorf("process: raise effective capabilities: %w", err)
	}
	if !cur.Get(capability.EFFECTIVE, capability.CAP_SETPCAP) {
		for i := capability.Cap(0); i <= last; i++ {
			if cur.Get(capability.BOUNDING, i) && !want.Get(capability.BOUNDING, i) {
				return fmt.Errorf("process: drop %s from the bounding set: CAP_SETPCAP is not permitted", capName(i))
			}
		}
	}
	if err := want.Apply(capability.BOUNDS); err != nil {
		return fmt.Errorf("process: drop bounding capabilities: %w", err)
	}
	if err := want.Apply(capability.CAPS); err != nil {
		return fmt.Errorf("process: set capabilities: %w", err)
	}
	// The kernel raises an ambient capability only when it is in both
	// the permitted and the inheritable set (PR_CAP_AMBIENT_RAISE: EPERM
	// otherwise), which configs written by `runc spec` 1.1 and later do
	// not grant (no inheritable set). runc has always gone on without it
	// (1.1 silently, later with a warning), so every raise is tried on
	// its own and a refusal is a warning; config.md "capabilities" lets
	// a runtime not fail for capabilities it cannot grant.
	if err := capability.ResetAmbient(); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("process: reset ambient capabilities: %w", err)
	}
	// One warning names them all: callers such as buildah ask for a dozen
	// on every run.
	var refused []string
	var lastErr error
	for i := capability.Cap(0); i <= last; i++ {
		if !want.Get(capability.AMBIENT, i) {
			continue
		}
		if err := capability.SetAmbient(true, i); err != nil {
			refused, lastErr = append(refused, capName(i)), err
		}
	}
	if len(refused) > 0 {
		o.log.Warn("cannot raise ambient capabilities (each must be permitted and inheritable)",
			"capabilities", strings.Join(refused, ","), "error", lastErr)
	}
	return nil
}

// loadCaps fills c with the calling thread's capability sets from the
// kernel itself (capget(2), PR_CAPBSET_READ, PR_CAP_AMBIENT_IS_SET), not
// from /proc/self/status as capability's Load does: in exec that would be
// the container's /proc, which a container holding CAP_SYS_ADMIN can cover
// with a status file of its own.
func loadCaps(c capability.Capabilities, last capability.Cap) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return os.NewSyscallError("capget", err)
	}
	c.Clear(capability.CAPS | capability.BOUNDS | capability.AMBS)
	for i := capability.Cap(0); i <= last; i++ {
		w, bit := i/32, uint32(1)<<(i%32)
		if data[w].Effective&bit != 0 {
			c.Set(capability.EFFECTIVE, i)
		}
		if data[w].Permitted&bit != 0 {
			c.Set(capability.PERMITTED, i)
		}
		if data[w].Inheritable&bit != 0 {
			c.Set(capability.INHERITABLE, i)
		}
		if r, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(i), 0, 0, 0); err == nil && r == 1 {
			c.Set(capability.BOUNDING, i)
		}
		if r, err := unix.PrctlRetInt(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_IS_SET, uintptr(i), 0, 0); err == nil && r == 1 {
			c.Set(capability.AMBIENT, i)
		}
	}
	return nil
}

// grantable reports whether the caller, with capabilities cur, can put cp
// in set which: nothing adds to the bounding set, and capset(2) keeps the
// permitted set, and the inheritable one short of CAP_SETPCAP, within
// what the caller has; ambient needs permitted.
func grantable(cur capability.Capabilities, which capability.CapType, cp capability.Cap) bool {
	switch which {
	case capability.BOUNDING:
		return cur.Get(capability.BOUNDING, cp)
	case capability.INHERITABLE:
		return cur.Get(capability.PERMITTED, cp) || cur.Get(capability.INHERITABLE, cp)
	default:
		return cur.Get(capability.PERMITTED, cp)
	}
}

// SetNoNewPrivileges sets no_new_privs (config.md "noNewPrivileges").
func SetNoNewPrivileges() error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("process: set no_new_privs: %w", err)
	}
	return nil
}

// SetOOMScoreAdj writes process.oomScoreAdj to /proc/self/oom_score_adj
// of a verified procfs; nil leaves it unchanged, as config.md requires.
// (ocikit's init and exec have it written by the nsenter constructor,
// before they join the container's namespaces; this is for builds
// without it.)
func SetOOMScoreAdj(adj *int) error {
	if adj == nil {
		return nil
	}
	if err := writeProc(procSelf, "oom_score_adj", []byte(strconv.Itoa(*adj))); err != nil {
		return fmt.Errorf("process: set oomScoreAdj %d: %w", *adj, err)
	}
	return nil
}

// SetScheduler applies process.scheduler with sched_setattr(2) to the
// whole process (every thread: the init is multi-threaded, and execve
// keeps the attributes of the thread that calls it).
func SetScheduler(s *specs.Scheduler) error {
	if s == nil {
		return nil
	}
	if err := ValidateScheduler(s); err != nil {
		return err
	}
	attr := &unix.SchedAttr{
		Policy:   schedPolicies[s.Policy],
		Nice:     s.Nice,
		Priority: uint32(s.Priority),
		Runtime:  s.Runtime,
		Deadline: s.Deadline,
		Period:   s.Period,
	}
	for _, f := range s.Flags {
		attr.Flags |= schedFlags[f]
	}
	return forEachThread(func(tid int) error {
		if err := unix.SchedSetAttr(tid, attr, 0); err != nil {
			return fmt.Errorf("process: set scheduler %s: %w", s.Policy, err)
		}
		return nil
	})
}

// forEachThread runs f for every thread of this process.
func forEachThread(f func(tid int) error) error {
	names, err := readProcDir(procSelf, "task")
	if err != nil {
		return f(0)
	}
	for _, n := range names {
		tid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		if err := f(tid); err != nil {
			if errors.Is(err, unix.ESRCH) {
				continue // the thread exited meanwhile
			}
			return err
		}
	}
	return nil
}

// IOPRIO_WHO_PROCESS and the class shift of ioprio_set(2).
const (
	ioprioWhoProcess = 1
	ioprioClassShift = 13
)

// SetIOPriority applies process.ioPriority with ioprio_set(2) to every
// thread of the calling process. Children inherit it, so every process of
// the container gets it (config.md: applied to the container's process
// group); setting it by process group instead would also change the
// caller's processes when the init has not called setsid.
func SetIOPriority(p *specs.LinuxIOPriority) error {
	if p == nil {
		return nil
	}
	if err := ValidateIOPriority(p); err != nil {
		return err
	}
	prio := ioprioClasses[p.Class]<<ioprioClassShift | p.Priority
	return forEachThread(func(tid int) error {
		if _, _, e := unix.Syscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, uintptr(tid), uintptr(prio)); e != 0 {
			return fmt.Errorf("process: set ioPriority %s/%d: %w", p.Class, p.Priority, e)
		}
		return nil
	})
}

// SetPersonality applies linux.personality with personality(2).
func SetPersonality(p *specs.LinuxPersonality) error {
	if p == nil {
		return nil
	}
	if err := ValidatePersonality(p); err != nil {
		return err
	}
	if _, _, e := unix.Syscall(unix.SYS_PERSONALITY, personalities[p.Domain], 0, 0); e != 0 {
		return fmt.Errorf("process: set personality %s: %w", p.Domain, e)
	}
	return nil
}

// SetMemoryPolicy applies linux.memoryPolicy with set_mempolicy(2). The
// policy is per thread and inherited by children and across execve: call
// it on the thread that will execve (runtime.LockOSThread).
func SetMemoryPolicy(p *specs.LinuxMemoryPolicy) error {
	if p == nil {
		return nil
	}
	mode, mask, err := memoryPolicyArgs(p)
	if err != nil {
		return err
	}
	var ptr unsafe.Pointer
	maxnode := uintptr(0)
	if len(mask) > 0 {
		ptr = unsafe.Pointer(&mask[0])
		maxnode = uintptr(len(mask)*64 + 1) // the kernel reads maxnode-1 bits
	}
	if _, _, e := unix.Syscall(unix.SYS_SET_MEMPOLICY, uintptr(mode), uintptr(ptr), maxnode); e != 0 {
		return fmt.Errorf("process: set memoryPolicy %s %q: %w", p.Mode, p.Nodes, e)
	}
	return nil
}

// AppArmorEnabled reports whether AppArmor is enabled on this host.
func AppArmorEnabled() bool {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	if err != nil || !bytes.HasPrefix(b, []byte("Y")) {
		return false
	}
	_, err = os.Stat("/sys/kernel/security/apparmor")
	return err == nil
}

// ApplyAppArmor makes the next execve of the calling thread switch to
// profile (process.apparmorProfile). An empty profile does nothing. The
// attribute is per thread: call it on the thread that will execve
// (runtime.LockOSThread).
func ApplyAppArmor(profile string) error {
	if profile == "" {
		return nil
	}
	if !AppArmorEnabled() {
		return fmt.Errorf("%w: %q", ErrAppArmorUnavailable, profile)
	}
	data := []byte("exec " + profile)
	for _, p := range []string{"attr/apparmor/exec", "attr/exec"} {
		err := writeProc(procThreadSelf, p, data)
		if err == nil {
			return nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("process: apparmor profile %q: %w", profile, err)
		}
	}
	return fmt.Errorf("%w: %q", ErrAppArmorUnavailable, profile)
}

// SELinuxEnabled reports whether SELinux is enabled on this host.
func SELinuxEnabled() bool {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/selinux", &st); err != nil || st.Type != unix.SELINUX_MAGIC {
		return false
	}
	_, err := os.Stat("/sys/fs/selinux/enforce")
	return err == nil
}

// SetSELinuxLabel makes the next execve of the calling thread run with
// label (process.selinuxLabel). An empty label does nothing. Call it on the
// thread that will execve (runtime.LockOSThread).
func SetSELinuxLabel(label string) error {
	if label == "" {
		return nil
	}
	if !SELinuxEnabled() {
		return fmt.Errorf("%w: %q", ErrSELinuxUnavailable, label)
	}
	if err := writeProc(procThreadSelf, "attr/exec", []byte(label)); err != nil {
		return fmt.Errorf("process: selinux label %q: %w", label, err)
	}
	return nil
}

// WriteSysctls writes linux.sysctl under /proc/sys of the calling
// process's namespaces. Keys must be namespaced sysctls (SysctlNamespace);
// create should have run ValidateSysctls against linux.namespaces, which
// also checks that the container has the namespace each key needs.
func WriteSysctls(sysctl map[string]string) error {
	for _, k := range sortedKeys(sysctl) {
		if SysctlNamespace(k) == "" || strings.Contains(k, "..") {
			return invalid("sysctl %q: not namespaced, it would change the host", k)
		}
		p := "sys/" + strings.ReplaceAll(k, ".", "/")
		if strings.Contains(k, "/") {
			p = "sys/" + k
		}
		if err := writeProc(procRoot, p, []byte(sysctl[k])); err != nil {
			return fmt.Errorf("process: sysctl %s=%s: %w", k, sysctl[k], err)
		}
	}
	return nil
}

// SetCPUAffinity pins every thread of the calling process to cpus, a list
// such as "0-3,7" (process.execCPUAffinity: the runtime applies "initial"
// before joining the container's cgroup and "final" after). An empty list
// does nothing (config.md: without final the affinity is left to the kernel).
func SetCPUAffinity(cpus string) error {
	mask, err := parseList("cpu affinity", cpus, 8192)
	if err != nil || len(mask) == 0 {
		return err
	}
	var set unix.CPUSet
	for i, w := range mask {
		for b := 0; b < 64; b++ {
			if w&(1<<b) != 0 {
				cpu := i*64 + b
				if cpu >= len(set)*64 {
					return invalid("cpu affinity %q: cpu %d beyond the supported %d", cpus, cpu, len(set)*64)
				}
				set.Set(cpu)
			}
		}
	}
	return forEachThread(func(tid int) error {
		if err := unix.SchedSetaffinity(tid, &set); err != nil {
			return fmt.Errorf("process: set cpu affinity %q: %w", cpus, err)
		}
		return nil
	})
}

// rlimitResource is the resource number of a validated rlimit type.
func rlimitResource(name string) int {
	n, _ := rules.Rlimit(name)
	return n
}
