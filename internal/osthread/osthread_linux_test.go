package osthread

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// probeEnv makes the test binary a probe (TestMain): it calls Run from the
// main thread, left free for the scheduler.
const probeEnv = "_OCIKIT_TEST_OSTHREAD_PROBE"

func init() {
	if os.Getenv(probeEnv) != "" {
		// Keep the main goroutine on the main thread until TestMain.
		runtime.LockOSThread()
	}
}

func TestMain(m *testing.M) {
	if os.Getenv(probeEnv) != "" {
		out, code := probe()
		fmt.Println(out)
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// probe unlocks the main goroutine from the main thread and calls Run.
// With one P the goroutine Run starts runs next on the thread that just
// blocked: the main one. It says where f ran and whether that thread
// ended.
func probe() (string, int) {
	runtime.UnlockOSThread()
	runtime.GOMAXPROCS(1)
	var tid int
	Run(func() { tid = unix.Gettid() })
	if tid == unix.Getpid() {
		return "main thread", 1
	}
	// The thread exits a little after Run returned: wait for it (a pidfd
	// of the thread, Linux 6.9), long enough not to mistake a slow exit
	// for a thread kept.
	fd, err := unix.PidfdOpen(tid, unix.PIDFD_THREAD)
	switch {
	case err == nil:
		defer unix.Close(fd)
		if n, _ := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 30_000); n == 0 {
			return "thread kept", 1
		}
	case !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.EINVAL):
		return "pidfd_open: " + err.Error(), 1
	}
	return "own thread, ended", 0
}

// TestRunNotMainThread checks that f never runs on the main thread, even
// when the scheduler has it free, and that its thread ends with it.
func TestRunNotMainThread(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), probeEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "own thread, ended" {
		t.Fatalf("Run from a free main thread: %v: %s", err, out)
	}
}

// TestRunThreadGone checks that the thread is gone when Run returns, not
// only f: until it exits it is still where f left it. Goroutines spinning
// on more Ps than CPUs make the exiting thread wait for a CPU, as a
// loaded machine does.
func TestRunThreadGone(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4 * runtime.NumCPU()))
	stop := make(chan struct{})
	defer close(stop)
	for range 4 * runtime.NumCPU() {
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
	}
	for i := 0; i < 200; i++ {
		var tid int
		Run(func() { tid = unix.Gettid() })
		if err := unix.Access("/proc/self/task/"+strconv.Itoa(tid), unix.F_OK); err == nil {
			t.Fatalf("run %d: thread %d still there after Run returned", i, tid)
		}
	}
}
