//go:build !linux

package vm

import (
	"context"
	"log/slog"
	"syscall"
	"time"

	"github.com/ocikit/ocikit/cgroups"
	"github.com/ocikit/ocikit/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
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

// JailProc is Linux only.
func JailProc(string) {}

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
func (r *Runtime) Pause(context.Context, string) error  { return runtime.ErrNotSupported }
func (r *Runtime) Resume(context.Context, string) error { return runtime.ErrNotSupported }
func (r *Runtime) Pids(context.Context, string) ([]int, error) {
	return nil, runtime.ErrNotSupported
}
func (r *Runtime) ProcessTable(context.Context, string, []string) ([]byte, error) {
	return nil, runtime.ErrNotSupported
}
func (r *Runtime) Stats(context.Context, string) (*cgroups.Stats, error) {
	return nil, runtime.ErrNotSupported
}
func (r *Runtime) Events(context.Context, string, time.Duration, func(runtime.Event) error) error {
	return runtime.ErrNotSupported
}
func (r *Runtime) Update(context.Context, string, *specs.LinuxResources) error {
	return runtime.ErrNotSupported
}
