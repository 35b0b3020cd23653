package distribution

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/layer"
	"github.com/ocikit/ocikit/layout"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// compression is what WithCompression asks.
type compression struct {
	c     layer.Compression
	level int
}

// WithCompression recompresses every layer that is not in c already (gzip
// or zstd; level 0 is the format's default) while it is copied: the source
// blob is verified as it streams, its tar checked against the config's
// diff_id, and the new blob's digest computed by the destination. Each
// manifest with a recompressed layer is rewritten as an OCI manifest (new
// layer media types and digests, the config as it is: diff_ids are of the
// uncompressed tar and stay correct), and each index listing such a
// manifest is rewritten too; the tag then names the new digest. Without
// it a copy keeps every digest.
func WithCompression(c layer.Compression, level int) Option {
	return func(o *options) { o.compression = &compression{c: c, level: level} }
}

// renames records the descriptors that recompression gave blobs
// (layers, manifests, indexes), by their source digest.
type renames struct {
	mu sync.Mutex
	m  map[digest.Digest]v1.Descriptor
}

func (r *renames) get(d digest.Digest) (v1.Descriptor, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	nd, ok := r.m[d]
	return nd, ok
}

func (r *renames) set(d digest.Digest, nd v1.Descriptor) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[digest.Digest]v1.Descriptor{}
	}
	r.m[d] = nd
}

// renamed returns d as the copy wrote it: with the digest, size and media
// type recompression gave it (its platform and annotations kept).
func (r *renames) renamed(d v1.Descriptor) (v1.Descriptor, bool) {
	nd, ok := r.get(d.Digest)
	if !ok {
		return d, false
	}
	d.MediaType, d.Digest, d.Size = nd.MediaType, nd.Digest, nd.Size
	return d, true
}

// layerCompression is the compression of a layer media type; ok is false
// for anything that is not a layer tar.
func layerCompression(mediaType string) (c layer.Compression, ok bool) {
	switch mediaType {
	case v1.MediaTypeImageLayer, v1.MediaTypeImageLayerNonDistributable, layer.MediaTypeDockerLayer: //nolint:staticcheck // still to be read
		return layer.Uncompressed, true
	case v1.MediaTypeImageLayerGzip, v1.MediaTypeImageLayerNonDistributableGzip, layer.MediaTypeDockerLayerGzip, layer.MediaTypeDockerForeign: //nolint:staticcheck
		return layer.Gzip, true
	case v1.MediaTypeImageLayerZstd, v1.MediaTypeImageLayerNonDistributableZstd: //nolint:staticcheck
		return layer.Zstd, true
	}
	return 0, false
}

