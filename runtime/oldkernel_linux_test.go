package runtime_test

import (
	"os"
	"os/exec"
	goruntime "runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/ocikit/ocikit/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// oldKernelEnv, set in the environment of this test binary, makes it a
// launcher instead (TestMain): it installs a seccomp filter under which
// the system calls Linux added after 5.1 fail with ENOSYS, as they do on
// the kernels of Debian 10 (4.19) and RHEL 8 (4.18), and executes its
// arguments. The runtime's fallbacks for the new mount API (5.2),
// clone3 and pidfds (5.3), openat2 (5.6), faccessat2 (5.8), close_range
// (5.9) and mount_setattr (5.12) are otherwise never exercised on the
// kernels these tests run on.
const oldKernelEnv = "OCIKIT_TEST_OLD_KERNEL"

// newerSyscalls are the system calls the launcher makes fail with ENOSYS.
var newerSyscalls = []string{
	"open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", // 5.2
	"pidfd_open", "clone3", // 5.3
	"pidfd_getfd",     // 5.6
	"openat2",         // 5.6
	"faccessat2",      // 5.8
	"close_range",     // 5.9
	"process_madvise", // 5.10
	"epoll_pwait2",    // 5.11
	"mount_setattr",   // 5.12
}

func TestMain(m *testing.M) {
	if os.Getenv(oldKernelEnv) != "" {
		execOldKernel()
	}
	os.Exit(m.Run())
}

// execOldKernel is the launcher: the filter, then execve of os.Args[1:].
func execOldKernel() {
	// The filter goes on this thread, the one that calls execve.
	goruntime.LockOSThread()
	cfg := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{{
			Names:    newerSyscalls,
			Action:   specs.ActErrno,
			ErrnoRet: &[]uint{uint(syscall.ENOSYS)}[0],
		}},
	}
	fail := func(err error) {
		os.Stderr.WriteString("old kernel launcher: " + err.Error() + "\n")
		os.Exit(125)
	}
	if _, err := seccomp.Load(cfg); err != nil {
		fail(err)
	}
	env := make([]string, 0, len(os.Environ()))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, oldKernelEnv+"=") {
			env = append(env, kv)
		}
	}
	fail(syscall.Exec(os.Args[1], os.Args[1:], env))
}

// oldKernel runs ocikit with args under the launcher and returns stdout,
// stderr and the error.
func (e *env) oldKernel(args ...string) (string, string, error) {
	e.t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{e.bin, "--root", e.root}, args...)...)
	cmd.Env = append(os.Environ(), oldKernelEnv+"=1")
	return e.capture(cmd)
}

// TestOldKernel runs the container lifecycle without the system calls
// Linux added after 5.1: the default configuration (proc, sysfs, cgroup,
// devpts, masked and read-only paths), exec into it, and a container
// that prints what it sees.
func TestOldKernel(t *testing.T) {
	e := newEnv(t)
	t.Run("run", func(t *testing.T) {
		e := e.sub(t)
		// /proc/kcore is masked (a bind of /dev/null), /proc/acpi too
		// (a tmpfs), /proc/sys is read-only (a bind of itself).
		script := `echo pid $$; test -s /proc/kcore || echo kcore masked; grep -E ' /proc/(sys|acpi) ' /proc/self/mountinfo`
		b := e.bundle([]string{"/bin/sh", "-c", script}, nil)
		out, stderr, err := e.oldKernel("run", "--bundle", b, e.id("old-run"))
		if err != nil {
			t.Fatalf("run: %v: %s", err, stderr)
		}
		for _, want := range []string{"pid 1\nkcore masked\n", " /proc/sys ro,", " /proc/acpi ro,"} {
			if !strings.Contains(out, want) {
				t.Errorf("run printed %q, want %q in it", out, want)
			}
		}
	})
	t.Run("exec", func(t *testing.T) {
		e := e.sub(t)
		id := e.id("old-exec")
		b := e.bundle([]string{"/bin/sleep", "60"}, nil)
		if _, stderr, err := e.oldKernel("run", "--detach", "--bundle", b, id); err != nil {
			t.Fatalf("run --detach: %v: %s", err, stderr)
		}
		out, stderr, err := e.oldKernel("exec", id, "/bin/sh", "-c", "echo in $(readlink /proc/1/exe)")
		if err != nil {
			t.Fatalf("exec: %v: %s", err, stderr)
		}
		if strings.TrimSpace(out) != "in /bin/busybox" {
			t.Errorf("exec printed %q", out)
		}
		if _, stderr, err := e.oldKernel("kill", id, "KILL"); err != nil {
			t.Fatalf("kill: %v: %s", err, stderr)
		}
		if _, stderr, err := e.oldKernel("delete", "--force", id); err != nil {
			t.Fatalf("delete: %v: %s", err, stderr)
		}
	})
	t.Run("events", func(t *testing.T) {
		// Without pidfds events looks at the init every 100 ms: it must
		// still end when the container stops.
		e := e.sub(t)
		id := e.id("old-events")
		b := e.bundle([]string{"/bin/sleep", "1"}, nil)
		if _, stderr, err := e.oldKernel("run", "--detach", "--bundle", b, id); err != nil {
			t.Fatalf("run --detach: %v: %s", err, stderr)
		}
		out, stderr, err := e.oldKernel("events", "--interval", "300ms", id)
		if err != nil {
			t.Fatalf("events: %v: %s", err, stderr)
		}
		if !strings.Contains(out, `"type":"stats"`) {
			t.Errorf("events printed no stats: %q", out)
		}
	})
}
