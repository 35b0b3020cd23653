package ociarchive

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/internal/tarx"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Writer builds a new OCI archive: a content.Ingester and content.Tagger
// (and, to read back what it holds, a content.ImageSource) over a
// temporary layout. Commit writes the archive; Close discards the
// temporary layout (after Commit or instead of it).
type Writer struct {
	tarx.Staged // the layout being written: Writer is its content.Ingester, Tagger, ImageSource
	file        string
	tmp         string
}

var (
	_ content.Ingester    = (*Writer)(nil)
	_ content.Tagger      = (*Writer)(nil)
	_ content.ImageSource = (*Writer)(nil)
	_ content.Stater      = (*Writer)(nil)
)

// Create starts an archive that Commit writes to file, replacing any file
// there (as skopeo's oci-archive destination does). Nothing is written to
// file's directory before Commit.
func Create(ctx context.Context, file string, opts ...Option) (*Writer, error) {
	o := newOptions(opts)
	if file == "" {
		return nil, fmt.Errorf("create archive: empty file name: %w", ErrInvalidArchive)
	}
	tmp, l, err := tarx.TempLayout(ctx, o.TempDir, "ocikit-archive-")
	if err != nil {
		return nil, err
	}
	return &Writer{Staged: tarx.Staged{Layout: l}, file: file, tmp: tmp}, nil
}

// Commit writes the archive: the tar of the staged layout (oci-layout,
// index.json, then blobs/ALG/ENCODED in order, owned by 0:0 with a zero
// modification time, so the same content gives the same bytes) to a
// temporary file beside the archive, fsynced and renamed over it.
func (w *Writer) Commit(ctx context.Context) error {
	return tarx.WriteFile(w.file, func(tw *tarx.Writer) error { return w.writeTar(ctx, tw) })
}

func (w *Writer) writeTar(ctx context.Context, tw *tarx.Writer) error {
	root := w.Layout.Dir()
	file := func(name string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := os.Open(filepath.Join(root, filepath.FromSlash(name)))
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		return tw.File(ctx, name, f, st.Size())
	}
	for _, name := range []string{v1.ImageLayoutFile, v1.ImageIndexFile} {
		if err := file(name); err != nil {
			return err
		}
	}
	if err := tw.Dir(v1.ImageBlobsDir); err != nil {
		return err
	}
	blobs, err := w.Layout.Blobs(ctx)
	if err != nil {
		return err
	}
	sort.Slice(blobs, func(i, j int) bool { return blobs[i] < blobs[j] })
	algs := map[digest.Algorithm]bool{}
	for _, d := range blobs {
		if !algs[d.Algorithm()] {
			algs[d.Algorithm()] = true
			if err := tw.Dir(v1.ImageBlobsDir + "/" + string(d.Algorithm())); err != nil {
				return err
			}
		}
		if err := file(v1.ImageBlobsDir + "/" + string(d.Algorithm()) + "/" + d.Encoded()); err != nil {
			return err
		}
	}
	return nil
}

// Close removes the staged layout; without Commit, no archive is written.
func (w *Writer) Close() error { return os.RemoveAll(w.tmp) }
