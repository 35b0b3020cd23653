package runtime

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// sendPidfd sends a pidfd of pid over the unix socket at path, as runc's
// --pidfd-socket does: one message whose data is a name and whose
// SCM_RIGHTS carries the descriptor. The receiver can signal and wait for
// the process without the pid-reuse race.
func sendPidfd(path string, pid int) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("pidfd socket: %w", os.NewSyscallError("pidfd_open", err))
	}
	defer unix.Close(fd)
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("pidfd socket: %w", err)
	}
	defer conn.Close()
	if _, _, err := conn.WriteMsgUnix([]byte("pidfd"), unix.UnixRights(fd), nil); err != nil {
		return fmt.Errorf("pidfd socket %s: send pidfd: %w", path, err)
	}
	return nil
}
