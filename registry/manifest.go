package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/layout"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// accept lists the manifest media types asked for, OCI first.
var accept = strings.Join([]string{
	v1.MediaTypeImageManifest, v1.MediaTypeImageIndex,
	layout.MediaTypeDockerManifest, layout.MediaTypeDockerManifestList,
}, ", ")

// maxCached bounds the manifests a Repository keeps from this session.
const maxCached = 1024

var (
	_ content.ImageSource = (*Repository)(nil)
	_ content.Stater      = (*Repository)(nil)
	_ content.Ingester    = (*Repository)(nil)
	_ content.Tagger      = (*Repository)(nil)
)

// checkRef checks a tag or digest as Lookup takes it.
func checkRef(ref string) error {
	if strings.Contains(ref, ":") {
		return layout.CheckDigest(digest.Digest(ref))
	}
	return ValidateTag(ref)
}

// Lookup returns the descriptor of the manifest or index ref (a tag or a
// digest) names. The manifest is fetched whole (at most MaxManifestSize)
// and its digest computed: a digest ref, and a Docker-Content-Digest
// header, must match it (errdefs.ErrDigestMismatch). Its media type is the
// Content-Type, which must be a manifest or index type and agree with the
// document's own mediaType (errdefs.ErrInvalid).
func (r *Repository) Lookup(ctx context.Context, ref string) (v1.Descriptor, error) {
	if err := checkRef(ref); err != nil {
		return v1.Descriptor{}, err
	}
	_, desc, err := r.manifest(ctx, ref)
	return desc, err
}

// Resolve resolves ref to one image by content.Resolver's rules
// (layout.ResolveFrom).
func (r *Repository) Resolve(ctx context.Context, ref string, opts ...content.ResolveOption) (*content.Image, error) {
	return layout.ResolveFrom(ctx, r, ref, opts...)
}

// manifest returns the manifest ref names and its descriptor, from this
// session's cache when ref is a digest read or written before.
func (r *Repository) manifest(ctx context.Context, ref string) ([]byte, v1.Descriptor, error) {
	if d := digest.Digest(ref); strings.Contains(ref, ":") {
		r.mu.Lock()
		data, ok := r.manifests[d]
		r.mu.Unlock()
		if ok {
			return data, v1.Descriptor{MediaType: sniffType(data), Digest: d, Size: int64(len(data))}, nil
		}
	}
	ctx, watch, cancel := r.watch(ctx)
	defer cancel()
	resp, err := r.do(ctx, &request{method: http.MethodGet, url: "/v2/" + r.name + "/manifests/" + ref, header: http.Header{"Accept": {accept}}, ok: []int{http.StatusOK}, what: "manifest"})
	if err != nil {
		return nil, v1.Descriptor{}, stalled(ctx, err, r.o.timeout)
	}
	body := watch(resp.Body)
	defer body.Close()
	if resp.ContentLength > MaxManifestSize {
		return nil, v1.Descriptor{}, fmt.Errorf("manifest %s: %d bytes, more than %d: %w", clip(ref), resp.ContentLength, MaxManifestSize, errdefs.ErrInvalid)
	}
	data, err := io.ReadAll(io.LimitReader(body, MaxManifestSize+1))
	if err != nil {
		return nil, v1.Descriptor{}, fmt.Errorf("manifest %s: %w", clip(ref), err)
	}
	if len(data) > MaxManifestSize {
		return nil, v1.Descriptor{}, fmt.Errorf("manifest %s: more than %d bytes: %w", clip(ref), MaxManifestSize, errdefs.ErrInvalid)
	}
	if resp.ContentLength >= 0 && int64(len(data)) != resp.ContentLength {
		return nil, v1.Descriptor{}, fmt.Errorf("manifest %s: %d bytes, Content-Length says %d: %w", clip(ref), len(data), resp.ContentLength, errMismatch)
	}
	alg := digest.Canonical
	if strings.Contains(ref, ":") {
		alg = digest.Digest(ref).Algorithm()
	} else if h := digest.Digest(resp.Header.Get("Docker-Content-Digest")); h != "" && h.Algorithm().Available() {
		alg = h.Algorithm()
	}
	got := alg.FromBytes(data)
	if strings.Contains(ref, ":") && got != digest.Digest(ref) {
		return nil, v1.Descriptor{}, fmt.Errorf("manifest %s: content is %s: %w", ref, got, errMismatch)
	}
	if h := resp.Header.Get("Docker-Content-Digest"); h != "" && h != string(got) && digest.Digest(h).Algorithm() == alg {
		return nil, v1.Descriptor{}, fmt.Errorf("manifest %s: content is %s, registry says %s: %w", clip(ref), got, clip(h), errMismatch)
	}
	mt, err := documentType(resp.Header.Get("Content-Type"), data)
	if err != nil {
		return nil, v1.Descriptor{}, fmt.Errorf("manifest %s: %w", clip(ref), err)
	}
	r.remember(got, data)
	return data, v1.Descriptor{MediaType: mt, Digest: got, Size: int64(len(data))}, nil
}

// documentType is the media type of a manifest served with Content-Type
// ct: ct if it names a manifest or index, else the document's own
// mediaType; the two must agree.
func documentType(ct string, data []byte) (string, error) {
	mt, _, _ := mime.ParseMediaType(ct)
	own := sniffType(data)
	switch {
	case isDocument(mt) && own != "" && own != mt:
		return "", fmt.Errorf("served as %q but says it is %q: %w", clip(mt), clip(own), errdefs.ErrInvalid)
	case isDocument(mt):
		return mt, nil
	case isDocument(own):
		return own, nil
	}
	return "", fmt.Errorf("media type %q is not an image manifest or index: %w", clip(ct), errdefs.ErrInvalid)
}

