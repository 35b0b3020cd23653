package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"

	"github.com/ocikit/ocikit/layout"
	dspec "github.com/opencontainers/distribution-spec/specs-go/v1"
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
// image index of the manifests in the repository whose subject is digest
// (layout.Referrers: every index.json entry, which every manifest pushed
// is, and referrers-tag-schema indexes).
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
		list, err := l.Referrers(ctx, d)
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
