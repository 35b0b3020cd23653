// Package errdefs is the one small set of error kinds every ocikit package
// shares, as containerd's errdefs: a caller asks errors.Is(err,
// errdefs.ErrNotFound) whatever package the error came from, while each
// package keeps its own sentinels with their own messages (made with New,
// so they match their kind too).
package errdefs

import "errors"

// The kinds.
var (
	// ErrNotFound: the named object (container, blob, tag, user...) does
	// not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: the object to create exists already.
	ErrAlreadyExists = errors.New("already exists")
	// ErrInvalid: the input (a configuration, a document, a reference, an
	// argument) is malformed or breaks a rule of the specifications.
	ErrInvalid = errors.New("invalid argument")
	// ErrDigestMismatch: content does not match its digest or size.
	ErrDigestMismatch = errors.New("digest mismatch")
	// ErrUnauthorized: the caller lacks the credentials or permission.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrUnsupported: valid, but not supported by this build, host or
	// version.
	ErrUnsupported = errors.New("not supported")
	// ErrFailedPrecondition: the object is not in a state that allows the
	// operation (a running container to delete, a non-empty target).
	ErrFailedPrecondition = errors.New("failed precondition")
)

// New returns a sentinel error with its own message that is also of kind:
// errors.Is(New(ErrNotFound, "layout: not found"), ErrNotFound) is true.
func New(kind error, msg string) error {
	return &kindError{kind: kind, msg: msg}
}

type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// IsNotFound reports whether err is of kind ErrNotFound.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsInvalid reports whether err is of kind ErrInvalid.
func IsInvalid(err error) bool { return errors.Is(err, ErrInvalid) }

// IsUnsupported reports whether err is of kind ErrUnsupported.
func IsUnsupported(err error) bool { return errors.Is(err, ErrUnsupported) }
