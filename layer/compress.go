package layer

import (
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/ocikit/ocikit/errdefs"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// ErrUnknownCompression is returned by ParseCompression for a name it does
// not know.
var ErrUnknownCompression = errdefs.New(errdefs.ErrUnsupported, "layer: unknown compression")

// Compression is the compression applied to a generated layer.
type Compression int

const (
	// Gzip is application/vnd.oci.image.layer.v1.tar+gzip, the most portable
	// choice (manifest.md: implementations MUST support it).
	Gzip Compression = iota
	// Zstd is application/vnd.oci.image.layer.v1.tar+zstd (manifest.md:
	// implementations SHOULD support it).
	Zstd
	// Uncompressed is application/vnd.oci.image.layer.v1.tar.
	Uncompressed
)

// ParseCompression parses a --compress value: gzip, zstd or none.
func ParseCompression(s string) (Compression, error) {
	switch s {
	case "gzip", "":
		return Gzip, nil
	case "zstd":
		return Zstd, nil
	case "none":
		return Uncompressed, nil
	}
	return 0, fmt.Errorf("%w %q: want gzip, zstd or none", ErrUnknownCompression, s)
}

func (c Compression) String() string {
	switch c {
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	case Uncompressed:
		return "none"
	}
	return fmt.Sprintf("compression(%d)", int(c))
}

// MediaType is the layer media type of a tar compressed with c.
func (c Compression) MediaType() string {
	switch c {
	case Zstd:
		return v1.MediaTypeImageLayerZstd
	case Uncompressed:
		return v1.MediaTypeImageLayer
	}
	return v1.MediaTypeImageLayerGzip
}

// pgzipBlockSize is the block size of the parallel gzip writer. The
// compressed bytes depend on it (each block is deflated separately, primed
// with the previous block's tail), so it is a constant: together with an
// empty header name and a zero header mtime it makes gzip output a function
// of the tar alone.
const pgzipBlockSize = 1 << 20

// Compress returns a writer compressing into w with c. Closing it flushes
// the compressed stream but does not close w. Output is reproducible: the
// same input gives the same bytes on any machine, whatever its CPU count.
func Compress(w io.Writer, c Compression) (io.WriteCloser, error) {
	return CompressLevel(w, c, 0)
}

// CompressLevel is Compress at a level of the format's own scale (gzip 1
// to 9, zstd 1 to 22 mapped to the encoder's four speeds); 0 is the
// format's default. A level out of range is errdefs.ErrInvalid.
func CompressLevel(w io.Writer, c Compression, level int) (io.WriteCloser, error) {
	switch c {
	case Gzip:
		gl := pgzip.DefaultCompression
		if level != 0 {
			if level < pgzip.BestSpeed || level > pgzip.BestCompression {
				return nil, fmt.Errorf("gzip level %d: want 1 to 9: %w", level, errdefs.ErrInvalid)
			}
			gl = level
		}
		// The gzip header carries no name, no mtime and OS 255 (unknown):
		// nothing from the host (RFC 1952 section 2.3.1).
		zw, err := pgzip.NewWriterLevel(w, gl)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		zw.ModTime = time.Unix(0, 0) // MTIME 0: "no time stamp is available"
		if err := zw.SetConcurrency(pgzipBlockSize, 2*runtime.GOMAXPROCS(0)); err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zw, nil
	case Zstd:
		opts := []zstd.EOption{zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0))}
		if level != 0 {
			if level < 1 || level > 22 {
				return nil, fmt.Errorf("zstd level %d: want 1 to 22: %w", level, errdefs.ErrInvalid)
			}
			opts = append(opts, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)))
		}
		zw, err := zstd.NewWriter(w, opts...)
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return zw, nil
	case Uncompressed:
		if level != 0 {
			return nil, fmt.Errorf("level %d without compression: %w", level, errdefs.ErrInvalid)
		}
		return nopCloser{w}, nil
	}
	return nil, fmt.Errorf("%w %v", ErrUnknownCompression, c)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
