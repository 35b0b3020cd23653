package tarx

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/internal/fsutil"
	"github.com/ocikit/ocikit/layout"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Staged is the temporary layout an archive writer stages a copy in, and
// the methods that make the writer a content.Ingester, Tagger, Provider,
// Stater and ImageSource meanwhile: the writers embed it (and override
// what they do differently).
type Staged struct{ Layout *layout.Layout }

// PutBlob stages a blob, verified (content.Ingester).
func (s Staged) PutBlob(ctx context.Context, r io.Reader, expect v1.Descriptor) (v1.Descriptor, error) {
	return s.Layout.PutBlob(ctx, r, expect)
}

// Tag names a staged manifest or index (content.Tagger).
func (s Staged) Tag(ctx context.Context, name string, desc v1.Descriptor) error {
	return s.Layout.Tag(ctx, name, desc)
}

// OpenBlob reads a staged blob back (content.Provider).
func (s Staged) OpenBlob(ctx context.Context, desc v1.Descriptor) (io.ReadCloser, error) {
	return s.Layout.OpenBlob(ctx, desc)
}

// StatBlob reports a staged blob's size (content.Stater).
func (s Staged) StatBlob(ctx context.Context, d digest.Digest) (int64, error) {
	return s.Layout.StatBlob(ctx, d)
}

// Lookup finds a staged tag or digest (content.ImageSource).
func (s Staged) Lookup(ctx context.Context, ref string) (v1.Descriptor, error) {
	return s.Layout.Lookup(ctx, ref)
}

// Resolve resolves a staged ref to one image (content.Resolver).
func (s Staged) Resolve(ctx context.Context, ref string, opts ...content.ResolveOption) (*content.Image, error) {
	return s.Layout.Resolve(ctx, ref, opts...)
}

// Writer writes a reproducible tar: every entry owned by 0:0 with a zero
// modification time, in PAX format, so the same content gives the same
// bytes.
type Writer struct {
	tw *tar.Writer
}

var epoch = time.Unix(0, 0)

// Dir writes a directory entry (mode 0755); name has no trailing slash.
func (w *Writer) Dir(name string) error {
	return w.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX})
}

// File writes a regular file entry (mode 0644) of size bytes read from r,
// stopping when ctx is done.
func (w *Writer) File(ctx context.Context, name string, r io.Reader, size int64) error {
	if err := w.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
		return err
	}
	_, err := io.Copy(w.tw, fsutil.ContextReader(ctx, r))
	return err
}

// WriteFile writes the tar that write produces to a temporary file beside
// file, fsynced and renamed over it (fsutil.WriteFileFrom): readers of
// file see the old archive or the whole new one, never a part, and a
// failed write leaves nothing behind.
func WriteFile(file string, write func(*Writer) error) error {
	var tarErr error
	err := fsutil.WriteFileFrom(file, 0o644, func(f io.Writer) error {
		w := &Writer{tw: tar.NewWriter(f)}
		if tarErr = write(w); tarErr == nil {
			tarErr = w.tw.Close()
		}
		return tarErr
	})
	switch {
	case tarErr != nil:
		return fmt.Errorf("write archive %s: %w", file, tarErr)
	case err != nil:
		return fmt.Errorf("write archive: %w", err)
	}
	return nil
}

// TempLayout makes a new, empty image layout in a temporary directory
// under tempDir (os.TempDir() when empty) for an archive writer to stage
// blobs in before its archive is written: nothing is written beside the
// archive until then. Removing tmp removes the layout.
func TempLayout(ctx context.Context, tempDir, prefix string) (tmp string, l *layout.Layout, err error) {
	tmp, err = os.MkdirTemp(tempDir, prefix)
	if err != nil {
		return "", nil, fmt.Errorf("create archive: %w", err)
	}
	l, err = layout.Init(ctx, filepath.Join(tmp, "layout"))
	if err != nil {
		os.RemoveAll(tmp)
		return "", nil, fmt.Errorf("create archive: %w", err)
	}
	return tmp, l, nil
}
