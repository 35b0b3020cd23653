package fsutil

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// writeback is Writeback's writer; start is called with each range to
// write back (sync_file_range, replaced in tests).
type writeback struct {
	f     *os.File
	off   int64 // where the next write lands
	from  int64 // the first byte not yet handed to writeback
	start func(off, n int64)
}

func newWriteback(f *os.File) io.Writer {
	off, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return f
	}
	w := &writeback{f: f, off: off, from: off}
	w.start = w.syncFileRange
	return w
}

func (w *writeback) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	if w.off-w.from >= writebackChunk {
		w.start(w.from, w.off-w.from)
		w.from = w.off
	}
	return n, err
}

// syncFileRange starts the writeback of n bytes at off. Errors are
// ignored: this is advice (a filesystem may not support it), and the
// fsync that follows reports what matters.
func (w *writeback) syncFileRange(off, n int64) {
	rc, err := w.f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
	})
}
