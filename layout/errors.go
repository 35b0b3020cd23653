package layout

import (
	"errors"

	"github.com/ocikit/ocikit/errdefs"
)

// Sentinel errors. Every error returned by this package that concerns one of
// these conditions wraps the matching sentinel, so callers test with
// errors.Is; the message around it names the file or object concerned.
var (
	// ErrNotFound: a blob, tag or index entry does not exist.
	ErrNotFound = errdefs.New(errdefs.ErrNotFound, "layout: not found")
	// ErrDigestMismatch: content does not hash to the digest naming it.
	ErrDigestMismatch = errdefs.New(errdefs.ErrDigestMismatch, "layout: digest mismatch")
	// ErrSizeMismatch: content length differs from the descriptor's size.
	ErrSizeMismatch = errdefs.New(errdefs.ErrDigestMismatch, "layout: size mismatch")
	// ErrInvalidLayout: the directory is not a well-formed OCI image layout
	// (missing or malformed oci-layout, index.json or blobs/).
	ErrInvalidLayout = errdefs.New(errdefs.ErrInvalid, "layout: invalid image layout")
	// ErrUnsupportedVersion: oci-layout names an imageLayoutVersion this
	// package does not implement.
	ErrUnsupportedVersion = errdefs.New(errdefs.ErrUnsupported, "layout: unsupported image layout version")
	// ErrUnsupportedDigest: a digest uses an algorithm other than sha256 or
	// sha512 (the algorithms registered by descriptor.md).
	ErrUnsupportedDigest = errdefs.New(errdefs.ErrUnsupported, "layout: unsupported digest algorithm")
	// ErrInvalidDigest: a digest string does not match the digest grammar.
	ErrInvalidDigest = errdefs.New(errdefs.ErrInvalid, "layout: invalid digest")
	// ErrInvalidReference: a tag name or "DIR:TAG" reference is malformed.
	ErrInvalidReference = errdefs.New(errdefs.ErrInvalid, "layout: invalid reference")
	// ErrInvalidDocument: a manifest, index or config blob is malformed.
	ErrInvalidDocument = errdefs.New(errdefs.ErrInvalid, "layout: invalid document")
	// ErrAmbiguous: a name or platform matches more than one candidate.
	ErrAmbiguous = errdefs.New(errdefs.ErrInvalid, "layout: ambiguous reference")
	// ErrTooLarge: a blob read whole (ReadBlob) exceeds MaxJSONSize.
	ErrTooLarge = errdefs.New(errdefs.ErrInvalid, "layout: blob too large")
	// ErrNotSupported: the operation is not available on this OS.
	ErrNotSupported = errdefs.New(errdefs.ErrUnsupported, "layout: not supported on this platform")
)

// kindError adds a sentinel to an error's chain without changing its
// message, for errors that already say what is wrong in their own words.
type kindError struct {
	err  error
	kind error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.err, e.kind} }

func withKind(err, kind error) error {
	if errors.Is(err, kind) {
		return err
	}
	return &kindError{err: err, kind: kind}
}
