package runtime

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ocikit/ocikit/runtime/nsenter"
	"github.com/ocikit/ocikit/runtime/process"
	"github.com/ocikit/ocikit/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// setupProcess gives the calling process the attributes of p, in the order
// the container's init and exec both need, and returns the path of the
// program to execute. prog is the container's compiled seccomp filter (nil
// for none); sync is the socket to the runtime that receives a notify
// descriptor. It completes p.Env as runc does (process.Environ: duplicate
// names collapsed, HOME from the container's /etc/passwd when unset); the
// caller executes the program with it. What must come last (closing
// descriptors, the address-space rlimits, a no_new_privs seccomp filter,
// execve) stays with the caller. The calling process must be in the
// container's root already.
func setupProcess(p *specs.Process, personality *specs.LinuxPersonality, memPolicy *specs.LinuxMemoryPolicy, prog *seccomp.Program, sync *os.File) (string, error) {
	// Read while the process is still root, as runc reads /etc/passwd
	// before it switches to the user.
	p.Env = process.Environ(p.Env, func() string { return process.HomeDir("/etc/passwd", p.User.UID) })
	if err := setOOMScoreAdj(p.OOMScoreAdj); err != nil {
		return "", step("oomScoreAdj", err)
	}
	if err := process.SetScheduler(p.Scheduler); err != nil {
		return "", step("scheduler", err)
	}
	if err := process.SetIOPriority(p.IOPriority); err != nil {
		return "", step("ioPriority", err)
	}
	if err := process.SetPersonality(personality); err != nil {
		return "", step("personality", err)
	}
	if memPolicy != nil {
		if err := process.SetMemoryPolicy(memPolicy); err != nil {
			return "", step("memoryPolicy", err)
		}
	}
	if p.ApparmorProfile != "" {
		if err := process.ApplyAppArmor(p.ApparmorProfile); err != nil {
			return "", step("apparmor", err)
		}
	}
	if p.SelinuxLabel != "" {
		if err := process.SetSELinuxLabel(p.SelinuxLabel); err != nil {
			return "", step("selinux label", err)
		}
	}
	// Without no_new_privs loading a filter needs CAP_SYS_ADMIN, so it
	// happens before the capabilities are dropped; with it, as late as
	// possible (by the caller), so the filter constrains only the program.
	if prog != nil && !p.NoNewPrivileges {
		if err := loadSeccomp(prog, int(sync.Fd()), sync); err != nil {
			return "", err
		}
	}
	// The rlimits before the user and capabilities: raising a hard limit
	// needs CAP_SYS_RESOURCE, which the capabilities below may drop, and
	// RLIMIT_NPROC must apply when setresuid(2) switches to the user, so
	// that execve(2) fails with EAGAIN for a user over it (setrlimit(2)),
	// as with runc. RLIMIT_AS and RLIMIT_DATA below what this Go process
	// has mapped already would make its later mmap(2) calls fail: the
	// caller sets them last, just before execve (SetRlimitsLate), and the
	// seccomp program is compiled by the runtime for the same reason.
	if err := process.SetRlimitsEarly(p.Rlimits); err != nil {
		return "", step("rlimits", err)
	}
	if err := fixStdioOwner(p.User.UID); err != nil {
		return "", step("stdio", err)
	}
	if err := process.SetUser(p); err != nil {
		return "", step("user", err)
	}
	if err := process.ApplyCapabilities(p.Capabilities, process.WithLogger(syncLogger(sync))); err != nil {
		return "", step("capabilities", err)
	}
	if p.NoNewPrivileges {
		if err := process.SetNoNewPrivileges(); err != nil {
			return "", step("noNewPrivileges", err)
		}
	}
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if err := unix.Chdir(cwd); err != nil {
		return "", step("cwd", &os.PathError{Op: "chdir", Path: cwd, Err: err})
	}
	// A cwd such as /proc/self/fd/N lands on whatever descriptor N is at
	// this moment: one the runtime holds (a procfs handle, a namespace or
	// a host directory) would leave the program outside its root, where
	// ".." climbs further (CVE-2024-21626). getcwd(2) tells: it answers
	// "(unreachable)…" (unix.Getwd: ENOENT) for a directory outside the
	// root. Another error is the container's own seccomp filter refusing
	// getcwd(2) (runtime-tools' linux_seccomp does): then it cannot tell.
	// A hostile image cannot arrange that (its config sets the cwd, not
	// the seccomp profile), and the first defence stays: the runtime's
	// descriptors are close-on-exec and its procfs handles private.
	if wd, err := unix.Getwd(); errors.Is(err, unix.ENOENT) || err == nil && !strings.HasPrefix(wd, "/") {
		return "", step("cwd", fmt.Errorf("%s is outside the container's root filesystem", cwd))
	}
	path, err := lookPath(p.Args[0], p.Env)
	if err != nil {
		return "", step("exec", err)
	}
	return path, nil
}

// oomEnv carries process.oomScoreAdj to the nsenter constructor of the init
// or exec'd process, which writes it to the runtime's /proc before joining
// any namespace (nsenter.OOMErrno: its errno when that failed).
const oomEnv = "_OCIKIT_OOM"

// setOOMScoreAdj reports what nsenter did with process.oomScoreAdj, or,
// in a build without it, writes it through a verified procfs handle.
// Never through the container's /proc: a container holding
// CAP_SYS_ADMIN can cover it before an exec (CVE-2025-52881).
func setOOMScoreAdj(adj *int) error {
	if !nsenter.Available {
		return process.SetOOMScoreAdj(adj)
	}
	errno := nsenter.OOMErrno()
	if adj == nil || errno == 0 {
		return nil
	}
	return fmt.Errorf("set %d: %w", *adj, &os.PathError{Op: "write", Path: "/proc/self/oom_score_adj", Err: unix.Errno(errno)})
}
