package fsutil

import (
	"io"
	"sync"
)

// copyBufSize is the buffer of Copy: large enough that a blob of tens of
// megabytes moves in a few hundred reads and writes rather than thousands
// of io.Copy's 32 KiB ones (each a system call, which costs most under
// virtualisation), small enough to keep a handful of concurrent copies
// cheap.
const copyBufSize = 1 << 20

// copyBufs are the buffers of Copy not in use. Buffers are made a few at
// a time (newCopyBufs) and kept for the life of the process: as many as
// copies ran at once, a handful.
var copyBufs struct {
	sync.Mutex
	free [][]byte
}

func getCopyBuf() []byte {
	copyBufs.Lock()
	defer copyBufs.Unlock()
	if len(copyBufs.free) == 0 {
		copyBufs.free = newCopyBufs()
	}
	b := copyBufs.free[len(copyBufs.free)-1]
	copyBufs.free = copyBufs.free[:len(copyBufs.free)-1]
	return b
}

func putCopyBuf(b []byte) {
	copyBufs.Lock()
	copyBufs.free = append(copyBufs.free, b)
	copyBufs.Unlock()
}

// heapCopyBufs is one copy buffer from the Go heap.
func heapCopyBufs() [][]byte { return [][]byte{make([]byte, copyBufSize)} }

// Copy is io.Copy through a pooled 1 MiB buffer, always: dst's ReadFrom
// and src's WriteTo are not used (an *os.File's ReadFrom would fall back
// to 32 KiB reads from a source that is not a file or socket).
func Copy(dst io.Writer, src io.Reader) (int64, error) {
	b := getCopyBuf()
	defer putCopyBuf(b)
	return io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, b)
}
