package distribution

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/layout"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// MaxManifestSize caps a manifest or index read from a source, as
// registries cap them (4 MiB).
const MaxManifestSize = 4 << 20

// maxDepth bounds index nesting; with the self-reference check it stops
// an index that lists itself through others.
const maxDepth = 8

// Destination is where Copy writes an image.
type Destination interface {
	content.Ingester
	content.Tagger
}

// Event reports one blob done (or, with WithProgressBytes, started or
// advanced: Phase).
type Event struct {
	Descriptor v1.Descriptor
	// Skipped: the destination had it already; nothing was read.
	Skipped bool
	Phase   Phase
	// Bytes read of the blob so far (PhaseProgress) or in all (PhaseDone).
	Bytes int64
	// From is the source blob a recompressed layer was made from
	// (PhaseDone; WithCompression): Start and Progress events name it.
	From digest.Digest
}

// Report is what a copy did.
type Report struct {
	// Descriptor is the manifest or index tagged at the destination.
	Descriptor v1.Descriptor
	// Blobs counts every blob of the image (manifests and indexes too);
	// Skipped those the destination had; Bytes what was transferred.
	Blobs, Skipped int
	Bytes          int64
	// Referrers counts the referrers copied (WithReferrers).
	Referrers int
}

// Option adjusts Copy.
type Option func(*options)

type options struct {
	all       bool
	platform  *v1.Platform
	progress  func(Event)
	registry  registryOpts // for CopyReference
	referrers bool         // WithReferrers

	compression   *compression // WithCompression
	progressBytes func(Event)  // WithProgressBytes
}

// WithAll copies an image index whole: every platform's manifest.
func WithAll() Option { return func(o *options) { o.all = true } }

// WithPlatform copies the manifest for p out of an index (default: this
// host's platform, platform.Host), and refuses a single manifest for
// another platform.
func WithPlatform(p v1.Platform) Option { return func(o *options) { o.platform = &p } }

// WithProgress calls fn after each blob.
func WithProgress(fn func(Event)) Option { return func(o *options) { o.progress = fn } }

// Copy copies the image name names in src (a tag or a digest; "" is the
// only image in src, else the tag "latest") to dst, and tags it tag there
// ("" is "latest"). Without WithAll an index is resolved to one platform's
// manifest (content.Resolver's rules), which is what is copied and tagged;
// with it the index and every manifest it lists are copied. Blobs dst
// already has (content.Stater) are not read; every other byte is verified
// as it streams (the source's verified reader, and dst's PutBlob). The tag
// is set last, once every blob is in place: a copy that fails leaves dst's
// tags as they were. A manifest or index over MaxManifestSize, or an index
// listing itself, is errdefs.ErrInvalid.
func Copy(ctx context.Context, src content.ImageSource, name string, dst Destination, tag string, opts ...Option) (*Report, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if tag == "" {
		tag = layout.DefaultTag
	}
	if name == "" {
		var err error
		if name, err = DefaultName(ctx, src); err != nil {
			return nil, err
		}
	}
	desc, err := src.Lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	if !o.all && (layout.IsIndex(desc.MediaType) || o.platform != nil) {
		var ropts []content.ResolveOption
		if o.platform != nil {
			ropts = append(ropts, content.WithPlatform(*o.platform))
		}
		img, err := src.Resolve(ctx, name, ropts...)
		if err != nil {
			return nil, err
		}
		desc = img.Descriptor
	}
	desc = v1.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size, ArtifactType: desc.ArtifactType}
	if o.referrers && o.compression != nil {
		return nil, fmt.Errorf("referrers and recompression: the referrers' subjects would name the old digests: %w", errdefs.ErrInvalid)
	}
	c := &copier{src: src, dst: dst, o: o, seen: map[digest.Digest]bool{}, rep: &Report{Descriptor: desc}}
	if st, ok := dst.(content.Stater); ok {
		c.stat = st
	}
	if err := c.node(ctx, desc, 0); err != nil {
		return nil, err
	}
	if o.referrers {
		if err := c.copyReferrers(ctx); err != nil {
			return nil, err
		}
	}
	desc, _ = c.ren.renamed(desc) // recompressed (WithCompression)
	c.rep.Descriptor = desc
	if err := dst.Tag(ctx, tag, desc); err != nil {
		return nil, err
	}
	return c.rep, nil
}

