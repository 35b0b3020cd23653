package registry

import (
	"fmt"
	"io"
	"os"
	"strconv"
)

// canReopen: a file can be opened again through /proc/self/fd.
const canReopen = true

// reopenFile opens f's file again, read-only and positioned at off: a
// file description of its own, whose offset no other request moves (a
// dup(2) would share f's), for an HTTP client that reads it with
// sendfile(2) and closes it when the request is done.
func reopenFile(f *os.File, off int64) (*os.File, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var fd uintptr
	if err := rc.Control(func(d uintptr) { fd = d }); err != nil {
		return nil, err
	}
	g, err := os.Open("/proc/self/fd/" + strconv.FormatUint(uint64(fd), 10))
	if err != nil {
		return nil, fmt.Errorf("reopen %s: %w", f.Name(), err)
	}
	if _, err := g.Seek(off, io.SeekStart); err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}
