package progress

import (
	"os"

	"golang.org/x/sys/unix"
)

// isTerminal reports whether f is a terminal bars can be drawn on: one
// with a size (a pty nobody sized has none, and mpb would draw nothing).
func isTerminal(f *os.File) bool {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	return err == nil && ws.Col > 0 && ws.Row > 0
}
