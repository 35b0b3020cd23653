package runtime_test

import (
	"errors"
	"os"
	"os/exec"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/runtime"
	"golang.org/x/sys/unix"
)

// mainThreadEnv makes the test binary a probe (TestMain): it runs
// runtime.OnOwnThread from the main thread, left free for the scheduler.
const mainThreadEnv = "_OCIKIT_TEST_MAIN_THREAD"

func init() {
	if os.Getenv(mainThreadEnv) != "" {
		// Keep the main goroutine on the main thread until TestMain.
		goruntime.LockOSThread()
	}
}

// mainThreadProbe is the probe: the main goroutine, on the main thread,
// unlocks it and waits for OnOwnThread. With one P the goroutine that
// OnOwnThread starts runs next on the thread that just blocked: the main
// one. It prints where f ran and whether that thread still exists.
func mainThreadProbe() int {
	goruntime.UnlockOSThread()
	goruntime.GOMAXPROCS(1)
	var tid int
	runtime.OnOwnThread(func() { tid = unix.Gettid() })
	if tid == unix.Getpid() {
		os.Stdout.WriteString("main thread\n")
		return 1
	}
	// The thread exits after f's goroutine, a little after OnOwnThread
	// returned: wait for it (a pidfd of the thread, Linux 6.9), long
	// enough not to mistake a slow exit for a thread kept.
	fd, err := unix.PidfdOpen(tid, unix.PIDFD_THREAD)
	if err == nil {
		n, _ := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 30_000)
		if n == 0 {
			os.Stdout.WriteString("thread kept\n")
			return 1
		}
	} else if !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.EINVAL) {
		os.Stdout.WriteString("pidfd_open: " + err.Error() + "\n")
		return 1
	}
	os.Stdout.WriteString("own thread, ended\n")
	return 0
}

// TestOwnThread checks the thread the runtime prepares a root filesystem
// from (cinit_linux.go prepareOnThread): it is never the main thread,
// whatever thread the scheduler has free. The main thread is the thread
// group leader: if it entered the container's namespaces and root it could
// not end (Go wedges a locked main thread instead of exiting it), and
// /proc/<runtime>/ns/*, /proc/<runtime>/root and the runtime's own
// /proc/self/mountinfo would name the container's for the rest of the
// runtime's life. And it ends with f: no other goroutine ever runs on it.
func TestOwnThread(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), mainThreadEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "own thread, ended" {
		t.Fatalf("OnOwnThread from a free main thread: %v: %s", err, out)
	}
}
