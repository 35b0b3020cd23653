//go:build !linux

package runtime

import (
	"context"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Update is Linux only.
func (r *Runtime) Update(context.Context, string, *specs.LinuxResources) error {
	return ErrNotSupported
}
