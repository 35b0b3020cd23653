//go:build !linux

package runtime

import "context"

// Exec is Linux only.
func (r *Runtime) Exec(context.Context, string, ExecOptions) (int, error) { return -1, ErrNotSupported }