// DefaultName is what a reference without tag or digest names: the only
// image of a source that lists its images (a layout's or archive's
// index.json), else the tag "latest" (skopeo's rule for oci: and
// oci-archive:).
func DefaultName(ctx context.Context, src content.ImageSource) (string, error) {
	lister, ok := src.(interface {
		Index(context.Context) (*v1.Index, error)
	})
	if !ok {
		return layout.DefaultTag, nil
	}
	idx, err := lister.Index(ctx)
	if err != nil {
		return "", err
	}
	if len(idx.Manifests) == 1 {
		return string(idx.Manifests[0].Digest), nil
	}
	return layout.DefaultTag, nil
}

type copier struct {
	src  content.ImageSource
	dst  Destination
	stat content.Stater
	o    options
	mu   sync.Mutex // seen, rep: blobs are copied concurrently
	evmu sync.Mutex
	seen map[digest.Digest]bool
	rep  *Report
	// nodes are the manifests and indexes copied, in order
	nodes []digest.Digest
	ren   renames // new descriptors of recompressed blobs
}

// node copies a manifest or index and everything under it, children first.
func (c *copier) node(ctx context.Context, desc v1.Descriptor, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("index %s: nested deeper than %d: %w", desc.Digest, maxDepth, errdefs.ErrInvalid)
	}
	c.mu.Lock()
	done := c.seen[desc.Digest]
	c.mu.Unlock()
	if done {
		return nil
	}
	data, err := content.ReadAll(ctx, c.src, desc, MaxManifestSize)
	if err != nil {
		return err
	}
	switch {
	case layout.IsIndex(desc.MediaType):
		idx, err := layout.ParseIndex(data)
		if err != nil {
			return fmt.Errorf("index %s: %w", desc.Digest, err)
		}
		for _, child := range idx.Manifests {
			if child.Digest == desc.Digest {
				return fmt.Errorf("index %s: lists itself: %w", desc.Digest, errdefs.ErrInvalid)
			}
			if layout.IsIndex(child.MediaType) || layout.IsManifest(child.MediaType) {
				err = c.node(ctx, child, depth+1)
			} else {
				err = c.blob(ctx, child)
			}
			if err != nil {
				return err
			}
		}
		if data, desc, err = c.rewriteIndex(desc, data, idx); err != nil {
			return err
		}
	case layout.IsManifest(desc.MediaType):
		m, err := layout.ParseManifest(data)
		if err != nil {
			return fmt.Errorf("manifest %s: %w", desc.Digest, err)
		}
		if c.o.compression != nil {
			if handled, err := c.recompressManifest(ctx, desc, m); handled || err != nil {
				return err
			}
		}
		if ms, ok := c.dst.(manifestStater); ok {
			if has, _ := ms.HasManifest(ctx, desc); has {
				c.present(desc, append([]v1.Descriptor{m.Config}, m.Layers...))
				return nil
			}
		}
		if err := c.blobs(ctx, append([]v1.Descriptor{m.Config}, m.Layers...)); err != nil {
			return fmt.Errorf("manifest %s: %w", desc.Digest, err)
		}
	default:
		return fmt.Errorf("%s: media type %q is not an image manifest or index: %w", desc.Digest, clip(desc.MediaType), errdefs.ErrInvalid)
	}
	if err := c.put(ctx, desc, bytes.NewReader(data)); err != nil {
		return err
	}
	c.mu.Lock()
	c.nodes = append(c.nodes, desc.Digest)
	c.mu.Unlock()
	return nil
}

// manifestStater is a destination that tells, in one request, whether it
// holds a manifest, and so its blobs (registry.Repository: a registry
// takes a manifest only once the blobs it names are there).
type manifestStater interface {
	HasManifest(ctx context.Context, desc v1.Descriptor) (bool, error)
}

// present counts manifest desc and its blobs as there at the destination
// (skipped, nothing read or asked), and records desc as copied.
func (c *copier) present(desc v1.Descriptor, blobs []v1.Descriptor) {
	for _, d := range append(blobs, desc) {
		if !c.claim(d.Digest) {
			continue
		}
		c.mu.Lock()
		c.rep.Blobs++
		c.rep.Skipped++
		c.mu.Unlock()
		c.event(Event{Descriptor: d, Skipped: true})
	}
	c.mu.Lock()
	c.nodes = append(c.nodes, desc.Digest)
	c.mu.Unlock()
}

// maxParallel bounds the blobs of one manifest copied at once: enough to
// hide a registry's round trips, few enough not to thrash one disk.
const maxParallel = 4

