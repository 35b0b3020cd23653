package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/ocikit/ocikit/layout"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// maxManifestSize caps a manifest PUT body (spec: "Client and registry
// implementations SHOULD expect to be able to support manifest pushes of
// at least 4 megabytes"; larger is 413).
const maxManifestSize = 4 << 20

// manifest serves /v2/<name>/manifests/<reference>.
func (s *Server) manifest(w http.ResponseWriter, r *http.Request, name, ref string) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.getManifest(w, r, name, ref)
	case http.MethodPut:
		s.putManifest(w, r, name, ref)
	case http.MethodDelete:
		s.deleteManifest(w, r, name, ref)
	default:
		methodNotAllowed(w, r)
	}
}

// parseRef splits a manifest reference into a tag or a digest (a tag
// cannot contain ':').
func parseRef(ref string) (tag string, d digest.Digest, e *apiError) {
	if strings.Contains(ref, ":") {
		d, e = parseDigest(ref)
		return "", d, e
	}
	if e := checkTag(ref); e != nil {
		return "", "", e
	}
	return ref, "", nil
}

// openRef parses ref and opens the repository name, for the requests on
// a manifest it must already hold (GET, HEAD, DELETE).
func (s *Server) openRef(ctx context.Context, name, ref string) (l *layout.Layout, tag string, d digest.Digest, e *apiError) {
	if tag, d, e = parseRef(ref); e != nil {
		return nil, "", "", e
	}
	if l, e = s.openRepo(ctx, name); e != nil {
		return nil, "", "", e
	}
	return l, tag, d, nil
}

// checkTag checks a tag against the spec's grammar and the ref.name
// grammar of the layout's index.json (annotations.md), which is stricter
// in places ("a..b" is a valid tag, not a valid ref name).
func checkTag(tag string) *apiError {
	if !tagRE().MatchString(tag) {
		return newError(http.StatusBadRequest, codeTagInvalid, fmt.Sprintf("invalid tag %q", clip(tag)))
	}
	if err := layout.ValidateTag(tag); err != nil {
		return newError(http.StatusBadRequest, codeTagInvalid,
			fmt.Sprintf("tag %q cannot be stored as an OCI layout ref name (letters and digits separated by one of -._ )", clip(tag)))
	}
	return nil
}

// probe is what the server reads of a manifest or index.
type probe struct {
	MediaType    string `json:"mediaType"`
	ArtifactType string `json:"artifactType"`
	Config       *struct {
		MediaType string `json:"mediaType"`
	} `json:"config"`
	Manifests   json.RawMessage   `json:"manifests"`
	Subject     *v1.Descriptor    `json:"subject"`
	Annotations map[string]string `json:"annotations"`
}

// kind is the media type data declares, or the one its shape says.
func (p *probe) kind() string {
	switch {
	case p.MediaType != "":
		return p.MediaType
	case p.Manifests != nil:
		return v1.MediaTypeImageIndex
	case p.Config != nil:
		return v1.MediaTypeImageManifest
	}
	return ""
}

