//go:build !linux

package cgroups

import (
	"log/slog"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Manager manages the cgroups of one container (Linux only).
type Manager struct{}

// HostMode reports the host's cgroup layout ("" where there are no cgroups).
func HostMode() Mode { return "" }

// SystemdAvailable reports false outside Linux.
func SystemdAvailable() bool { return false }

// SystemdUserAvailable reports false outside Linux.
func SystemdUserAvailable() bool { return false }

// New returns ErrNotSupported outside Linux.
func New(string, *specs.Spec, ...Option) (*Manager, error) { return nil, ErrNotSupported }

// Load returns ErrNotSupported outside Linux.
func Load(State) (*Manager, error) { return nil, ErrNotSupported }

func (*Manager) Apply(int) error                    { return ErrNotSupported }
func (*Manager) Enter(int) error                    { return ErrNotSupported }
func (*Manager) Set(*specs.LinuxResources) error    { return ErrNotSupported }
func (*Manager) Update(*specs.LinuxResources) error { return ErrNotSupported }
func (*Manager) State() State                       { return State{} }
func (*Manager) Paths() map[string]string           { return nil }
func (*Manager) Path(string) string                 { return "" }
func (*Manager) Exists() bool                       { return false }
func (*Manager) Destroy() error                     { return ErrNotSupported }
func (*Manager) Pids() ([]int, error)               { return nil, ErrNotSupported }
func (*Manager) Freeze() error                      { return ErrNotSupported }
func (*Manager) Thaw() error                        { return ErrNotSupported }
func (*Manager) Frozen() (bool, error)              { return false, ErrNotSupported }
func (*Manager) OOMKillCount() (uint64, error)      { return 0, ErrNotSupported }
func (*Manager) Stats() (*Stats, error)             { return nil, ErrNotSupported }

// SetLogger does nothing outside Linux.
func (*Manager) SetLogger(*slog.Logger) {}
