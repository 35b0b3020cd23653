package dockerarchive

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/internal/tarx"
	"github.com/ocikit/ocikit/layer"
	"github.com/ocikit/ocikit/layout"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Writer builds a new docker archive: a content.Ingester and
// content.Tagger (and, to read back what it holds, a content.ImageSource)
// over a temporary layout. Commit writes the archive; Close discards the
// temporary layout (after Commit or instead of it).
type Writer struct {
	tarx.Staged // the layout being written (PutBlob is Writer's own)
	file        string
	tmp         string

	mu    sync.Mutex
	diffs map[digest.Digest]v1.Descriptor // compressed layer -> its uncompressed tar, staged
}

var (
	_ content.Ingester    = (*Writer)(nil)
	_ content.Tagger      = (*Writer)(nil)
	_ content.ImageSource = (*Writer)(nil)
	_ content.Stater      = (*Writer)(nil)
)

// Create starts an archive that Commit writes to file, replacing any file
// there (as skopeo's docker-archive destination does). Nothing is written
// to file's directory before Commit.
func Create(ctx context.Context, file string, opts ...Option) (*Writer, error) {
	o := newOptions(opts)
	if file == "" {
		return nil, fmt.Errorf("create archive: empty file name: %w", ErrInvalidArchive)
	}
	tmp, l, err := tarx.TempLayout(ctx, o.TempDir, "ocikit-docker-archive-")
	if err != nil {
		return nil, err
	}
	return &Writer{Staged: tarx.Staged{Layout: l}, file: file, tmp: tmp, diffs: map[digest.Digest]v1.Descriptor{}}, nil
}

// compressed reports whether mediaType is a gzip or zstd layer, which the
// archive holds decompressed.
func compressed(mediaType string) bool {
	switch mediaType {
	case v1.MediaTypeImageLayerGzip, v1.MediaTypeImageLayerNonDistributableGzip, layer.MediaTypeDockerLayerGzip, layer.MediaTypeDockerForeign, //nolint:staticcheck // still to be read
		v1.MediaTypeImageLayerZstd, v1.MediaTypeImageLayerNonDistributableZstd: //nolint:staticcheck
		return true
	}
	return false
}

// uncompressed reports whether mediaType is an uncompressed layer tar.
func uncompressed(mediaType string) bool {
	switch mediaType {
	case v1.MediaTypeImageLayer, v1.MediaTypeImageLayerNonDistributable, layer.MediaTypeDockerLayer: //nolint:staticcheck
		return true
	}
	return false
}

