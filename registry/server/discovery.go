package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"

	"github.com/ocikit/ocikit/layout"
	dspec "github.com/opencontainers/distribution-spec/specs-go/v1"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func writeJSON(w http.ResponseWriter, r *http.Request, contentType string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		writeError(w, r, newError(http.StatusInternalServerError, codeUnsupported, "internal server error"))
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(data)
	}
}

// tagsList serves GET /v2/<name>/tags/list[?n=<int>&last=<tag>]: the tags
// in lexical (byte) order, after last, at most n, with a Link header to
// the next page when n cut the list.
func (s *Server) tagsList(w http.ResponseWriter, r *http.Request, name string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, r)
		return
	}
	ctx := r.Context()
	l, e := s.openRepo(ctx, name)
	if e != nil {
		writeError(w, r, e)
		return
	}
	idx, err := l.Index(ctx)
	if err != nil {
		writeError(w, r, s.internal(err))
		return
	}
	// Tags of index.json that are not registry tags (a ref name such as
	// "v1/debug") cannot be asked for, so they are not listed.
	tags := []string{}
	for _, t := range layout.Tags(idx) {
		if tagRE().MatchString(t) {
			tags = append(tags, t)
		}
	}
	q := r.URL.Query()
	if last := q.Get("last"); last != "" {
		tags = tags[sort.Search(len(tags), func(i int) bool { return tags[i] > last }):]
	}
	if ns, ok := q["n"]; ok {
		n, err := strconv.Atoi(ns[0])
		if err != nil || n < 0 {
			writeError(w, r, newError(http.StatusBadRequest, codeUnsupported, fmt.Sprintf("invalid n %q", clip(ns[0]))))
			return
		}
		if n < len(tags) {
			tags = tags[:n]
			if n > 0 {
				next := url.Values{"n": {strconv.Itoa(n)}, "last": {tags[n-1]}}
				w.Header().Set("Link", fmt.Sprintf(`</v2/%s/tags/list?%s>; rel="next"`, name, next.Encode()))
			}
		}
	}
	writeJSON(w, r, "application/json", dspec.TagList{Name: name, Tags: tags})
}

// referrers serves GET /v2/<name>/referrers/<digest>[?artifactType=]: an
// image index of the manifests in the repository whose subject is digest.
func (s *Server) referrers(w http.ResponseWriter, r *http.Request, name, ref string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, r)
		return
	}
	ctx := r.Context()
	d, e := parseDigest(ref)
	if e != nil {
		writeError(w, r, e)
		return
	}
	out := v1.Index{MediaType: v1.MediaTypeImageIndex, Manifests: []v1.Descriptor{}}
	out.SchemaVersion = 2
	// Spec: a registry with the referrers API "MUST NOT return a 404";
	// a repository that does not exist has no referrers.
	if s.checkName(name) != nil {
		writeError(w, r, s.checkName(name))
		return
	}
	if s.isLayout(name) {
		l, e := s.openRepo(ctx, name)
		if e != nil {
			writeError(w, r, e)
			return
		}
		list, err := referrersOf(ctx, l, d)
		if err != nil {
			writeError(w, r, s.internal(err))
			return
		}
		out.Manifests = list
	}
	if at := r.URL.Query().Get("artifactType"); at != "" {
		kept := out.Manifests[:0]
		for _, m := range out.Manifests {
			if m.ArtifactType == at {
				kept = append(kept, m)
			}
		}
		out.Manifests = kept
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	writeJSON(w, r, v1.MediaTypeImageIndex, out)
}

// referrersOf lists the manifests and indexes of l whose subject is d:
// those index.json lists, and those of an index tagged with the referrers
// tag schema (<alg>-<encoded>, spec "Enabling the Referrers API": such
// preexisting referrers MUST be included). Each descriptor carries the
// artifactType (the manifest's, else its config's media type; an index's
// only if set) and the annotations of the referrer.
func referrersOf(ctx context.Context, l *layout.Layout, d digest.Digest) ([]v1.Descriptor, error) {
	idx, err := l.Index(ctx)
	if err != nil {
		return nil, err
	}
	candidates := append([]v1.Descriptor(nil), idx.Manifests...)
	schemaTag := string(d.Algorithm()) + "-" + d.Encoded()
	if len(schemaTag) > 128 {
		schemaTag = schemaTag[:128]
	}
	for _, m := range idx.Manifests {
		if m.Annotations[v1.AnnotationRefName] != schemaTag || !layout.IsIndex(m.MediaType) || m.Size > maxManifestSize {
			continue
		}
		data, err := l.ReadBlob(ctx, m)
		if err != nil {
			continue
		}
		if fallback, err := layout.ParseIndex(data); err == nil {
			candidates = append(candidates, fallback.Manifests...)
		}
	}
	seen := map[digest.Digest]bool{}
	out := []v1.Descriptor{}
	for _, c := range candidates {
		if seen[c.Digest] || c.Size > maxManifestSize || !(layout.IsManifest(c.MediaType) || layout.IsIndex(c.MediaType)) {
			continue
		}
		seen[c.Digest] = true
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		data, err := l.ReadBlob(ctx, v1.Descriptor{MediaType: c.MediaType, Digest: c.Digest, Size: c.Size})
		if err != nil {
			continue // a missing or broken entry refers to nothing
		}
		var p probe
		if json.Unmarshal(data, &p) != nil || p.Subject == nil || p.Subject.Digest != d {
			continue
		}
		mt := c.MediaType
		if p.MediaType != "" {
			mt = p.MediaType
		}
		ref := v1.Descriptor{MediaType: mt, Digest: c.Digest, Size: c.Size, ArtifactType: p.ArtifactType, Annotations: p.Annotations}
		if ref.ArtifactType == "" && layout.IsManifest(mt) && p.Config != nil {
			ref.ArtifactType = p.Config.MediaType
		}
		out = append(out, ref)
	}
	return out, nil
}
