package tarx

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ocikit/ocikit/internal/fsutil"
	"github.com/ocikit/ocikit/layout"
)

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
