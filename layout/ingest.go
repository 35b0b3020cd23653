package layout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/internal/fsutil"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// partialPrefix starts the name of a partial download: a temporary file
// (GC sweeps the ones no writer holds) named by the blob's digest, so the
// next download of that blob finds it.
const partialPrefix = tmpPrefix + "partial-"

// partialPath is where the partial download of d is kept, in blobs/.
func (l *Layout) partialPath(d v1.Descriptor) string {
	return filepath.Join(l.dir, blobsDir, partialPrefix+string(d.Digest.Algorithm())+"-"+d.Digest.Encoded())
}

// PutBlobFrom stores the blob expect names (its digest and a size above
// zero are required) from readers open gives: open(off) returns the
// blob's content from byte off on. What an earlier call left of this
// blob (a download cut short) is kept in a partial file under blobs/,
// named by the digest, and continued: its bytes are hashed again from
// disk and open is asked for the rest only; where open cannot start
// there, or the whole turns out not to be expect's content, the partial
// is dropped (and, for an open error, the download starts again from 0).
// Nothing is visible under the digest until the whole blob is verified
// and renamed into place, as PutBlob does; a call that fails keeps the
// bytes it wrote (fsynced) for the next one, and GC removes a partial no
// call holds. A partial another writer holds is not shared: the blob is
// then downloaded whole through PutBlob.
func (l *Layout) PutBlobFrom(ctx context.Context, expect v1.Descriptor, open func(ctx context.Context, off int64) (io.ReadCloser, error)) (v1.Descriptor, error) {
	if err := CheckDigest(expect.Digest); err != nil {
		return v1.Descriptor{}, fmt.Errorf("put blob: %w", err)
	}
	if expect.Size <= 0 {
		return v1.Descriptor{}, fmt.Errorf("put blob %s: resumable only with a size: %w", expect.Digest, ErrSizeMismatch)
	}
	path := l.blobPath(expect.Digest)
	if present(path, expect.Size) {
		return expect, nil
	}
	f, err := l.openPartial(ctx, expect)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("put blob: %w", err)
	}
	if f == nil { // another writer holds it
		rc, err := open(ctx, 0)
		if err != nil {
			return v1.Descriptor{}, err
		}
		defer rc.Close()
		return l.PutBlob(ctx, rc, expect)
	}
	defer f.Close()
	drop := func() { f.Close(); os.Remove(f.Name()) }
	// A writer that held the partial before us may have completed it.
	if present(path, expect.Size) {
		drop()
		return expect, nil
	}
	h := expect.Digest.Algorithm().Hash()
	n, err := fsutil.Copy(h, fsutil.ContextReader(ctx, io.LimitReader(f, expect.Size)))
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("put blob %s: partial: %w", expect.Digest, err)
	}
	if n == expect.Size {
		if digest.NewDigest(expect.Digest.Algorithm(), h) == expect.Digest {
			return expect, commitPartial(f, path) // complete, not yet renamed
		}
		n = 0
		h.Reset()
	}
	if err := f.Truncate(n); err != nil {
		return v1.Descriptor{}, fmt.Errorf("put blob %s: %w", expect.Digest, err)
	}
	if _, err := f.Seek(n, io.SeekStart); err != nil {
		return v1.Descriptor{}, fmt.Errorf("put blob %s: %w", expect.Digest, err)
	}
	rc, err := open(ctx, n)
	if err != nil && n > 0 && ctx.Err() == nil {
		// The source cannot continue there: start again.
		n = 0
		h.Reset()
		if terr := f.Truncate(0); terr != nil {
			return v1.Descriptor{}, fmt.Errorf("put blob %s: %w", expect.Digest, terr)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return v1.Descriptor{}, fmt.Errorf("put blob %s: %w", expect.Digest, err)
		}
		rc, err = open(ctx, 0)
	}
	if err != nil {
		drop() // nothing kept
		return v1.Descriptor{}, err
	}
	defer rc.Close()
	// A verified reader of the whole blob is not hashed a second time.
	verified := n == 0 && content.Verified(rc, expect)
	w := fsutil.Writeback(f) // commitPartial's fsync waits for the tail only
	if !verified {
		w = io.MultiWriter(w, h)
	}
	m, err := fsutil.Copy(w, fsutil.ContextReader(ctx, io.LimitReader(rc, expect.Size-n+1)))
	n += m
	if err != nil {
		if n == 0 || n > expect.Size || errors.Is(err, errdefs.ErrDigestMismatch) {
			drop()
		} else {
			f.Sync() // kept for the next call
		}
		return v1.Descriptor{}, fmt.Errorf("put blob %s: %w", expect.Digest, err)
	}
	if n != expect.Size {
		if n > expect.Size {
			drop()
			return v1.Descriptor{}, fmt.Errorf("put blob %s: more than %d bytes: %w", expect.Digest, expect.Size, ErrSizeMismatch)
		}
		if n == 0 {
			drop()
		} else {
			f.Sync()
		}
		return v1.Descriptor{}, fmt.Errorf("put blob %s: got %d bytes, want %d: %w", expect.Digest, n, expect.Size, io.ErrUnexpectedEOF)
	}
	if got := digest.NewDigest(expect.Digest.Algorithm(), h); !verified && got != expect.Digest {
		drop()
		return v1.Descriptor{}, fmt.Errorf("put blob %s: content is %s: %w", expect.Digest, got, ErrDigestMismatch)
	}
	if err := commitPartial(f, path); err != nil {
		return v1.Descriptor{}, err
	}
	return expect, nil
}

// commitPartial makes the verified partial f the blob at path.
func commitPartial(f *os.File, path string) error {
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("put blob: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("put blob: %w", err)
	}
	algDir := filepath.Dir(path)
	if _, err := os.Stat(algDir); errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(algDir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("put blob: %w", err)
		}
		if err := fsutil.SyncDir(filepath.Dir(algDir)); err != nil {
			return fmt.Errorf("put blob: %w", err)
		}
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("put blob: %w", err)
	}
	if err := fsutil.SyncDir(algDir); err != nil {
		return fmt.Errorf("put blob: %w", err)
	}
	return nil
}

// openPartial opens (or creates) the partial file of d and locks it, under
// the layout's shared lock so GC (exclusive) cannot remove it between the
// two; nil if another writer holds it.
func (l *Layout) openPartial(ctx context.Context, d v1.Descriptor) (*os.File, error) {
	unlock, err := l.lock(ctx, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	name := l.partialPath(d)
	for {
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, err
		}
		free, err := fsutil.TryLock(f)
		if err != nil || !free {
			f.Close()
			return nil, err
		}
		// The writer that held the lock before may have renamed the
		// file into place (or dropped it) between our open and our lock:
		// the file locked must still be the one at name.
		held, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		if now, err := os.Stat(name); err == nil && os.SameFile(held, now) {
			return f, nil
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			f.Close()
			return nil, err
		}
		f.Close()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// HasPartial reports whether the layout keeps a partial download
// (PutBlobFrom) for a later call to continue.
func (l *Layout) HasPartial() bool {
	m, _ := filepath.Glob(filepath.Join(l.dir, blobsDir, partialPrefix+"*"))
	return len(m) > 0
}
