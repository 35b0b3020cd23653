package mutate

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/layer"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Store is what this package writes an image through: its blobs, then a
// tag naming its manifest. *layout.Layout is one.
type Store interface {
	content.Ingester
	content.Tagger
}

// LayerFunc writes an uncompressed layer tar to w.
type LayerFunc func(ctx context.Context, w io.Writer) error

// Option configures the functions of this package.
type Option func(*options)

type options struct {
	compression layer.Compression
	created     *time.Time
	history     v1.History
	annotations map[string]string
}

// WithCompression sets the compression of a new layer (default gzip).
func WithCompression(c layer.Compression) Option {
	return func(o *options) { o.compression = c }
}

// WithCreated sets the "created" time of the new config and of its history
// entry (default: now). Pass $SOURCE_DATE_EPOCH here for reproducible
// images.
func WithCreated(t time.Time) Option {
	return func(o *options) { t := t.UTC(); o.created = &t }
}

// WithHistory sets the history entry recorded for the change: its
// created_by, comment and author (created comes from WithCreated).
func WithHistory(h v1.History) Option {
	return func(o *options) { o.history = h }
}

// WithLayerAnnotations sets annotations on the new layer's descriptor.
func WithLayerAnnotations(a map[string]string) Option {
	return func(o *options) { o.annotations = a }
}

func newOptions(opts []Option) *options {
	o := &options{compression: layer.Gzip}
	for _, f := range opts {
		f(o)
	}
	if o.created == nil {
		t := time.Now().UTC()
		o.created = &t
	}
	return o
}

// historyEntry returns the history entry of the change, dated.
func (o *options) historyEntry(emptyLayer bool) v1.History {
	h := o.history
	h.Created = o.created
	h.EmptyLayer = emptyLayer
	return h
}

// New stores an empty image for platform p (a config with rootfs type
// "layers" and no diff_ids, and a manifest with no layers) and points tag
// at it.
func New(ctx context.Context, s Store, tag string, p v1.Platform, opts ...Option) (v1.Descriptor, error) {
	o := newOptions(opts)
	if p.OS == "" || p.Architecture == "" {
		return v1.Descriptor{}, fmt.Errorf("%w: new image needs an os and an architecture", ErrInvalidConfig)
	}
	cfg := v1.Image{
		Created:  o.created,
		Platform: p,
		RootFS:   v1.RootFS{Type: "layers", DiffIDs: []digest.Digest{}},
	}
	return Commit(ctx, s, tag, v1.Manifest{}, cfg)
}

// Commit stores config and a manifest made from base (its annotations kept,
// config and layers as given, subject dropped: the result is a new image,
// not an artifact about base) and points tag at the manifest. The
// descriptor tagged carries the config's platform. Blobs of the previous
// image stay in the store until garbage collection.
func Commit(ctx context.Context, s Store, tag string, base v1.Manifest, config v1.Image) (v1.Descriptor, error) {
	if config.RootFS.Type != "layers" {
		return v1.Descriptor{}, fmt.Errorf("%w: rootfs.type %q, want \"layers\"", ErrInvalidConfig, config.RootFS.Type)
	}
	if config.RootFS.DiffIDs == nil {
		config.RootFS.DiffIDs = []digest.Digest{} // config.md: diff_ids is REQUIRED
	}
	if len(config.RootFS.DiffIDs) != len(base.Layers) {
		return v1.Descriptor{}, fmt.Errorf("%w: %d layers but %d diff_ids", ErrInvalidConfig, len(base.Layers), len(config.RootFS.DiffIDs))
	}
	cdesc, err := content.PutJSON(ctx, s, v1.MediaTypeImageConfig, config)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("store config: %w", err)
	}
	m := v1.Manifest{
		Versioned:   specs.Versioned{SchemaVersion: 2},
		MediaType:   v1.MediaTypeImageManifest,
		Config:      cdesc,
		Layers:      base.Layers,
		Annotations: base.Annotations,
	}
	if m.Layers == nil {
		m.Layers = []v1.Descriptor{}
	}
	mdesc, err := content.PutJSON(ctx, s, v1.MediaTypeImageManifest, m)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("store manifest: %w", err)
	}
	p := config.Platform
	mdesc.Platform = &p
	if err := s.Tag(ctx, tag, mdesc); err != nil {
		return v1.Descriptor{}, err
	}
	return mdesc, nil
}

// AppendLayer writes the layer gen produces (compressed per WithCompression),
// appends it to base and config (rootfs.diff_ids and a history entry per
// WithHistory, dated per WithCreated, which also dates the config), and
// commits the result under tag. It is the one step shared by repack and
// add-layer.
func AppendLayer(ctx context.Context, s Store, tag string, base v1.Manifest, config v1.Image, gen LayerFunc, opts ...Option) (v1.Descriptor, error) {
	o := newOptions(opts)
	if len(config.RootFS.DiffIDs) != len(base.Layers) {
		return v1.Descriptor{}, fmt.Errorf("%w: %d layers but %d diff_ids", ErrInvalidConfig, len(base.Layers), len(config.RootFS.DiffIDs))
	}
	ldesc, diffID, err := WriteLayer(ctx, s, o.compression, gen)
	if err != nil {
		return v1.Descriptor{}, err
	}
	if len(o.annotations) > 0 {
		ldesc.Annotations = o.annotations
	}
	base.Layers = append(append([]v1.Descriptor{}, base.Layers...), ldesc)
	config.RootFS.DiffIDs = append(append([]digest.Digest{}, config.RootFS.DiffIDs...), diffID)
	config.History = append(append([]v1.History{}, config.History...), o.historyEntry(false))
	config.Created = o.created
	return Commit(ctx, s, tag, base, config)
}

// WriteLayer stores the layer gen produces, compressed with c, and returns
// its descriptor and DiffID (the digest of the uncompressed tar,
// config.md "Layer DiffID"). The tar is hashed and compressed while it is
// generated and streamed into i: it never lands on disk
// uncompressed.
func WriteLayer(ctx context.Context, i content.Ingester, c layer.Compression, gen LayerFunc) (v1.Descriptor, digest.Digest, error) {
	pr, pw := io.Pipe()
	type result struct {
		diffID digest.Digest
		err    error
	}
	done := make(chan result, 1)
	go func() {
		h := sha256.New()
		cw, err := layer.Compress(pw, c)
		if err == nil {
			err = gen(ctx, io.MultiWriter(h, cw))
			if cerr := cw.Close(); err == nil {
				err = cerr
			}
		}
		pw.CloseWithError(err)
		done <- result{digest.NewDigest(digest.SHA256, h), err}
	}()
	desc, err := i.PutBlob(ctx, pr, v1.Descriptor{MediaType: c.MediaType()})
	pr.CloseWithError(errors.Join(err, io.ErrClosedPipe)) // unblock gen if PutBlob failed
	res := <-done
	if res.err != nil && !errors.Is(res.err, io.ErrClosedPipe) {
		return v1.Descriptor{}, "", fmt.Errorf("generate layer: %w", res.err)
	}
	if err != nil {
		return v1.Descriptor{}, "", fmt.Errorf("store layer: %w", err)
	}
	if res.err != nil {
		return v1.Descriptor{}, "", fmt.Errorf("generate layer: %w", res.err)
	}
	return desc, res.diffID, nil
}
