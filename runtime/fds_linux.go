package runtime

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// inheritFDs returns the descriptors a container process gets besides its
// stdio, those the runtime's caller passed from 3 on: listen for socket
// activation (LISTEN_FDS), then preserve (--preserve-fds). It marks every
// other descriptor of this process close-on-exec: nothing else the
// runtime inherited from its caller reaches the container's processes,
// nor holds a caller's pipe open while a container waits to be started
// (runc marks them so before it starts its init).
//
// A passed descriptor must be one the caller passed: open and not
// close-on-exec, which no inherited descriptor is and every descriptor the
// runtime opens itself is. Otherwise a number the caller left free could
// name one of the runtime's own files (the Go runtime's cgroup files, the
// state directory) and hand it to the container.
func inheritFDs(listen, preserve int) ([]*os.File, error) {
	n := listen + preserve
	files := make([]*os.File, 0, n)
	for fd := 3; fd < 3+n; fd++ {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC != 0 {
			if fd < 3+listen {
				return nil, errorf(ErrInvalidSpec, "LISTEN_FDS=%d: descriptor %d was not passed to the runtime", listen, fd)
			}
			return nil, errorf(ErrInvalidSpec, "--preserve-fds %d: descriptor %d was not passed to the runtime", preserve, fd)
		}
		files = append(files, os.NewFile(uintptr(fd), "preserved"))
	}
	if err := closeOnExecFrom(3 + n); err != nil {
		return nil, fmt.Errorf("close descriptors: %w", err)
	}
	return files, nil
}
