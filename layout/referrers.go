package layout

import (
	"context"
	"encoding/json"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// maxReferrerSize bounds the documents Referrers reads: registries cap
// manifests at 4 MiB.
const maxReferrerSize = 4 << 20

// Referrers lists the manifests and indexes of the layout whose subject is
// d, as distribution-spec's referrers API answers ("Listing Referrers"):
// each descriptor carries the referrer's media type, digest and size, its
// artifactType (for a manifest without one, its config's media type; for
// an index only its own) and its annotations. Candidates are the entries
// of index.json, tagged or not, and the manifests of an index tagged with
// the referrers tag schema (<alg>-<encoded>, the fallback that clients
// write where a registry has no referrers API). An entry that cannot be
// read is skipped: it refers to nothing. The list is empty, not nil, when
// nothing refers to d.
func (l *Layout) Referrers(ctx context.Context, d digest.Digest) ([]v1.Descriptor, error) {
	idx, err := l.Index(ctx)
	if err != nil {
		return nil, err
	}
	candidates := append([]v1.Descriptor(nil), idx.Manifests...)
	schemaTag := string(d.Algorithm()) + "-" + d.Encoded()
	if len(schemaTag) > 128 {
		schemaTag = schemaTag[:128] // the spec's tag length limit
	}
	for _, m := range idx.Manifests {
		if m.Annotations[v1.AnnotationRefName] != schemaTag || !IsIndex(m.MediaType) || m.Size > maxReferrerSize {
			continue
		}
		data, err := l.ReadBlob(ctx, m)
		if err != nil {
			continue
		}
		if fallback, err := ParseIndex(data); err == nil {
			candidates = append(candidates, fallback.Manifests...)
		}
	}
	seen := map[digest.Digest]bool{}
	out := []v1.Descriptor{}
	for _, c := range candidates {
		if seen[c.Digest] || c.Size > maxReferrerSize || !(IsManifest(c.MediaType) || IsIndex(c.MediaType)) {
			continue
		}
		seen[c.Digest] = true
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		data, err := l.ReadBlob(ctx, v1.Descriptor{MediaType: c.MediaType, Digest: c.Digest, Size: c.Size})
		if err != nil {
			continue
		}
		var doc struct {
			MediaType    string            `json:"mediaType"`
			ArtifactType string            `json:"artifactType"`
			Config       *v1.Descriptor    `json:"config"`
			Subject      *v1.Descriptor    `json:"subject"`
			Annotations  map[string]string `json:"annotations"`
		}
		if json.Unmarshal(data, &doc) != nil || doc.Subject == nil || doc.Subject.Digest != d {
			continue
		}
		mt := c.MediaType
		if doc.MediaType != "" {
			mt = doc.MediaType
		}
		ref := v1.Descriptor{MediaType: mt, Digest: c.Digest, Size: c.Size, ArtifactType: doc.ArtifactType, Annotations: doc.Annotations}
		if ref.ArtifactType == "" && IsManifest(mt) && doc.Config != nil {
			ref.ArtifactType = doc.Config.MediaType
		}
		out = append(out, ref)
	}
	return out, nil
}

// AddReferrer lists ref (a manifest or index in the layout whose subject
// is subject) in index.json without a tag, unless its digest is listed
// already, so Referrers finds it and GC keeps it, as ocikit image serve
// records a pushed referrer.
func (l *Layout) AddReferrer(ctx context.Context, subject digest.Digest, ref v1.Descriptor) error {
	return l.UpdateIndex(ctx, func(idx *v1.Index) error {
		for _, m := range idx.Manifests {
			if m.Digest == ref.Digest {
				return nil
			}
		}
		idx.Manifests = append(idx.Manifests, v1.Descriptor{MediaType: ref.MediaType, Digest: ref.Digest, Size: ref.Size, ArtifactType: ref.ArtifactType})
		return nil
	})
}
