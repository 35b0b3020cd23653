//go:build !linux || !cgo

package seccomp

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// Validate returns ErrNotSupported for a non-nil configuration.
func Validate(cfg *specs.LinuxSeccomp) error {
	if cfg == nil {
		return nil
	}
	return ErrNotSupported
}

// Load returns ErrNotSupported for a non-nil configuration.
func Load(cfg *specs.LinuxSeccomp, _ ...Option) (int, error) {
	if cfg == nil {
		return -1, nil
	}
	return -1, ErrNotSupported
}

// Compile returns ErrNotSupported for a non-nil configuration.
func Compile(cfg *specs.LinuxSeccomp, _ ...Option) (*Program, error) {
	if cfg == nil {
		return nil, nil
	}
	return nil, ErrNotSupported
}

// Features reports seccomp as not supported by this build.
func Features() *features.Seccomp {
	enabled := false
	return &features.Seccomp{Enabled: &enabled}
}

// LibraryVersion returns "" in builds without libseccomp.
func LibraryVersion() string { return "" }

// CEntry is Linux and cgo only: no entry.
func CEntry(*specs.LinuxSeccomp) (string, []byte) { return "", nil }
