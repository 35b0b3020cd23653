package runtime_test

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestOldSeccompProfile: a container whose seccomp profile refuses the
// syscalls the runtime uses last, as profiles older than them do
// (runtime-tools' default one lacks close_range(2) and statx(2);
// runtime-tools' linux_seccomp refuses getcwd(2)), without
// noNewPrivileges, so the filter is loaded before the user switch. run
// and exec must still start the program: the descriptors are marked
// close-on-exec before the filter, and a refused getcwd is not taken for a
// working directory outside the root. Both failed after the procfs and
// cwd hardening ("close descriptors: ... statx: operation not permitted",
// "cwd: / is outside the container's root filesystem").
func TestOldSeccompProfile(t *testing.T) {
	e := newEnv(t)
	eperm := uint(1)
	profile := func(s *specs.Spec) {
		s.Process.NoNewPrivileges = false
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{
				Names: []string{"close_range", "statx", "getcwd"}, Action: specs.ActErrno, ErrnoRet: &eperm,
			}},
		}
	}
	b := e.bundle([]string{"echo", "ran"}, profile)
	if out := e.must("run", "--bundle", b, e.id("oldsec")); strings.TrimSpace(out) != "ran" {
		t.Errorf("run printed %q, want ran", out)
	}
	id, _ := e.running("oldsecx", profile)
	if out := e.must("exec", id, "echo", "exec"); strings.TrimSpace(out) != "exec" {
		t.Errorf("exec printed %q, want exec", out)
	}
}
