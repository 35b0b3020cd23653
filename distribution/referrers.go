package distribution

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/errdefs"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// maxReferrers bounds the referrer documents one copy follows, so a
// source cannot make a copy endless with a chain of new ones.
const maxReferrers = 4096

// WithReferrers also copies every manifest or index whose subject is a
// copied manifest or index (signatures, SBOMs, attestations), and theirs
// in turn. The source lists them (a layout from index.json and its
// referrers tags, a registry through its referrers API or else the
// referrers tag schema); the destination records them the way it can (a
// layout lists them in index.json untagged; a registry that answers the
// PUT with OCI-Subject needs nothing more, any other gets the referrers
// tag index updated). Recompression (WithCompression) would give the
// subjects new digests, so the two cannot be combined.
func WithReferrers() Option { return func(o *options) { o.referrers = true } }

// referrerLister is a source that lists the referrers of a digest
// (layout.Layout, registry.Repository).
type referrerLister interface {
	Referrers(ctx context.Context, d digest.Digest) ([]v1.Descriptor, error)
}

// referrerRecorder is a destination that records a referrer already put
// (layout.Layout, registry.Repository).
type referrerRecorder interface {
	AddReferrer(ctx context.Context, subject digest.Digest, ref v1.Descriptor) error
}

// copyReferrers copies the referrers of every manifest and index copied
// so far, breadth first, and records each at the destination once it and
// everything under it are there.
func (c *copier) copyReferrers(ctx context.Context) error {
	ls, ok := c.src.(referrerLister)
	if !ok {
		return fmt.Errorf("referrers: the source cannot list them: %w", errdefs.ErrUnsupported)
	}
	rec, ok := c.dst.(referrerRecorder)
	if !ok {
		return fmt.Errorf("referrers: the destination cannot record them: %w", errdefs.ErrUnsupported)
	}
	c.mu.Lock()
	queue := append([]digest.Digest(nil), c.nodes...)
	c.mu.Unlock()
	visited := map[digest.Digest]bool{}
	for len(queue) > 0 {
		subject := queue[0]
		queue = queue[1:]
		if visited[subject] {
			continue
		}
		visited[subject] = true
		refs, err := ls.Referrers(ctx, subject)
		if err != nil {
			return fmt.Errorf("referrers of %s: %w", subject, err)
		}
		for _, ref := range refs {
			if ref.Digest == subject {
				continue
			}
			if c.rep.Referrers++; c.rep.Referrers > maxReferrers {
				return fmt.Errorf("referrers: more than %d: %w", maxReferrers, errdefs.ErrInvalid)
			}
			d := v1.Descriptor{MediaType: ref.MediaType, Digest: ref.Digest, Size: ref.Size, ArtifactType: ref.ArtifactType}
			if err := c.checkSubject(ctx, d, subject); err != nil {
				return err
			}
			c.mu.Lock()
			before := len(c.nodes)
			c.mu.Unlock()
			if err := c.node(ctx, d, 0); err != nil {
				return fmt.Errorf("referrer %s of %s: %w", ref.Digest, subject, err)
			}
			if err := rec.AddReferrer(ctx, subject, ref); err != nil {
				return fmt.Errorf("referrer %s of %s: %w", ref.Digest, subject, err)
			}
			c.mu.Lock()
			queue = append(queue, c.nodes[before:]...)
			c.mu.Unlock()
			queue = append(queue, ref.Digest)
		}
	}
	return nil
}

// checkSubject makes sure the document d names subject as its subject: a
// source's list is not trusted to say so.
func (c *copier) checkSubject(ctx context.Context, d v1.Descriptor, subject digest.Digest) error {
	data, err := content.ReadAll(ctx, c.src, d, MaxManifestSize)
	if err != nil {
		return fmt.Errorf("referrer %s of %s: %w", d.Digest, subject, err)
	}
	var doc struct {
		Subject *v1.Descriptor `json:"subject"`
	}
	if err := json.Unmarshal(data, &doc); err != nil || doc.Subject == nil || doc.Subject.Digest != subject {
		return fmt.Errorf("referrer %s of %s: its subject is not %s: %w", d.Digest, subject, subject, errdefs.ErrInvalid)
	}
	return nil
}