// blobs copies a manifest's blobs, up to maxParallel at a time; the first
// error cancels the others.
func (c *copier) blobs(ctx context.Context, ds []v1.Descriptor) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, maxParallel)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for _, d := range ds {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := c.blob(ctx, d); err != nil {
				once.Do(func() { first = err; cancel(err) })
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// claim marks d as being copied; false if it was already.
func (c *copier) claim(d digest.Digest) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[d] {
		return false
	}
	c.seen[d] = true
	return true
}

// blob copies one blob unless dst has it.
func (c *copier) blob(ctx context.Context, d v1.Descriptor) error {
	if !c.claim(d.Digest) {
		return nil
	}
	if c.stat != nil {
		if n, err := c.stat.StatBlob(ctx, d.Digest); err == nil && n == d.Size {
			c.mu.Lock()
			c.rep.Blobs++
			c.rep.Skipped++
			c.mu.Unlock()
			c.event(Event{Descriptor: d, Skipped: true})
			return nil
		}
	}
	// A transfer cut short resumes: a registry's blob downloaded into a
	// layout, a layout's blob uploaded to a registry. From one layout to
	// another on this machine the blob is read again instead, so a failed
	// copy leaves no partial behind (nor the new layout that would keep it).
	_, fromLayout := c.src.(*layout.Layout)
	_, toLayout := c.dst.(interface{ HasPartial() bool })
	local := fromLayout && toLayout
	if rs, ok := c.src.(rangeSource); ok && !local && d.Size > 0 && !layout.IsIndex(d.MediaType) && !layout.IsManifest(d.MediaType) {
		if rd, ok := c.dst.(resumingDestination); ok {
			return c.resume(ctx, d, rs, rd)
		}
	}
	rc, err := c.src.OpenBlob(ctx, d)
	if err != nil {
		return err
	}
	defer rc.Close()
	return c.put(ctx, d, rc)
}

// rangeSource is a source that can send a blob from an offset on
// (registry.Repository; layout.Layout too, for pushes that resume).
type rangeSource interface {
	OpenBlobFrom(ctx context.Context, d v1.Descriptor, off int64) (io.ReadCloser, error)
}

// resumingDestination keeps what a download cut short got and continues
// it in a later copy (layout.Layout).
type resumingDestination interface {
	PutBlobFrom(ctx context.Context, d v1.Descriptor, open func(ctx context.Context, off int64) (io.ReadCloser, error)) (v1.Descriptor, error)
}

// resume copies blob d through the destination's resumable ingest: a
// download an earlier copy left unfinished continues where it stopped.
func (c *copier) resume(ctx context.Context, d v1.Descriptor, src rangeSource, dst resumingDestination) error {
	_, err := dst.PutBlobFrom(ctx, d, func(ctx context.Context, off int64) (io.ReadCloser, error) {
		rc, err := src.OpenBlobFrom(ctx, d, off)
		if err != nil {
			return nil, err
		}
		return readCloser{c.trackFrom(d, rc, off), rc}, nil
	})
	if err != nil {
		return fmt.Errorf("copy blob %s: %w", d.Digest, err)
	}
	c.mu.Lock()
	c.seen[d.Digest] = true
	c.rep.Blobs++
	c.rep.Bytes += d.Size
	c.mu.Unlock()
	c.event(Event{Descriptor: d, Bytes: d.Size})
	return nil
}

// readCloser reads through r and closes c.
type readCloser struct {
	io.Reader
	c io.Closer
}

func (r readCloser) Close() error { return r.c.Close() }

// BlobFile passes on the source's file (a layout's blob), for an upload
// with sendfile(2) that still reads the source alongside (its check, and
// the progress count).
func (r readCloser) BlobFile() *os.File {
	if bf, ok := r.Reader.(interface{ BlobFile() *os.File }); ok {
		return bf.BlobFile()
	}
	return nil
}

// Verifies keeps a verified reader's marker through the progress wrapper.
func (r readCloser) Verifies() v1.Descriptor {
	if vr, ok := r.Reader.(content.VerifiedReader); ok {
		return vr.Verifies()
	}
	return v1.Descriptor{}
}

func (c *copier) put(ctx context.Context, d v1.Descriptor, r io.Reader) error {
	if _, err := c.dst.PutBlob(ctx, c.track(d, r), d); err != nil {
		return fmt.Errorf("copy blob %s: %w", d.Digest, err)
	}
	c.mu.Lock()
	c.seen[d.Digest] = true
	c.rep.Blobs++
	c.rep.Bytes += d.Size
	c.mu.Unlock()
	c.event(Event{Descriptor: d, Bytes: d.Size})
	return nil
}

// event reports e; calls are serialised, so the callback need not lock.
func (c *copier) event(e Event) {
	if c.o.progress != nil {
		c.evmu.Lock()
		defer c.evmu.Unlock()
		c.o.progress(e)
	}
}
