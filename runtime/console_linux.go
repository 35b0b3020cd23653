package runtime

import (
	"fmt"
	"net"
	"os"

	"github.com/ocikit/ocikit/runtime/rootfs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// setupTerminal gives the container's init its terminal (process.terminal)
// as runc's init does: a new pty of the container's own devpts, opened in
// the root filesystem Prepare left as the working directory, so it is
// /dev/pts/N in the container with the group and mode of that devpts mount
// (gid=5,mode=620 in the usual config). The slave is bound on /dev/console
// and becomes the controlling terminal and stdio (which fixStdioOwner later
// gives to the process's user); the master goes to the runtime over sync,
// which relays it in the foreground or passes it on to --console-socket. A
// container without a devpts of its own (no /dev/pts mount) gets a pty of
// the runtime's, where runc fails.
func (c *initConfig) setupTerminal(sync *os.File) error {
	p := c.Spec.Process
	root, err := unix.Open(".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: "root filesystem", Err: err}
	}
	master, slave, err := openPtyIn(root)
	unix.Close(root)
	if err != nil {
		if master, slave, err = openRuntimePty(); err != nil {
			return err
		}
	}
	defer master.Close()
	if err := rootfs.BindConsole(slave); err != nil {
		slave.Close()
		return err
	}
	if err := sendFd(int(sync.Fd()), syncMsg{Type: msgConsole}, int(master.Fd())); err != nil {
		slave.Close()
		return fmt.Errorf("send pty: %w", err)
	}
	return setupConsole(slave, p.ConsoleSize)
}

// setupConsole makes the pty slave the controlling terminal and the stdio
// of the calling process (and so of the user's program), then closes f.
func setupConsole(f *os.File, size *specs.Box) error {
	defer f.Close()
	fd := int(f.Fd())
	if err := unix.IoctlSetInt(fd, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("set controlling terminal: %w", err)
	}
	if size != nil {
		ws := &unix.Winsize{Row: uint16(size.Height), Col: uint16(size.Width)}
		if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, ws); err != nil {
			return fmt.Errorf("set console size: %w", err)
		}
	}
	for i := 0; i < 3; i++ {
		if err := unix.Dup3(fd, i, 0); err != nil {
			return fmt.Errorf("dup console: %w", err)
		}
	}
	return nil
}

// chownTerminal gives the pty slave to uid and leaves its group, which the
// devpts mount chose, as fixStdioOwner does in the container. A pty the
// runtime opens for exec needs it from the runtime: the runtime's root,
// its owner, is not mapped in a container's user namespace. An owner or
// uid the caller's user namespace does not map (EINVAL, EPERM) leaves the
// terminal as it is.
func chownTerminal(f *os.File, uid int) error {
	err := unix.Fchown(int(f.Fd()), uid, -1)
	if err == nil || err == unix.EINVAL || err == unix.EPERM {
		return nil
	}
	return &os.PathError{Op: "chown", Path: f.Name(), Err: err}
}

// clearONLCR turns off the pty's output translation of NL to CR-NL, as
// runc does for a terminal it relays in the foreground: the program's
// bytes reach the caller as written, and a caller's own terminal
// translates them itself. (TCSETS on the master sets the slave's modes.)
func clearONLCR(master *os.File) error {
	fd := int(master.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return fmt.Errorf("terminal modes: %w", err)
	}
	t.Oflag &^= unix.ONLCR
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return fmt.Errorf("terminal modes: %w", err)
	}
	return nil
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
