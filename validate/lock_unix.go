//go:build unix

package validate

import (
	"context"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// lockShared takes a shared flock(2) on the layout directory, the lock
// package layout's readers take (its writers of index.json and its GC take
// it exclusive), so an `ocikit image gc` cannot delete blobs in the middle
// of a validation. It waits, polling, until ctx ends; the returned function
// releases the lock. A directory that cannot be locked is validated
// unlocked (the error says why).
func lockShared(ctx context.Context, dir string) (func(), error) {
	d, err := os.Open(dir)
	if err != nil {
		return func() {}, err
	}
	delay := 200 * time.Microsecond
	for {
		err := unix.Flock(int(d.Fd()), unix.LOCK_SH|unix.LOCK_NB)
		switch err {
		case nil:
			return func() { d.Close() }, nil
		case unix.EWOULDBLOCK, unix.EINTR:
		default:
			d.Close()
			return func() {}, &os.PathError{Op: "flock", Path: dir, Err: err}
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			d.Close()
			return func() {}, ctx.Err()
		case <-t.C:
		}
		if delay < 20*time.Millisecond {
			delay *= 2
		}
	}
}
