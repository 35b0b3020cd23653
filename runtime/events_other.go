//go:build !linux

package runtime

import (
	"context"
	"time"

	"github.com/ocikit/ocikit/cgroups"
)

// Stats is Linux only.
func (r *Runtime) Stats(context.Context, string) (*cgroups.Stats, error) {
	return nil, ErrNotSupported
}

// Events is Linux only.
func (r *Runtime) Events(context.Context, string, time.Duration, func(Event) error) error {
	return ErrNotSupported
}
