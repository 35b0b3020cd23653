//go:build unix

package layout

import (
	"context"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// flock takes a whole-file lock on f (exclusive or shared). flock(2) locks
// belong to the open file description, so two opens in one process exclude
// each other just as two processes do. A blocked flock(2) cannot be
// interrupted by ctx, so waiting polls with LOCK_NB and a growing sleep.
func flock(ctx context.Context, f *os.File, exclusive bool) error {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
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

// tryFlock takes an exclusive lock on f without waiting; it reports false if
// another open file description holds a lock.
func tryFlock(f *os.File) (bool, error) {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	switch err {
	case nil:
		return true, nil
	case unix.EWOULDBLOCK:
		return false, nil
	default:
		return false, &os.PathError{Op: "flock", Path: f.Name(), Err: err}
	}
}
