package registry

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/ocikit/ocikit/errdefs"
	dspec "github.com/opencontainers/distribution-spec/specs-go/v1"
)

// maxErrorBody bounds the error body read from a registry.
const maxErrorBody = 64 << 10

// Error is a registry's answer other than success: the HTTP status, the
// first error code and message of its body (spec.md#error-codes), and the
// errdefs kind they map to. Its message is one line: the registry's
// message, else its code, else the HTTP status text.
type Error struct {
	Status  int
	Code    string
	Message string
	kind    error
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the errdefs kind, if any.
func (e *Error) Unwrap() error { return e.kind }

// codeKinds maps distribution-spec error codes to errdefs kinds.
var codeKinds = map[string]error{
	"BLOB_UNKNOWN":          errdefs.ErrNotFound,
	"BLOB_UPLOAD_UNKNOWN":   errdefs.ErrNotFound,
	"MANIFEST_UNKNOWN":      errdefs.ErrNotFound,
	"MANIFEST_BLOB_UNKNOWN": errdefs.ErrNotFound,
	"NAME_UNKNOWN":          errdefs.ErrNotFound,
	"DIGEST_INVALID":        errdefs.ErrDigestMismatch,
	"SIZE_INVALID":          errdefs.ErrDigestMismatch,
	"BLOB_UPLOAD_INVALID":   errdefs.ErrInvalid,
	"MANIFEST_INVALID":      errdefs.ErrInvalid,
	"NAME_INVALID":          errdefs.ErrInvalid,
	"TAG_INVALID":           errdefs.ErrInvalid,
	"UNAUTHORIZED":          errdefs.ErrUnauthorized,
	"DENIED":                errdefs.ErrUnauthorized,
	"UNSUPPORTED":           errdefs.ErrUnsupported,
}

// statusKinds maps HTTP statuses to errdefs kinds where the body names no
// known code.
var statusKinds = map[int]error{
	http.StatusNotFound:         errdefs.ErrNotFound,
	http.StatusUnauthorized:     errdefs.ErrUnauthorized,
	http.StatusForbidden:        errdefs.ErrUnauthorized,
	http.StatusBadRequest:       errdefs.ErrInvalid,
	http.StatusMethodNotAllowed: errdefs.ErrUnsupported,
	http.StatusNotImplemented:   errdefs.ErrUnsupported,
}

// responseError reads (a bounded part of) resp's body, closes it, and
// returns the Error it says. what names the object for a body-less answer
// (a HEAD's 404: "blob unknown").
func responseError(resp *http.Response, what string) error {
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &Error{Status: resp.StatusCode}
	var body dspec.ErrorResponse
	if json.Unmarshal(data, &body) == nil && len(body.Errors) > 0 {
		info := body.Errors[0]
		e.Code = strings.ToUpper(strings.TrimSpace(info.Code))
		e.Message = strings.TrimSpace(info.Message)
		if e.Message == "" {
			e.Message = strings.ReplaceAll(strings.ToLower(e.Code), "_", " ")
		}
	}
	if e.Message == "" {
		switch {
		case resp.StatusCode == http.StatusNotFound && what != "":
			e.Message = what + " unknown"
		default:
			e.Message = strings.ToLower(http.StatusText(resp.StatusCode))
			if e.Message == "" {
				e.Message = "status"
			}
		}
	}
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		e.Message = fmt.Sprintf("registry answered %d: %s", resp.StatusCode, e.Message)
	}
	e.Message = clip(e.Message)
	e.kind = codeKinds[e.Code]
	if e.kind == nil {
		e.kind = statusKinds[resp.StatusCode]
	}
	return e
}
