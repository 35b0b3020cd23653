package osthread

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// Run runs f on an OS thread locked to it that ends with it: f may change
// the thread's namespaces and fs_struct for good. The thread is never
// unlocked, so the Go scheduler never runs another goroutine on it.
//
// It is never the main thread, which the scheduler may have free: Go does
// not end a locked main thread when its goroutine returns but parks it for
// good, and as the thread-group leader it is what /proc/<pid>/ns/*,
// /proc/<pid>/root and the process's own /proc/self show. There f is
// handed to a goroutine that cannot run on the main thread while this one
// holds it.
func Run(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			Run(f)
			runtime.UnlockOSThread()
			return
		}
		f()
	}()
	<-done
}
