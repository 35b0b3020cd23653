//go:build !linux

package runtime

import (
	"context"

	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// Features is Linux only.
func Features() (*features.Features, error) { return nil, ErrNotSupported }

// RunDetached is Linux only.
func (r *Runtime) RunDetached(context.Context, string, string, CreateOptions) error {
	return ErrNotSupported
}