// PutBlob stages a blob, verified (content.Ingester). A gzip or zstd
// layer is also decompressed as it streams in, and its tar staged beside
// it for Commit; a stream that does not decompress is errdefs.ErrInvalid.
func (w *Writer) PutBlob(ctx context.Context, r io.Reader, expect v1.Descriptor) (v1.Descriptor, error) {
	if !compressed(expect.MediaType) {
		return w.Layout.PutBlob(ctx, r, expect)
	}
	_, statErr := w.Layout.StatBlob(ctx, expect.Digest)
	type result struct {
		d   v1.Descriptor
		err error
	}
	pr, pw := io.Pipe()
	done := make(chan result, 1)
	go func() {
		var res result
		zr, err := layer.Decompress(expect.MediaType, pr)
		if err == nil {
			res.d, res.err = w.Layout.PutBlob(ctx, zr, v1.Descriptor{MediaType: v1.MediaTypeImageLayer})
			zr.Close()
		} else {
			res.err = err
		}
		// Whatever follows the compressed stream is read (and so still
		// verified by the compressed blob's digest), never left to block
		// the writer.
		_, _ = io.Copy(io.Discard, pr)
		done <- res
	}()
	got, err := w.Layout.PutBlob(ctx, io.TeeReader(r, pw), expect)
	pw.CloseWithError(err)
	res := <-done
	if err != nil {
		return v1.Descriptor{}, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.diffs[got.Digest]; ok {
		return got, nil // staged before: the store did not read r again
	}
	if res.err != nil {
		if statErr != nil {
			_ = w.Layout.DeleteBlob(ctx, got.Digest) // nothing new stays visible
		}
		return v1.Descriptor{}, fmt.Errorf("layer %s: decompress: %v: %w", got.Digest, res.err, errdefs.ErrInvalid)
	}
	w.diffs[got.Digest] = res.d
	return got, nil
}

// archiveImage is one image as Commit writes it.
type archiveImage struct {
	config v1.Descriptor
	layers []v1.Descriptor // uncompressed tars, staged
	tags   []string
}

// plan reads the tagged manifests back and finds each layer's tar.
func (w *Writer) plan(ctx context.Context) ([]*archiveImage, error) {
	idx, err := w.Layout.Index(ctx)
	if err != nil {
		return nil, err
	}
	var out []*archiveImage
	byDigest := map[digest.Digest]*archiveImage{}
	for _, d := range idx.Manifests {
		img := byDigest[d.Digest]
		if img == nil {
			if layout.IsIndex(d.MediaType) {
				return nil, fmt.Errorf("image index %s: a docker archive holds single-platform images (copy one platform, not --all): %w", d.Digest, errdefs.ErrUnsupported)
			}
			if img, err = w.image(ctx, d); err != nil {
				return nil, fmt.Errorf("manifest %s: %w", d.Digest, err)
			}
			byDigest[d.Digest] = img
			out = append(out, img)
		}
		if name := d.Annotations[v1.AnnotationRefName]; IsName(name) {
			img.tags = append(img.tags, name)
		}
	}
	return out, nil
}

func (w *Writer) image(ctx context.Context, d v1.Descriptor) (*archiveImage, error) {
	data, err := content.ReadAll(ctx, w.Layout, d, MaxManifestSize)
	if err != nil {
		return nil, err
	}
	m, err := layout.ParseManifest(data)
	if err != nil {
		return nil, err
	}
	cdata, err := content.ReadAll(ctx, w.Layout, m.Config, maxConfigSize)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var cfg v1.Image
	if err := json.Unmarshal(cdata, &cfg); err != nil {
		return nil, fmt.Errorf("config %s: %v: %w", m.Config.Digest, err, errdefs.ErrInvalid)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("config %s has %d diff_ids for %d layers: %w", m.Config.Digest, len(cfg.RootFS.DiffIDs), len(m.Layers), errdefs.ErrInvalid)
	}
	img := &archiveImage{config: m.Config}
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, ld := range m.Layers {
		tar := ld
		switch {
		case uncompressed(ld.MediaType):
		case compressed(ld.MediaType):
			var ok bool
			if tar, ok = w.diffs[ld.Digest]; !ok {
				return nil, fmt.Errorf("layer %s: not staged: %w", ld.Digest, errdefs.ErrNotFound)
			}
		default:
			return nil, fmt.Errorf("layer %s: media type %q is not a layer tar a docker archive can hold: %w", ld.Digest, clip(ld.MediaType), errdefs.ErrUnsupported)
		}
		// The archive's layers are the uncompressed tars, so their digests
		// are what the config's diff_ids must say.
		if tar.Digest != cfg.RootFS.DiffIDs[i] {
			return nil, fmt.Errorf("layer %d: uncompressed content is %s, the config's diff_id %s: %w", i, tar.Digest, cfg.RootFS.DiffIDs[i], errdefs.ErrDigestMismatch)
		}
		img.layers = append(img.layers, tar)
	}
	return img, nil
}

// Commit writes the archive: each layer's tar as DIFFID.tar, each config
// as DIGEST.json (hex digests, as skopeo and podman name them), then
// manifest.json, owned by 0:0 with a zero modification time (the same
// content gives the same bytes), to a temporary file beside the archive,
// fsynced and renamed over it. An image index is errdefs.ErrUnsupported:
// a docker archive holds one platform per image.
func (w *Writer) Commit(ctx context.Context) error {
	imgs, err := w.plan(ctx)
	if err != nil {
		return fmt.Errorf("write archive %s: %w", w.file, err)
	}
	return tarx.WriteFile(w.file, func(tw *tarx.Writer) error { return w.writeTar(ctx, tw, imgs) })
}

func (w *Writer) writeTar(ctx context.Context, tw *tarx.Writer, imgs []*archiveImage) error {
	written := map[string]bool{}
	file := func(name string, d v1.Descriptor) error {
		if written[name] {
			return nil
		}
		written[name] = true
		rc, err := w.Layout.OpenBlob(ctx, d)
		if err != nil {
			return err
		}
		defer rc.Close()
		return tw.File(ctx, name, rc, d.Size)
	}
	items := []ManifestItem{}
	for _, img := range imgs {
		it := ManifestItem{Config: img.config.Digest.Encoded() + ".json", RepoTags: img.tags, Layers: []string{}}
		if it.RepoTags == nil {
			it.RepoTags = []string{}
		}
		if err := file(it.Config, img.config); err != nil {
			return err
		}
		for _, l := range img.layers {
			name := l.Digest.Encoded() + ".tar"
			if err := file(name, l); err != nil {
				return err
			}
			it.Layers = append(it.Layers, name)
		}
		items = append(items, it)
	}
	data, err := json.Marshal(items)
	if err != nil {
		return err
	}
	return tw.File(ctx, ManifestFile, bytes.NewReader(data), int64(len(data)))
}

// Close removes the staged layout; without Commit, no archive is written.
func (w *Writer) Close() error { return os.RemoveAll(w.tmp) }
