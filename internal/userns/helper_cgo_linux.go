//go:build cgo

package userns

/*
#cgo CFLAGS: -Wall -O2
int ocikit_userns_fork(int ready, int hold, int hold_w);
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// cgoHelper: the helper is forked (userns_linux.c).
const cgoHelper = true

// helper is the process holding the new user namespace until end.
type helper struct {
	pid  int
	hold int // the write end of the pipe the helper waits on
}

// start forks the helper (userns_linux.c), waits until it has unshared
// its user namespace and writes its maps.
func start(uids, gids []specs.LinuxIDMapping) (*helper, error) {
	var ready, hold [2]int
	if err := unix.Pipe2(ready[:], unix.O_CLOEXEC); err != nil {
		return nil, os.NewSyscallError("pipe2", err)
	}
	defer unix.Close(ready[0])
	if err := unix.Pipe2(hold[:], unix.O_CLOEXEC); err != nil {
		unix.Close(ready[1])
		return nil, os.NewSyscallError("pipe2", err)
	}
	// The helper holds a copy of every descriptor of this process until
	// end (it is not executed: close-on-exec does not apply), so a pipe's
	// reader elsewhere sees end of file only once it is gone, a few
	// milliseconds later. ForkLock orders this fork with the process
	// starts of syscall and os/exec, as one of theirs.
	syscall.ForkLock.Lock()
	pid := int(C.ocikit_userns_fork(C.int(ready[1]), C.int(hold[0]), C.int(hold[1])))
	syscall.ForkLock.Unlock()
	unix.Close(ready[1])
	unix.Close(hold[0])
	if pid < 0 {
		unix.Close(hold[1])
		return nil, os.NewSyscallError("fork", syscall.Errno(-pid))
	}
	h := &helper{pid: pid, hold: hold[1]}
	var b [1]byte
	n, err := readFull(ready[0], b[:])
	switch {
	case err != nil:
		h.end()
		return nil, os.NewSyscallError("read", err)
	case n == 0:
		h.end()
		return nil, errors.New("exited before it unshared")
	case b[0] != 0:
		h.end()
		return nil, fmt.Errorf("unshare: %w", syscall.Errno(b[0]))
	}
	if err := writeMaps(pid, uids, gids); err != nil {
		h.end()
		return nil, err
	}
	return h, nil
}

func readFull(fd int, b []byte) (int, error) {
	for {
		n, err := unix.Read(fd, b)
		if err != unix.EINTR {
			return n, err
		}
	}
}

// end lets the helper exit and reaps it.
func (h *helper) end() {
	unix.Close(h.hold)
	for {
		if _, err := unix.Wait4(h.pid, nil, 0, nil); err != unix.EINTR {
			return
		}
	}
}