// findManifest finds a manifest of repository l by tag or digest: an
// index.json entry, or (by digest) a stored manifest or index that is not
// listed, such as a child of a multi-platform image in a layout skopeo
// wrote.
func (s *Server) findManifest(ctx context.Context, l *layout.Layout, name, tag string, d digest.Digest) (v1.Descriptor, *apiError) {
	idx, err := l.Index(ctx)
	if err != nil {
		return v1.Descriptor{}, s.internal(err)
	}
	what := tag
	if tag == "" {
		what = string(d)
	}
	unknown := newError(http.StatusNotFound, codeManifestUnknown, fmt.Sprintf("manifest %s unknown to repository %q", what, name))
	if tag != "" {
		var found *v1.Descriptor
		for i, m := range idx.Manifests {
			if m.Annotations[v1.AnnotationRefName] != tag {
				continue
			}
			if found != nil && found.Digest != m.Digest {
				return v1.Descriptor{}, s.internal(fmt.Errorf("%s: tag %q names several manifests", l.Dir(), tag))
			}
			found = &idx.Manifests[i]
		}
		if found == nil {
			return v1.Descriptor{}, unknown
		}
		return *found, nil
	}
	for _, m := range idx.Manifests {
		if m.Digest == d {
			return m, nil
		}
	}
	size, err := l.StatBlob(ctx, d)
	if err != nil || size > maxManifestSize {
		return v1.Descriptor{}, unknown
	}
	desc := v1.Descriptor{Digest: d, Size: size}
	data, err := l.ReadBlob(ctx, desc)
	if err != nil {
		return v1.Descriptor{}, unknown
	}
	var p probe
	if json.Unmarshal(data, &p) != nil {
		return v1.Descriptor{}, unknown
	}
	desc.MediaType = p.kind()
	if !layout.IsManifest(desc.MediaType) && !layout.IsIndex(desc.MediaType) {
		return v1.Descriptor{}, unknown
	}
	return desc, nil
}

func (s *Server) getManifest(w http.ResponseWriter, r *http.Request, name, ref string) {
	ctx := r.Context()
	l, tag, d, e := s.openRef(ctx, name, ref)
	if e != nil {
		writeError(w, r, e)
		return
	}
	desc, e := s.findManifest(ctx, l, name, tag, d)
	if e != nil {
		writeError(w, r, e)
		return
	}
	data, err := l.ReadBlob(ctx, v1.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size})
	if err != nil {
		writeError(w, r, s.internal(err))
		return
	}
	// Content-Type: what the manifest says it is, else what it was
	// pushed as (spec: "SHOULD match what the client pushed").
	ct := desc.MediaType
	var p probe
	if json.Unmarshal(data, &p) == nil && p.MediaType != "" {
		ct = p.MediaType
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.Itoa(len(data)))
	h.Set("Docker-Content-Digest", string(desc.Digest))
	h.Set("ETag", `"`+string(desc.Digest)+`"`)
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(data)
	}
}

// checkManifest validates a pushed manifest or index and returns the
// media type to store it under. The body's mediaType, if any, must be the
// Content-Type; OCI and Docker v2 manifests and indexes are accepted,
// whose configs, layers and child manifests must be in the repository
// (MANIFEST_BLOB_UNKNOWN), except layers with urls (non-distributable) and
// the subject, which may come later (spec: "A registry MUST initially
// accept an otherwise valid manifest with a subject field that references
// a manifest that does not exist").
func (s *Server) checkManifest(ctx context.Context, l *layout.Layout, body []byte, contentType string) (string, *probe, *apiError) {
	invalid := func(format string, a ...any) *apiError {
		return newError(http.StatusBadRequest, codeManifestInvalid, fmt.Sprintf(format, a...))
	}
	var p probe
	if err := json.Unmarshal(body, &p); err != nil {
		return "", nil, invalid("manifest is not a JSON object: %v", err)
	}
	mt := contentType
	if mt == "" {
		mt = p.kind()
	}
	if p.MediaType != "" && p.MediaType != mt {
		return "", nil, invalid("mediaType %q does not match Content-Type %q", clip(p.MediaType), clip(mt))
	}
	missing := func(d v1.Descriptor) *apiError {
		return newError(http.StatusBadRequest, codeManifestBlobUnknown, fmt.Sprintf("manifest references %s, which is not in the repository", d.Digest))
	}
	have := func(d v1.Descriptor) *apiError {
		size, err := l.StatBlob(ctx, d.Digest)
		if err != nil {
			if errors.Is(err, layout.ErrNotFound) || errors.Is(err, layout.ErrUnsupportedDigest) {
				return missing(d)
			}
			return s.internal(err)
		}
		if size != d.Size {
			return invalid("descriptor of %s says %d bytes, the blob has %d", d.Digest, d.Size, size)
		}
		return nil
	}
	switch {
	case layout.IsManifest(mt):
		m, err := layout.ParseManifest(body)
		if err != nil {
			return "", nil, invalid("%v", err)
		}
		if e := have(m.Config); e != nil {
			return "", nil, e
		}
		for _, d := range m.Layers {
			if len(d.URLs) > 0 {
				continue // non-distributable: fetched from its urls
			}
			if e := have(d); e != nil {
				return "", nil, e
			}
		}
	case layout.IsIndex(mt):
		idx, err := layout.ParseIndex(body)
		if err != nil {
			return "", nil, invalid("%v", err)
		}
		for _, d := range idx.Manifests {
			if e := have(d); e != nil {
				return "", nil, e
			}
		}
	default:
		return "", nil, newError(http.StatusBadRequest, codeManifestInvalid,
			fmt.Sprintf("unsupported manifest media type %q (OCI and Docker v2 manifests and indexes are)", clip(mt)))
	}
	return mt, &p, nil
}

