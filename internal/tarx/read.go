package tarx

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/internal/fsutil"
)

// OpenFile opens an archive file to read, with its size: a missing file
// is errdefs.ErrNotFound, anything but a regular file is invalid (a FIFO
// or a device could block or never end).
func OpenFile(file string, invalid error) (*os.File, int64, error) {
	f, err := os.Open(file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, 0, fmt.Errorf("open archive %s: %w", file, errdefs.ErrNotFound)
		}
		return nil, 0, fmt.Errorf("open archive: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("open archive: %w", err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("open archive %s: not a regular file: %w", file, invalid)
	}
	return f, st.Size(), nil
}

// Reader reads the entries of an untrusted tar. Its errors wrap invalid
// where the tar is at fault.
type Reader struct {
	tr         *tar.Reader
	size       int64
	maxEntries int
	n          int
	invalid    error
}

// NewReader reads the tar in r, whose entries may hold at most size bytes
// each (the archive's size, or a cap when it is decompressed), and at most
// maxEntries entries (0: no cap).
func NewReader(r io.Reader, size int64, maxEntries int, invalid error) *Reader {
	return &Reader{tr: tar.NewReader(r), size: size, maxEntries: maxEntries, invalid: invalid}
}

// Next returns the next entry's header and its name as EntryName cleans
// it; io.EOF after the last one.
func (r *Reader) Next(ctx context.Context) (*tar.Header, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	hdr, err := r.tr.Next()
	if err == io.EOF {
		return nil, "", io.EOF
	}
	if err != nil {
		return nil, "", fmt.Errorf("read tar: %v: %w", err, r.invalid)
	}
	if r.maxEntries > 0 && r.n >= r.maxEntries {
		return nil, "", fmt.Errorf("more than %d entries: %w", r.maxEntries, r.invalid)
	}
	r.n++
	name, err := EntryName(hdr.Name, r.invalid)
	if err != nil {
		return nil, "", err
	}
	return hdr, name, nil
}

// CheckSize refuses a regular entry whose size is negative or more than
// an entry may hold.
func (r *Reader) CheckSize(hdr *tar.Header) error {
	if hdr.Size < 0 || hdr.Size > r.size {
		return fmt.Errorf("entry %q: size %d in a %d-byte archive: %w", clip(hdr.Name), hdr.Size, r.size, r.invalid)
	}
	return nil
}

// Copy copies the current entry's size bytes to w, stopping when ctx is
// done; an entry shorter than its header says is invalid.
func (r *Reader) Copy(ctx context.Context, w io.Writer, size int64) (int64, error) {
	n, err := io.Copy(w, fsutil.ContextReader(ctx, io.LimitReader(r.tr, size)))
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return n, fmt.Errorf("truncated: %w", r.invalid)
		}
		return n, err
	}
	if n != size {
		return n, fmt.Errorf("truncated: %d of %d bytes: %w", n, size, r.invalid)
	}
	return n, nil
}

// Read reads the current entry's content (io.Reader), for content read
// whole into memory once its size is checked.
func (r *Reader) Read(p []byte) (int, error) { return r.tr.Read(p) }

// EntryName cleans a tar entry name ("./index.json" is "index.json", "./"
// is "") and refuses one that is absolute or climbs out with "..".
func EntryName(name string, invalid error) (string, error) {
	if strings.HasPrefix(name, "/") || strings.HasPrefix(name, `\`) {
		return "", fmt.Errorf("entry %q: absolute name: %w", clip(name), invalid)
	}
	for _, el := range strings.Split(name, "/") {
		if el == ".." {
			return "", fmt.Errorf("entry %q: escapes the archive: %w", clip(name), invalid)
		}
	}
	if n := path.Clean(name); n != "." {
		return n, nil
	}
	return "", nil
}

func clip(s string) string {
	if len(s) > 140 {
		return s[:140] + "..."
	}
	return s
}

// DefaultMaxBlobSize caps one blob (one file) of an archive that is read,
// unless WithMaxBlobSize says otherwise.
const DefaultMaxBlobSize = 64 << 30

// Option adjusts how an archive package opens or creates an archive.
type Option func(*Options)

// Options are what Option adjusts.
type Options struct {
	TempDir     string // for the temporary layout; "" is os.TempDir()
	MaxBlobSize int64  // cap of one blob read from an archive
}

// WithTempDir puts the temporary layout in dir instead of os.TempDir().
func WithTempDir(dir string) Option { return func(o *Options) { o.TempDir = dir } }

// WithMaxBlobSize caps one blob (one file) of an archive that is read
// (default DefaultMaxBlobSize).
func WithMaxBlobSize(n int64) Option { return func(o *Options) { o.MaxBlobSize = n } }

// NewOptions applies opts to the defaults.
func NewOptions(opts []Option) Options {
	o := Options{MaxBlobSize: DefaultMaxBlobSize}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}
