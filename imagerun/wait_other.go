//go:build !linux

package imagerun

import (
	"context"

	"github.com/ocikit/ocikit/runtime"
)

// WaitAndDelete is Linux's.
func WaitAndDelete(ctx context.Context, rt StateDeleter, id string) error {
	return runtime.ErrNotSupported
}
