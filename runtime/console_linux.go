package runtime

import (
	"fmt"
	"net"
	"os"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// openPty opens a new pseudo-terminal in the runtime's devpts: the master
// and the slave's path. The slave is bind-mounted on the container's
// /dev/console and becomes the process's stdio.
func openPty() (master *os.File, slavePath string, err error) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, "", &os.PathError{Op: "open", Path: "/dev/ptmx", Err: err}
	}
	master = os.NewFile(uintptr(fd), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, "", fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, "", fmt.Errorf("pty number: %w", err)
	}
	return master, "/dev/pts/" + strconv.Itoa(n), nil
}

// openSlave opens the pty's slave side without making it our controlling
// terminal.
func openSlave(path string) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

func setConsoleSize(f *os.File, sz *specs.Box) error {
	if sz == nil {
		return nil
	}
	return unix.IoctlSetWinsize(int(f.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(sz.Height), Col: uint16(sz.Width)})
}

// sendConsole sends the pty master over the unix socket at path as runc
// does (the protocol of runc's recvtty and containerd's shim): one message
// whose data is the file's name and whose SCM_RIGHTS carries the fd.
func sendConsole(path string, master *os.File) error {
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("console socket: %w", err)
	}
	defer conn.Close()
	oob := unix.UnixRights(int(master.Fd()))
	if _, _, err := conn.WriteMsgUnix([]byte(master.Name()), oob, nil); err != nil {
		return fmt.Errorf("console socket %s: send pty: %w", path, err)
	}
	return nil
}