// sniffType is a document's mediaType field, or the type its fields imply.
func sniffType(data []byte) string {
	var probe struct {
		MediaType string          `json:"mediaType"`
		Manifests json.RawMessage `json:"manifests"`
		Config    json.RawMessage `json:"config"`
	}
	if json.Unmarshal(data, &probe) != nil {
		return ""
	}
	switch {
	case probe.MediaType != "":
		return probe.MediaType
	case probe.Manifests != nil:
		return v1.MediaTypeImageIndex
	case probe.Config != nil:
		return v1.MediaTypeImageManifest
	}
	return ""
}

func (r *Repository) remember(d digest.Digest, data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.manifests) >= maxCached {
		clear(r.manifests)
	}
	r.manifests[d] = data
}

// putManifest reads a manifest or index (at most MaxManifestSize),
// verifies it against expect and puts it under its digest.
func (r *Repository) putManifest(ctx context.Context, rd io.Reader, expect v1.Descriptor, alg digest.Algorithm) (v1.Descriptor, error) {
	data, err := io.ReadAll(io.LimitReader(ctxReader{ctx, rd}, MaxManifestSize+1))
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("put manifest %s: %w", expect.Digest, err)
	}
	if len(data) > MaxManifestSize {
		return v1.Descriptor{}, fmt.Errorf("put manifest %s: more than %d bytes: %w", expect.Digest, MaxManifestSize, errdefs.ErrInvalid)
	}
	got := alg.FromBytes(data)
	if expect.Digest != "" && got != expect.Digest {
		return v1.Descriptor{}, fmt.Errorf("put manifest %s: content is %s: %w", expect.Digest, got, errMismatch)
	}
	if expect.Size != 0 && int64(len(data)) != expect.Size {
		return v1.Descriptor{}, fmt.Errorf("put manifest %s: %d bytes, descriptor says %d: %w", expect.Digest, len(data), expect.Size, errMismatch)
	}
	// A registry checks every blob a manifest names when it is put; one
	// it has already needs no second PUT.
	if have, _ := r.manifestDigest(ctx, string(got)); have != got {
		if err := r.putDocument(ctx, string(got), expect.MediaType, data); err != nil {
			return v1.Descriptor{}, fmt.Errorf("put manifest %s: %w", got, err)
		}
	}
	r.remember(got, data)
	expect.Digest, expect.Size = got, int64(len(data))
	return expect, nil
}

func (r *Repository) putDocument(ctx context.Context, ref, mediaType string, data []byte) error {
	resp, err := r.do(ctx, &request{method: http.MethodPut, url: "/v2/" + r.name + "/manifests/" + ref, header: http.Header{"Content-Type": {mediaType}}, body: data, ok: []int{http.StatusCreated, http.StatusOK}})
	if err != nil {
		return err
	}
	resp.Body.Close()
	if sub := digest.Digest(resp.Header.Get("OCI-Subject")); sub != "" {
		r.mu.Lock()
		r.subjects[digest.Digest(ref)] = sub // the registry lists it as sub's referrer
		r.mu.Unlock()
	}
	return nil
}

// Tag puts the manifest or index desc names under tag name (PUT by tag;
// the bytes come from this session, else from the registry, verified).
func (r *Repository) Tag(ctx context.Context, name string, desc v1.Descriptor) error {
	if err := ValidateTag(name); err != nil {
		return err
	}
	if !isDocument(desc.MediaType) {
		return fmt.Errorf("tag %s: media type %q is not an image manifest or index: %w", name, clip(desc.MediaType), errdefs.ErrInvalid)
	}
	if err := layout.CheckDigest(desc.Digest); err != nil {
		return fmt.Errorf("tag %s: %w", name, err)
	}
	if have, _ := r.manifestDigest(ctx, name); have == desc.Digest {
		return nil // the tag is there already
	}
	data, _, err := r.manifest(ctx, string(desc.Digest))
	if err != nil {
		return fmt.Errorf("tag %s: %w", name, err)
	}
	if int64(len(data)) != desc.Size {
		return fmt.Errorf("tag %s: manifest %s: %d bytes, descriptor says %d: %w", name, desc.Digest, len(data), desc.Size, errMismatch)
	}
	if err := r.putDocument(ctx, name, desc.MediaType, data); err != nil {
		return fmt.Errorf("tag %s: %w", name, err)
	}
	return nil
}

// HasManifest reports whether the repository holds the manifest or index
// desc names (one HEAD by digest), which a copy takes to mean that it
// holds its blobs too, and asks nothing more of them: a registry may
// refuse a manifest naming blobs it does not have (distribution-spec
// "Push": MANIFEST_BLOB_UNKNOWN), and docker-registry and image serve do;
// crane's push makes the same check first.
func (r *Repository) HasManifest(ctx context.Context, desc v1.Descriptor) (bool, error) {
	if err := layout.CheckDigest(desc.Digest); err != nil {
		return false, err
	}
	got, err := r.manifestDigest(ctx, string(desc.Digest))
	if errdefs.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return got == "" || got == desc.Digest || got.Algorithm() != desc.Digest.Algorithm(), nil
}

// manifestDigest is the digest of what ref names, by HEAD (the
// registry's Docker-Content-Digest), or "" and the error if it cannot be
// told.
func (r *Repository) manifestDigest(ctx context.Context, ref string) (digest.Digest, error) {
	resp, err := r.do(ctx, &request{method: http.MethodHead, url: "/v2/" + r.name + "/manifests/" + ref, header: http.Header{"Accept": {accept}}, ok: []int{http.StatusOK}, what: "manifest"})
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	return digest.Digest(resp.Header.Get("Docker-Content-Digest")), nil
}
