package server

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ocikit/ocikit/layout"
	digest "github.com/opencontainers/go-digest"
)

// parseDigest checks a digest from a URL or query: DIGEST_INVALID for bad
// syntax, UNSUPPORTED for an algorithm other than sha256 and sha512.
func parseDigest(s string) (digest.Digest, *apiError) {
	d := digest.Digest(s)
	if err := layout.CheckDigest(d); err != nil {
		if errors.Is(err, layout.ErrUnsupportedDigest) {
			return "", newError(http.StatusBadRequest, codeUnsupported, fmt.Sprintf("digest %q: unsupported algorithm (sha256 and sha512 are)", clip(s)))
		}
		return "", newError(http.StatusBadRequest, codeDigestInvalid, fmt.Sprintf("invalid digest %q", clip(s)))
	}
	return d, nil
}

// blob serves GET, HEAD and DELETE /v2/<name>/blobs/<digest>.
func (s *Server) blob(w http.ResponseWriter, r *http.Request, name, ref string) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodDelete:
	default:
		methodNotAllowed(w, r)
		return
	}
	d, e := parseDigest(ref)
	if e != nil {
		writeError(w, r, e)
		return
	}
	l, e := s.openRepo(r.Context(), name)
	if e != nil {
		writeError(w, r, e)
		return
	}
	unknown := newError(http.StatusNotFound, codeBlobUnknown, fmt.Sprintf("blob %s unknown to repository %q", d, name))
	if r.Method == http.MethodDelete {
		if err := l.DeleteBlob(r.Context(), d); err != nil {
			if errors.Is(err, layout.ErrNotFound) {
				writeError(w, r, unknown)
			} else {
				writeError(w, r, s.internal(err))
			}
			return
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusAccepted)
		return
	}
	f, err := l.OpenBlobFile(r.Context(), d)
	if err != nil {
		if errors.Is(err, layout.ErrNotFound) {
			writeError(w, r, unknown)
		} else {
			writeError(w, r, s.internal(err))
		}
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Docker-Content-Digest", string(d))
	h.Set("Content-Type", "application/octet-stream")
	h.Set("ETag", `"`+string(d)+`"`)
	h.Set("Cache-Control", "max-age=31536000")
	// ServeContent answers Range requests (206, 416 for a range that does
	// not overlap the blob, RFC 9110), HEAD, and conditional requests on
	// the ETag; the copy of a *os.File uses sendfile(2).
	http.ServeContent(w, r, "", time.Time{}, f)
}
