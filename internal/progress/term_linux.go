package progress

import (
	"os"

	"golang.org/x/sys/unix"
)

// terminalWidth returns the width of f when it is a terminal bars can be
// drawn on: one with a size (a pty nobody sized has none).
func terminalWidth(f *os.File) (int, bool) {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Col == 0 || ws.Row == 0 {
		return 0, false
	}
	return int(ws.Col), true
}
