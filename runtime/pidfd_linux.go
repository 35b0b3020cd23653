package runtime

import (
	"fmt"
	"net"
	"os"
	"time"

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

// pidRef refers to a process: through a pidfd where the kernel has them
// (Linux 5.3), which pins the process against pid reuse; on older kernels
// by its pid, checked against its start time before each use, as runc 1.1
// does everywhere.
type pidRef struct {
	pid   int
	start uint64 // /proc/PID/stat start time; 0: not checked
	fd    int    // the pidfd, -1 without pidfds
}

// openPid returns a reference to pid while it is the live process started
// at start, else an error matching unix.ESRCH.
func openPid(pid int, start uint64) (*pidRef, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	switch {
	case err == unix.ENOSYS:
		fd = -1
	case err != nil:
		return nil, os.NewSyscallError("pidfd_open", err)
	}
	p := &pidRef{pid: pid, start: start, fd: fd}
	// The pid still names that process (a pidfd pins it from here on).
	if !alive(pid, start) {
		p.close()
		return nil, os.NewSyscallError("pidfd_open", unix.ESRCH)
	}
	return p, nil
}

func (p *pidRef) close() {
	if p.fd >= 0 {
		unix.Close(p.fd)
		p.fd = -1
	}
}

// signal sends sig; unix.ESRCH once the process has exited.
func (p *pidRef) signal(sig unix.Signal) error {
	if p.fd >= 0 {
		if err := unix.PidfdSendSignal(p.fd, sig, nil, 0); err != nil {
			return os.NewSyscallError("pidfd_send_signal", err)
		}
		return nil
	}
	if !alive(p.pid, p.start) {
		return os.NewSyscallError("kill", unix.ESRCH)
	}
	if err := unix.Kill(p.pid, sig); err != nil {
		return os.NewSyscallError("kill", err)
	}
	return nil
}

// wait returns once the process has exited (a zombie has): poll(2) on the
// pidfd, or, without one, /proc/PID/stat read at growing intervals.
func (p *pidRef) wait() error {
	if p.fd >= 0 {
		return waitPidfd(p.fd)
	}
	for d := 100 * time.Microsecond; alive(p.pid, p.start); d = min(2*d, 10*time.Millisecond) {
		time.Sleep(d)
	}
	return nil
}
