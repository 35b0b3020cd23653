package fsutil

import (
	"context"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/ocikit/ocikit/errdefs"
)

// ErrTooLarge is returned by ReadFileLimit for a file over its limit.
var ErrTooLarge = errdefs.New(errdefs.ErrInvalid, "file too large")

// ErrNotRegular is returned by ReadFileLimit for anything but a regular
// file.
var ErrNotRegular = errdefs.New(errdefs.ErrInvalid, "not a regular file")

// ReadFileLimit reads a whole regular file of at most max bytes; a larger
// one is an error wrapping ErrTooLarge, found without reading more than
// max+1 bytes (a hostile document cannot exhaust memory). Anything but a
// regular file is refused (ErrNotRegular): a FIFO would block the read
// forever, a device could be endless. The file is checked once open, so
// it cannot be swapped between the check and the read. Those two errors
// do not repeat the path: the caller names the file as its user knows it.
func ReadFileLimit(path string, max int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w (%s)", ErrNotRegular, st.Mode().Type())
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("larger than %d bytes: %w", max, ErrTooLarge)
	}
	return data, nil
}

// ContextReader reads r until ctx is done, then fails with ctx's error:
// a long copy stops at the next read once it is cancelled.
func ContextReader(ctx context.Context, r io.Reader) io.Reader {
	return &ctxReader{ctx: ctx, r: r}
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
