package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/layout"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// FallbackTag is the tag of the referrers tag schema for subject d
// (distribution-spec "Referrers Tag Schema": <alg>-<ref>, cut to 128
// characters), which clients maintain where a registry has no referrers
// API.
func FallbackTag(d digest.Digest) string {
	t := string(d.Algorithm()) + "-" + d.Encoded()
	if len(t) > 128 {
		t = t[:128]
	}
	return t
}

// Referrers lists the manifests whose subject is d: through the referrers
// API (GET /v2/<name>/referrers/<digest>) where the registry answers it,
// else from the index tagged FallbackTag(d). The list is empty, not nil,
// when nothing refers to d.
func (r *Repository) Referrers(ctx context.Context, d digest.Digest) ([]v1.Descriptor, error) {
	if err := layout.CheckDigest(d); err != nil {
		return nil, err
	}
	idx, ok, err := r.referrersAPI(ctx, d)
	if err != nil {
		return nil, err
	}
	if !ok {
		if idx, err = r.fallbackIndex(ctx, d); err != nil {
			return nil, err
		}
	}
	out := []v1.Descriptor{}
	for _, m := range idx.Manifests {
		if isDocument(m.MediaType) && layout.CheckDigest(m.Digest) == nil {
			out = append(out, m)
		}
	}
	return out, nil
}

// referrersAPI asks the referrers API; ok is false where the registry has
// none. spec.md "Listing Referrers" says such a registry answers 404 (and
// the client then falls back to the referrers tag schema); registries in
// the wild also answer 400 (the path is no API they know: d, checked
// already, is not what is invalid) or 405 (no GET there), and mean the
// same.
func (r *Repository) referrersAPI(ctx context.Context, d digest.Digest) (*v1.Index, bool, error) {
	ctx, watch, cancel := r.watch(ctx)
	defer cancel()
	resp, err := r.do(ctx, &request{method: http.MethodGet, url: "/v2/" + r.name + "/referrers/" + string(d), header: http.Header{"Accept": {v1.MediaTypeImageIndex}}, ok: []int{http.StatusOK, http.StatusNotFound, http.StatusBadRequest, http.StatusMethodNotAllowed}, what: "referrers"})
	if err != nil {
		return nil, false, stalled(ctx, err, r.o.timeout)
	}
	body := watch(resp.Body)
	defer body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(body, maxErrorBody))
		return nil, false, nil
	}
	data, err := io.ReadAll(io.LimitReader(body, MaxManifestSize+1))
	if err != nil {
		return nil, false, fmt.Errorf("referrers of %s: %w", d, err)
	}
	if len(data) > MaxManifestSize {
		return nil, false, fmt.Errorf("referrers of %s: more than %d bytes: %w", d, MaxManifestSize, errdefs.ErrInvalid)
	}
	var idx v1.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, false, fmt.Errorf("referrers of %s: %v: %w", d, err, errdefs.ErrInvalid)
	}
	return &idx, true, nil
}

// fallbackIndex is the index tagged FallbackTag(d), or an empty one.
func (r *Repository) fallbackIndex(ctx context.Context, d digest.Digest) (*v1.Index, error) {
	data, desc, err := r.manifest(ctx, FallbackTag(d))
	if errdefs.IsNotFound(err) {
		return &v1.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageIndex, Manifests: []v1.Descriptor{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("referrers tag of %s: %w", d, err)
	}
	if !layout.IsIndex(desc.MediaType) {
		return nil, fmt.Errorf("referrers tag of %s: a %q, not an index: %w", d, clip(desc.MediaType), errdefs.ErrInvalid)
	}
	idx, err := layout.ParseIndex(data)
	if err != nil {
		return nil, fmt.Errorf("referrers tag of %s: %w", d, err)
	}
	return idx, nil
}

// AddReferrer makes the registry list ref (a manifest or index already
// put) as a referrer of subject. Nothing is left to do where the registry
// answered ref's PUT with an OCI-Subject header naming subject, or lists
// ref in its referrers API; else the index tagged FallbackTag(subject) is
// read, given ref's descriptor, and put back (distribution-spec "Pushing
// Manifests with Subject": the client updates the referrers tag; two
// clients doing so at once can lose one's entry, as the spec warns).
func (r *Repository) AddReferrer(ctx context.Context, subject digest.Digest, ref v1.Descriptor) error {
	r.mu.Lock()
	indexed := r.subjects[ref.Digest] == subject
	r.mu.Unlock()
	if indexed {
		return nil
	}
	idx, ok, err := r.referrersAPI(ctx, subject)
	if err != nil {
		return err
	}
	if ok && listed(idx, ref.Digest) {
		return nil
	}
	if idx, err = r.fallbackIndex(ctx, subject); err != nil {
		return err
	}
	if listed(idx, ref.Digest) {
		return nil
	}
	idx.Manifests = append(idx.Manifests, v1.Descriptor{MediaType: ref.MediaType, Digest: ref.Digest, Size: ref.Size, ArtifactType: ref.ArtifactType, Annotations: ref.Annotations})
	idx.MediaType = v1.MediaTypeImageIndex
	idx.SchemaVersion = 2
	data, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	if err := r.putDocument(ctx, FallbackTag(subject), v1.MediaTypeImageIndex, data); err != nil {
		return fmt.Errorf("referrers tag of %s: %w", subject, err)
	}
	return nil
}

func listed(idx *v1.Index, d digest.Digest) bool {
	for _, m := range idx.Manifests {
		if m.Digest == d {
			return true
		}
	}
	return false
}
