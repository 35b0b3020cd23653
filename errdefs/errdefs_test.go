package errdefs_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ocikit/ocikit/bundle"
	"github.com/ocikit/ocikit/cgroups"
	"github.com/ocikit/ocikit/convert"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/layer"
	"github.com/ocikit/ocikit/layout"
	"github.com/ocikit/ocikit/runtime"
	"github.com/ocikit/ocikit/seccomp"
)

func TestKinds(t *testing.T) {
	for _, tc := range []struct {
		err  error
		kind error
	}{
		{runtime.ErrNotFound, errdefs.ErrNotFound},
		{runtime.ErrExist, errdefs.ErrAlreadyExists},
		{runtime.ErrWrongState, errdefs.ErrFailedPrecondition},
		{runtime.ErrInvalidSpec, errdefs.ErrInvalid},
		{layout.ErrNotFound, errdefs.ErrNotFound},
		{layout.ErrDigestMismatch, errdefs.ErrDigestMismatch},
		{layout.ErrInvalidReference, errdefs.ErrInvalid},
		{layer.ErrDiffIDMismatch, errdefs.ErrDigestMismatch},
		{layer.ErrUnsafePath, errdefs.ErrInvalid},
		{convert.ErrUnknownUser, errdefs.ErrNotFound},
		{cgroups.ErrInvalidResources, errdefs.ErrInvalid},
		{seccomp.ErrNotSupported, errdefs.ErrUnsupported},
		{bundle.ErrNotEmpty, errdefs.ErrFailedPrecondition},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			wrapped := fmt.Errorf("context: %w", tc.err)
			if !errors.Is(wrapped, tc.kind) || !errors.Is(wrapped, tc.err) {
				t.Errorf("%v: not of kind %v", tc.err, tc.kind)
			}
			if wrapped.Error() != "context: "+tc.err.Error() {
				t.Errorf("message changed: %q", wrapped.Error())
			}
		})
	}
	if errors.Is(layout.ErrNotFound, errdefs.ErrInvalid) {
		t.Error("a not-found error is of kind invalid")
	}
}
