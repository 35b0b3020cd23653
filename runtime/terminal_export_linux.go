package runtime

import (
	"os"

	"golang.org/x/sys/unix"
)

// For runtimes that wrap this one (package vm): the pty, console socket
// and foreground relay the runtime itself uses, so that they exist once.

// OpenPty opens a pseudo-terminal in the caller's devpts; the slave is in
// raw mode (no echo, no line editing, no output translation): a relay
// whose other end is another terminal passes bytes unchanged.
func OpenPty() (master, slave *os.File, err error) {
	master, slave, err = openRuntimePty()
	if err != nil {
		return nil, nil, err
	}
	if t, terr := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS); terr == nil {
		makeRaw(t)
		unix.IoctlSetTermios(int(slave.Fd()), unix.TCSETS, t)
	}
	return master, slave, nil
}

// SendConsole sends a pty master to a console socket, as runc does.
func SendConsole(path string, master *os.File) error { return sendConsole(path, master) }

// TTYRelay copies between a pty master and the caller's stdio, with the
// caller's terminal in raw mode, as `run` and `exec` do in the foreground.
type TTYRelay struct{ t *ttyCopy }

// RelayTTY starts copying: in to master, master to out.
func RelayTTY(master, in, out *os.File) *TTYRelay { return &TTYRelay{newTTYCopy(master, in, out)} }

// Resize gives the master the caller's window size (on SIGWINCH).
func (r *TTYRelay) Resize() { r.t.resize() }

// Finish drains the output, closes the master and restores the caller's
// terminal.
func (r *TTYRelay) Finish() { r.t.finish() }

// makeRaw is cfmakeraw(3).
func makeRaw(raw *unix.Termios) {
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN] = 1
	raw.Cc[unix.VTIME] = 0
}
