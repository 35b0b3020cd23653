//go:build !unix

package fsutil

import (
	"context"
	"os"

	"github.com/ocikit/ocikit/errdefs"
)

var errNoLock = errdefs.New(errdefs.ErrUnsupported, "fsutil: file locks are not supported on this platform")

// Lock is not supported on this platform.
func Lock(ctx context.Context, f *os.File, exclusive bool) error { return errNoLock }

// TryLock is not supported on this platform.
func TryLock(f *os.File) (bool, error) { return false, errNoLock }
