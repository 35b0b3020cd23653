//go:build !linux

package runtime

import "context"

// Pids is Linux only.
func (r *Runtime) Pids(context.Context, string) ([]int, error) { return nil, ErrNotSupported }
