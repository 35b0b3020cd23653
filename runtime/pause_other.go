//go:build !linux

package runtime

import "context"

// Pause is Linux only.
func (r *Runtime) Pause(context.Context, string) error { return ErrNotSupported }

// Resume is Linux only.
func (r *Runtime) Resume(context.Context, string) error { return ErrNotSupported }
