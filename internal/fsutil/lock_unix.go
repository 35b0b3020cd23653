//go:build unix

package fsutil

import (
	"context"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Lock takes a whole-file flock(2) on f, exclusive or shared, waiting for
// other holders. flock locks belong to the open file description, so two
// opens in one process exclude each other just as two processes do. A
// context that can be cancelled is honoured by polling with LOCK_NB and a
// growing sleep (a blocked flock cannot be interrupted); one that cannot
// (context.Background) waits in the kernel, which wakes the waiter at once.
func Lock(ctx context.Context, f *os.File, exclusive bool) error {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	// Uncontended, the lock is taken at once, without asking ctx.Done:
	// ocikit's commands run with a context that starts catching signals
	// when Done is first called (cmd/ocikit's interruptContext).
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			return nil
		}
		if err == unix.EWOULDBLOCK {
			break
		}
		if err != unix.EINTR {
			return &os.PathError{Op: "flock", Path: f.Name(), Err: err}
		}
	}
	if ctx.Done() == nil {
		for {
			err := unix.Flock(int(f.Fd()), how)
			if err == nil {
				return nil
			}
			if err != unix.EINTR {
				return &os.PathError{Op: "flock", Path: f.Name(), Err: err}
			}
		}
	}
	delay := 200 * time.Microsecond
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		switch err {
		case nil:
			return nil
		case unix.EWOULDBLOCK, unix.EINTR:
		default:
			return &os.PathError{Op: "flock", Path: f.Name(), Err: err}
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		if delay < 20*time.Millisecond {
			delay *= 2
		}
	}
}

// TryLock takes an exclusive lock on f without waiting; it reports false
// when another open file description holds a lock.
func TryLock(f *os.File) (bool, error) {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch err {
		case nil:
			return true, nil
		case unix.EWOULDBLOCK:
			return false, nil
		case unix.EINTR:
			continue
		default:
			return false, &os.PathError{Op: "flock", Path: f.Name(), Err: err}
		}
	}
}
