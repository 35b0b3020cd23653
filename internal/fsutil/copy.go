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

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// Copy is io.Copy through a pooled 1 MiB buffer, always: dst's ReadFrom
// and src's WriteTo are not used (an *os.File's ReadFrom would fall back
// to 32 KiB reads from a source that is not a file or socket).
func Copy(dst io.Writer, src io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	return io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, *bp)
}
