package fsutil

import (
	"io"
	"os"
)

// writebackChunk is how much a Writeback writer lets pile up before it
// hands it to the kernel's writeback.
const writebackChunk = 8 << 20

// Writeback returns a writer that writes to f (at f's offset, as f.Write
// does) and, every writebackChunk bytes, asks the kernel to start writing
// those bytes to disk without waiting for them (Linux: sync_file_range
// with SYNC_FILE_RANGE_WRITE; elsewhere it is f itself). The fsync that
// makes the file durable then waits for the last chunk only rather than
// for the whole file: a blob of tens of megabytes otherwise waits tens of
// milliseconds in that fsync, on the copy's critical path. It changes
// nothing about durability: only the fsync promises anything.
func Writeback(f *os.File) io.Writer { return newWriteback(f) }
