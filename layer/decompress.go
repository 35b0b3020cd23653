package layer

import (
	"bufio"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Docker's layer media types (image-spec media-types.md "Compatibility
// Matrix": the gzip one is interchangeable with the OCI tar+gzip type).
const (
	MediaTypeDockerLayer     = "application/vnd.docker.image.rootfs.diff.tar"
	MediaTypeDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	MediaTypeDockerForeign   = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
)

type codec uint8

const (
	codecNone codec = iota
	codecGzip
	codecZstd
)

// decompressorFor maps a layer media type to its compression, or fails with
// ErrUnsupportedMediaType. Non-distributable types are accepted: layer.md
// says such a media type SHOULD NOT affect whether an implementation
// downloads (and so uses) the layer.
func decompressorFor(mediaType string) (codec, error) {
	switch mediaType {
	case v1.MediaTypeImageLayer, v1.MediaTypeImageLayerNonDistributable, MediaTypeDockerLayer: //nolint:staticcheck // deprecated, still to be read
		return codecNone, nil
	case v1.MediaTypeImageLayerGzip, v1.MediaTypeImageLayerNonDistributableGzip, MediaTypeDockerLayerGzip, MediaTypeDockerForeign: //nolint:staticcheck
		return codecGzip, nil
	case v1.MediaTypeImageLayerZstd, v1.MediaTypeImageLayerNonDistributableZstd: //nolint:staticcheck
		return codecZstd, nil
	}
	return codecNone, fmt.Errorf("%w %q", ErrUnsupportedMediaType, mediaType)
}

// gzip read-ahead: 1 MiB blocks, 4 in flight. Decompression of one gzip
// stream is sequential; pgzip runs it in its own goroutine ahead of the
// reader, so inflating overlaps with hashing and file creation.
const (
	gzipBlockSize = 1 << 20
	gzipBlocks    = 4
)

// Decompress returns the uncompressed tar stream of a layer blob of the
// given media type. It fails with ErrUnsupportedMediaType for anything but
// the OCI layer types (tar, tar+gzip, tar+zstd, and their non-distributable
// variants) and Docker's rootfs.diff.tar(.gzip). A gzip stream with a bad
// header fails here; other corruption fails on Read. Close releases the
// decompressor; it does not close r.
func Decompress(mediaType string, r io.Reader) (io.ReadCloser, error) {
	c, err := decompressorFor(mediaType)
	if err != nil {
		return nil, err
	}
	switch c {
	case codecGzip:
		// pgzip reads through a 4 KiB bufio.Reader unless r is already an
		// io.ByteReader: give it a large one (fewer read syscalls).
		if _, ok := r.(io.ByteReader); !ok {
			r = bufio.NewReaderSize(r, gzipBlockSize)
		}
		z, err := pgzip.NewReaderN(r, gzipBlockSize, gzipBlocks)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return &gzipReader{z: z}, nil
	case codecZstd:
		z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(2), zstd.WithDecoderLowmem(false))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return &zstdReader{z: z}, nil
	}
	return io.NopCloser(r), nil
}

type gzipReader struct{ z *pgzip.Reader }

func (g *gzipReader) Read(p []byte) (int, error) {
	n, err := g.z.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("gzip: %w", err)
	}
	return n, err
}

func (g *gzipReader) Close() error { return g.z.Close() }

type zstdReader struct {
	z    *zstd.Decoder
	once sync.Once
}

func (d *zstdReader) Read(p []byte) (int, error) {
	n, err := d.z.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("zstd: %w", err)
	}
	return n, err
}

func (d *zstdReader) Close() error {
	d.once.Do(d.z.Close)
	return nil
}

// hashPipe reads src in a goroutine, hashes what it reads and hands the
// chunks to the reader: hashing the uncompressed stream (diff_id) runs
// beside the tar reader and file creation instead of in front of them.
type hashPipe struct {
	h      hash.Hash
	chunks chan []byte
	free   chan []byte
	quit   chan struct{}
	done   chan struct{}
	err    error // set by the goroutine before close(chunks)
	cur    []byte
	buf    []byte // the chunk cur points into, returned to free when used up
	once   sync.Once
}

const (
	pipeChunk  = 1 << 20
	pipeChunks = 4
)

func newHashPipe(src io.Reader, h hash.Hash) *hashPipe {
	p := &hashPipe{
		h:      h,
		chunks: make(chan []byte, pipeChunks),
		free:   make(chan []byte, pipeChunks),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	for range pipeChunks {
		p.free <- make([]byte, pipeChunk)
	}
	go p.run(src)
	return p
}

func (p *hashPipe) run(src io.Reader) {
	defer close(p.done)
	defer close(p.chunks)
	for {
		var b []byte
		select {
		case b = <-p.free:
		case <-p.quit:
			return
		}
		n, err := io.ReadFull(src, b[:cap(b)])
		if n > 0 {
			p.h.Write(b[:n])
			select {
			case p.chunks <- b[:n]:
			case <-p.quit:
				return
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return
		}
		if err != nil {
			p.err = err
			return
		}
	}
}

func (p *hashPipe) Read(b []byte) (int, error) {
	if len(p.cur) == 0 {
		if p.buf != nil {
			p.free <- p.buf
			p.buf = nil
		}
		c, ok := <-p.chunks
		if !ok {
			if p.err != nil {
				return 0, p.err
			}
			return 0, io.EOF
		}
		p.buf, p.cur = c, c
	}
	n := copy(b, p.cur)
	p.cur = p.cur[n:]
	return n, nil
}

// WriteTo lets io.Copy hand out whole chunks without copying.
func (p *hashPipe) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(p.cur) == 0 {
			if _, err := p.Read(nil); err != nil {
				if errors.Is(err, io.EOF) {
					return total, nil
				}
				return total, err
			}
		}
		n, err := w.Write(p.cur)
		total += int64(n)
		p.cur = p.cur[n:]
		if err != nil {
			return total, err
		}
	}
}

// Close stops the goroutine and waits for it, so src may be closed after.
func (p *hashPipe) Close() error {
	p.once.Do(func() { close(p.quit) })
	<-p.done
	return nil
}