// recompressManifest copies the manifest desc (m parsed) with its layers
// recompressed; handled is false for a manifest whose config is not an
// image config (an artifact), which is copied as it is.
func (c *copier) recompressManifest(ctx context.Context, desc v1.Descriptor, m *v1.Manifest) (handled bool, err error) {
	if m.Config.MediaType != v1.MediaTypeImageConfig && m.Config.MediaType != layout.MediaTypeDockerConfig {
		return false, nil
	}
	cfgData, err := content.ReadAll(ctx, c.src, m.Config, MaxManifestSize)
	if err != nil {
		return true, fmt.Errorf("manifest %s: config: %w", desc.Digest, err)
	}
	var cfg v1.Image
	if err := json.Unmarshal(cfgData, &cfg); err != nil {
		return true, fmt.Errorf("manifest %s: config %s: %v: %w", desc.Digest, m.Config.Digest, err, errdefs.ErrInvalid)
	}
	if err := c.blob(ctx, m.Config); err != nil {
		return true, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	out := *m
	changed := m.MediaType != v1.MediaTypeImageManifest || m.Config.MediaType != v1.MediaTypeImageConfig
	out.MediaType = v1.MediaTypeImageManifest
	out.Config.MediaType = v1.MediaTypeImageConfig
	out.Layers = make([]v1.Descriptor, len(m.Layers))
	for i, l := range m.Layers {
		from, isLayer := layerCompression(l.MediaType)
		switch {
		case !isLayer:
			err = c.blob(ctx, l)
		case from == c.o.compression.c:
			err = c.blob(ctx, l)
			if mt := c.o.compression.c.MediaType(); l.MediaType != mt {
				l.MediaType, changed = mt, true // Docker's gzip type: the same bytes
			}
		case i >= len(cfg.RootFS.DiffIDs):
			err = fmt.Errorf("layer %d: the config has %d diff_ids: %w", i, len(cfg.RootFS.DiffIDs), errdefs.ErrInvalid)
		default:
			l, err = c.transcode(ctx, l, from, cfg.RootFS.DiffIDs[i])
			changed = true
		}
		if err != nil {
			return true, fmt.Errorf("manifest %s: %w", desc.Digest, err)
		}
		out.Layers[i] = l
	}
	if !changed {
		return false, nil
	}
	data, err := json.Marshal(out)
	if err != nil {
		return true, err
	}
	nd := v1.Descriptor{MediaType: v1.MediaTypeImageManifest, Digest: digest.FromBytes(data), Size: int64(len(data)), ArtifactType: desc.ArtifactType}
	if err := c.put(ctx, nd, bytes.NewReader(data)); err != nil {
		return true, err
	}
	c.ren.set(desc.Digest, nd)
	return true, nil
}

// rewriteIndex points an index's entries at their recompressed manifests;
// an index none of whose entries changed is returned as it is.
func (c *copier) rewriteIndex(desc v1.Descriptor, data []byte, idx *v1.Index) ([]byte, v1.Descriptor, error) {
	if c.o.compression == nil {
		return data, desc, nil
	}
	out := *idx
	out.Manifests = make([]v1.Descriptor, len(idx.Manifests))
	changed := false
	for i, d := range idx.Manifests {
		nd, ok := c.ren.renamed(d)
		changed = changed || ok
		out.Manifests[i] = nd
	}
	if !changed {
		return data, desc, nil
	}
	out.MediaType = v1.MediaTypeImageIndex // its manifests are OCI manifests now
	ndata, err := json.Marshal(out)
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	nd := v1.Descriptor{MediaType: v1.MediaTypeImageIndex, Digest: digest.FromBytes(ndata), Size: int64(len(ndata)), ArtifactType: desc.ArtifactType}
	c.ren.set(desc.Digest, nd)
	return ndata, nd, nil
}

// transcode copies layer l (compressed with from) recompressed: the
// source blob verified to its last byte, its tar checked against diffID,
// the new blob's digest computed by the destination as it stores it.
func (c *copier) transcode(ctx context.Context, l v1.Descriptor, from layer.Compression, diffID digest.Digest) (v1.Descriptor, error) {
	if nd, ok := c.ren.renamed(l); ok {
		return nd, nil // the same layer in another manifest: done already
	}
	rc, err := c.src.OpenBlob(ctx, l)
	if err != nil {
		return v1.Descriptor{}, err
	}
	defer rc.Close()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := recompress(pw, c.track(l, rc), l.MediaType, c.o.compression, diffID)
		pw.CloseWithError(err)
		done <- err
	}()
	to := c.o.compression.c.MediaType()
	nd, err := c.dst.PutBlob(ctx, pr, v1.Descriptor{MediaType: to})
	pr.CloseWithError(errStopped) // the writer stops if the store stopped reading
	if rerr := <-done; rerr != nil && !errors.Is(rerr, errStopped) {
		err = rerr // the source's error explains the store's
	}
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("recompress layer %s to %s: %w", l.Digest, c.o.compression.c, err)
	}
	nd = v1.Descriptor{MediaType: to, Digest: nd.Digest, Size: nd.Size, Annotations: l.Annotations}
	c.ren.set(l.Digest, nd)
	c.mu.Lock()
	c.seen[nd.Digest] = true
	c.rep.Blobs++
	c.rep.Bytes += nd.Size
	c.mu.Unlock()
	c.event(Event{Descriptor: nd, Bytes: nd.Size, From: l.Digest})
	return nd, nil
}

var errStopped = errors.New("recompress: the destination stopped reading")

// recompress writes the tar of the layer blob src (of mediaType)
// compressed as comp to w. It reads src to its end, so that the source's
// verified reader checks the whole blob's digest, and fails with
// errdefs.ErrDigestMismatch if the tar is not diffID.
func recompress(w io.Writer, src io.Reader, mediaType string, comp *compression, diffID digest.Digest) error {
	zr, err := layer.Decompress(mediaType, src)
	if err != nil {
		return sourceError(src, err)
	}
	zw, err := layer.CompressLevel(w, comp.c, comp.level)
	if err != nil {
		zr.Close()
		return err
	}
	h := diffID.Algorithm().Hash()
	_, err = io.Copy(zw, io.TeeReader(zr, h))
	if err == nil {
		err = zw.Close()
	}
	zr.Close() // stops the decompressor's read-ahead before src is read here
	if err != nil {
		return sourceError(src, err)
	}
	// What follows the compressed stream still belongs to the blob.
	if _, err := io.Copy(io.Discard, src); err != nil {
		return err
	}
	if got := digest.NewDigest(diffID.Algorithm(), h); got != diffID {
		return fmt.Errorf("uncompressed content is %s, the config's diff_id %s: %w", got, diffID, errdefs.ErrDigestMismatch)
	}
	return nil
}

// sourceError explains a failure to decompress: reading the source blob
// to its end lets its verified reader say whether the blob is not what
// its digest names (errdefs.ErrDigestMismatch); if it is, the stream
// itself is corrupt (errdefs.ErrInvalid).
func sourceError(src io.Reader, err error) error {
	if errors.Is(err, io.ErrClosedPipe) || errors.Is(err, errStopped) {
		return err
	}
	if _, serr := io.Copy(io.Discard, src); serr != nil {
		return serr
	}
	if errors.Is(err, errdefs.ErrDigestMismatch) {
		return err
	}
	return fmt.Errorf("layer does not decompress: %v: %w", err, errdefs.ErrInvalid)
}
