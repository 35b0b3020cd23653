package mutate

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/ocikit/ocikit/errdefs"

	"github.com/ocikit/ocikit/layer"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// ErrNotTar is returned by TarLayer for a file that is not a tar archive.
var ErrNotTar = errdefs.New(errdefs.ErrInvalid, "mutate: not a tar archive")

// DirLayer returns a LayerFunc writing every file under dir (see
// layer.GenerateDir: reproducible order and headers).
func DirLayer(dir string, opts ...layer.GenerateOption) LayerFunc {
	return func(ctx context.Context, w io.Writer) error {
		return layer.GenerateDir(ctx, w, dir, opts...)
	}
}

// TarLayer returns a LayerFunc copying the tar archive at file byte for
// byte, so its DiffID is the digest of the file (after decompression when
// the file is gzip or zstd compressed). The archive is parsed on the way
// through: a file that is not a well-formed tar fails with ErrNotTar.
func TarLayer(file string) LayerFunc {
	return func(ctx context.Context, w io.Writer) error {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		br := bufio.NewReaderSize(f, 1<<20)
		var r io.Reader = br
		magic, _ := br.Peek(4)
		if mt := compressedMediaType(magic); mt != "" {
			dr, err := layer.Decompress(mt, br)
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			defer dr.Close()
			r = dr
		}
		// tar.Reader reads exactly what it parses; tee that to w, then copy
		// whatever follows the end-of-archive marker (padding) as is.
		cw := &ctxWriter{ctx: ctx, w: w}
		tr := tar.NewReader(io.TeeReader(r, cw))
		n := 0
		for {
			_, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				if cw.err != nil {
					return cw.err
				}
				return fmt.Errorf("%s: %w (%v)", file, ErrNotTar, err)
			}
			n++
		}
		if n == 0 {
			return fmt.Errorf("%s: %w (no entries)", file, ErrNotTar)
		}
		// Through cw too: a compressed stream may go on far past the
		// marker (a decompression bomb), and ctx must still stop it.
		if _, err := io.Copy(cw, r); err != nil {
			if cw.err != nil {
				return cw.err
			}
			return fmt.Errorf("%s: %w", file, err)
		}
		return nil
	}
}

func compressedMediaType(magic []byte) string {
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return v1.MediaTypeImageLayerGzip
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return v1.MediaTypeImageLayerZstd
	}
	return ""
}

// ctxWriter stops writing once ctx is done and remembers why a write
// failed, so a failing destination is not mistaken for a bad archive.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
	err error
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if c.err = c.ctx.Err(); c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.err = err
	return n, err
}