func (s *Server) putManifest(w http.ResponseWriter, r *http.Request, name, ref string) {
	ctx := r.Context()
	tag, d, e := parseRef(ref)
	if e != nil {
		writeError(w, r, e)
		return
	}
	tags := []string{}
	if tag != "" {
		tags = append(tags, tag)
	}
	// Tags as parameters of a push by digest (distribution-spec after
	// 1.1: "?tag=", answered with OCI-Tag headers).
	for _, t := range r.URL.Query()["tag"] {
		if e := checkTag(t); e != nil {
			writeError(w, r, e)
			return
		}
		tags = append(tags, t)
	}
	tooLarge := newError(http.StatusRequestEntityTooLarge, codeManifestInvalid, fmt.Sprintf("manifest larger than %d bytes", maxManifestSize))
	if r.ContentLength > maxManifestSize {
		writeError(w, r, tooLarge)
		return
	}
	body, err := io.ReadAll(io.LimitReader(s.body(w, r), maxManifestSize+1))
	if err != nil {
		writeError(w, r, newError(http.StatusBadRequest, codeManifestInvalid, "reading the manifest: "+err.Error()))
		return
	}
	if len(body) > maxManifestSize {
		writeError(w, r, tooLarge)
		return
	}
	alg := digest.Canonical
	if d != "" {
		alg = d.Algorithm()
	}
	got := alg.FromBytes(body)
	if d != "" && got != d {
		writeError(w, r, newError(http.StatusBadRequest, codeDigestInvalid, fmt.Sprintf("manifest content is %s, not %s", got, d)))
		return
	}
	ct := r.Header.Get("Content-Type")
	if ct != "" {
		if parsed, _, err := mime.ParseMediaType(ct); err == nil {
			ct = parsed
		}
	}
	l, e := s.createRepo(ctx, name)
	if e != nil {
		writeError(w, r, e)
		return
	}
	mt, p, e := s.checkManifest(ctx, l, body, ct)
	if e != nil {
		writeError(w, r, e)
		return
	}
	desc := v1.Descriptor{MediaType: mt, Digest: got, Size: int64(len(body)), ArtifactType: p.ArtifactType}
	if _, err := l.PutBlob(ctx, bytes.NewReader(body), desc); err != nil {
		writeError(w, r, s.internal(err))
		return
	}
	if err := l.UpdateIndex(ctx, func(idx *v1.Index) error {
		recordManifest(idx, desc, tags)
		return nil
	}); err != nil {
		writeError(w, r, s.internal(err))
		return
	}
	h := w.Header()
	h.Set("Location", "/v2/"+name+"/manifests/"+string(got))
	h.Set("Docker-Content-Digest", string(got))
	if p.Subject != nil {
		h.Set("OCI-Subject", string(p.Subject.Digest))
	}
	for _, t := range tags {
		if t != tag {
			h.Add("OCI-Tag", t)
		}
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

// recordManifest makes index.json list desc: one entry per tag (replacing
// what the tags named before), or, untagged, one entry without a ref name
// unless the digest is listed already. A tagged digest loses its untagged
// entry, and a manifest whose last tag moves away keeps one, so every
// pushed manifest stays listed (reachable for GC, found by referrers).
func recordManifest(idx *v1.Index, desc v1.Descriptor, tags []string) {
	retag := map[string]bool{}
	for _, t := range tags {
		retag[t] = true
	}
	out := idx.Manifests[:0:0]
	var orphans []v1.Descriptor
	for _, m := range idx.Manifests {
		name, tagged := m.Annotations[v1.AnnotationRefName]
		switch {
		case tagged && retag[name]:
			if m.Digest != desc.Digest {
				orphans = append(orphans, m)
			}
			continue
		case !tagged && m.Digest == desc.Digest && len(tags) > 0:
			continue
		}
		out = append(out, m)
	}
	listed := func(d digest.Digest) bool {
		for _, m := range out {
			if m.Digest == d {
				return true
			}
		}
		return false
	}
	for _, t := range tags {
		e := desc
		e.Annotations = map[string]string{v1.AnnotationRefName: t}
		out = append(out, e)
	}
	if len(tags) == 0 && !listed(desc.Digest) {
		out = append(out, desc)
	}
	for _, o := range orphans {
		if !listed(o.Digest) {
			out = append(out, untagged(o))
		}
	}
	idx.Manifests = out
}

// untagged is an index.json entry without its ref name.
func untagged(d v1.Descriptor) v1.Descriptor {
	var ann map[string]string
	for k, v := range d.Annotations {
		if k == v1.AnnotationRefName {
			continue
		}
		if ann == nil {
			ann = map[string]string{}
		}
		ann[k] = v
	}
	d.Annotations = ann
	return d
}

var errNoSuchManifest = errors.New("no such manifest")

func (s *Server) deleteManifest(w http.ResponseWriter, r *http.Request, name, ref string) {
	ctx := r.Context()
	l, tag, d, e := s.openRef(ctx, name, ref)
	if e != nil {
		writeError(w, r, e)
		return
	}
	unknown := newError(http.StatusNotFound, codeManifestUnknown, fmt.Sprintf("manifest %s unknown to repository %q", ref, name))
	if tag != "" {
		// Deleting a tag keeps its manifest, untagged.
		err := l.UpdateIndex(ctx, func(idx *v1.Index) error {
			out := idx.Manifests[:0:0]
			var removed []v1.Descriptor
			for _, m := range idx.Manifests {
				if m.Annotations[v1.AnnotationRefName] == tag {
					removed = append(removed, m)
					continue
				}
				out = append(out, m)
			}
			if len(removed) == 0 {
				return errNoSuchManifest
			}
			for _, m := range removed {
				listed := false
				for _, o := range out {
					listed = listed || o.Digest == m.Digest
				}
				if !listed {
					out = append(out, untagged(m))
				}
			}
			idx.Manifests = out
			return nil
		})
		switch {
		case errors.Is(err, errNoSuchManifest):
			writeError(w, r, unknown)
		case err != nil:
			writeError(w, r, s.internal(err))
		default:
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusAccepted)
		}
		return
	}
	// By digest: the manifest, every tag naming it, and its blob go.
	if _, e := s.findManifest(ctx, l, name, "", d); e != nil {
		writeError(w, r, e)
		return
	}
	err := l.UpdateIndex(ctx, func(idx *v1.Index) error {
		out := idx.Manifests[:0:0]
		for _, m := range idx.Manifests {
			if m.Digest != d {
				out = append(out, m)
			}
		}
		idx.Manifests = out
		return nil
	})
	if err == nil {
		if err = l.DeleteBlob(ctx, d); errors.Is(err, layout.ErrNotFound) {
			err = nil
		}
	}
	if err != nil {
		writeError(w, r, s.internal(err))
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
}
