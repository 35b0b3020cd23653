package osthread

import (
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Run runs f on an OS thread locked to it that ends with it: f may change
// the thread's namespaces and fs_struct for good. The thread is never
// unlocked, so the Go scheduler never runs another goroutine on it. Run
// returns once the thread is gone, not only f: until then the thread is
// still in the namespaces and root f left it in.
//
// It is never the main thread, which the scheduler may have free: Go does
// not end a locked main thread when its goroutine returns but parks it for
// good, and as the thread-group leader it is what /proc/<pid>/ns/*,
// /proc/<pid>/root and the process's own /proc/self show. There f is
// handed to a goroutine that cannot run on the main thread while this one
// holds it.
func Run(f func()) {
	done := make(chan struct{})
	tid := 0
	go func() {
		defer close(done)
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			Run(f)
			runtime.UnlockOSThread()
			return
		}
		tid = unix.Gettid()
		f()
	}()
	<-done
	if tid != 0 {
		waitGone(tid)
	}
}

// waitGone waits, for at most a second, until thread tid of this process
// has exited: Go ends a locked thread once its goroutine has returned,
// after done is closed. It takes microseconds; a loaded machine can
// deschedule the thread in between (TestRootThreadContained saw the
// container run while the thread was still inside).
func waitGone(tid int) {
	path := "/proc/self/task/" + strconv.Itoa(tid)
	for range 10000 {
		if err := unix.Access(path, unix.F_OK); err != nil {
			return // gone (or no /proc to ask)
		}
		time.Sleep(100 * time.Microsecond)
	}
}
