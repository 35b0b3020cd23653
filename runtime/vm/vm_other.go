//go:build !linux

package vm

import (
	"context"
	"log/slog"
	"syscall"

	"github.com/ocikit/ocikit/runtime"
)

// Runtime is Linux only.
type Runtime struct{}

// Option configures a Runtime.
type Option func(*Runtime)

// WithLogger is Linux only.
func WithLogger(*slog.Logger) Option { return func(*Runtime) {} }

// WithCacheDir is Linux only.
func WithCacheDir(string) Option { return func(*Runtime) {} }

// New returns a Runtime whose every operation fails: VMs are Linux only.
func New(string, ...Option) *Runtime { return &Runtime{} }

// Agent is Linux only.
func Agent() {}

// ExecWait is Linux only.
func ExecWait() {}

// Monitor is Linux only.
func Monitor(string) {}

func (r *Runtime) Create(context.Context, string, string, runtime.CreateOptions) (*runtime.Container, error) {
	return nil, runtime.ErrNotSupported
}
func (r *Runtime) Start(context.Context, string) error { return runtime.ErrNotSupported }
func (r *Runtime) State(context.Context, string) (*runtime.State, error) {
	return nil, runtime.ErrNotSupported
}
func (r *Runtime) List(context.Context) ([]runtime.State, error) { return nil, runtime.ErrNotSupported }
func (r *Runtime) Kill(context.Context, string, syscall.Signal, bool) error {
	return runtime.ErrNotSupported
}
func (r *Runtime) Delete(context.Context, string, bool) error { return runtime.ErrNotSupported }
func (r *Runtime) Run(context.Context, string, string, runtime.CreateOptions) (int, error) {
	return -1, runtime.ErrNotSupported
}
func (r *Runtime) RunDetached(context.Context, string, string, runtime.CreateOptions) error {
	return runtime.ErrNotSupported
}
func (r *Runtime) Exec(context.Context, string, runtime.ExecOptions) (int, error) {
	return -1, runtime.ErrNotSupported
}
