package runtime

import (
	"os"

	"github.com/ocikit/ocikit/runtime/process"
	"github.com/ocikit/ocikit/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// setupProcess gives the calling process the attributes of p, in the order
// the container's init and exec both need, and returns the path of the
// program to execute. prog is the container's compiled seccomp filter (nil
// for none); sync is the socket to the runtime that receives a notify
// descriptor. What must come last (closing descriptors, the address-space
// rlimits, a no_new_privs seccomp filter, execve) stays with the caller.
func setupProcess(p *specs.Process, personality *specs.LinuxPersonality, memPolicy *specs.LinuxMemoryPolicy, prog *seccomp.Program, sync *os.File) (string, error) {
	if err := process.SetOOMScoreAdj(p.OOMScoreAdj); err != nil {
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
	if err := process.ApplyCapabilities(p.Capabilities); err != nil {
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
	path, err := lookPath(p.Args[0], p.Env)
	if err != nil {
		return "", step("exec", err)
	}
	return path, nil
}
