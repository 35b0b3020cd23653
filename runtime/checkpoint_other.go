//go:build !linux

package runtime

import "context"

// Checkpoint is Linux-only (CRIU).
func (r *Runtime) Checkpoint(context.Context, string, CheckpointOptions) error {
	return ErrNotSupported
}

// Restore is Linux-only (CRIU).
func (r *Runtime) Restore(context.Context, string, string, CreateOptions, RestoreOptions) (int, error) {
	return -1, ErrNotSupported
}
