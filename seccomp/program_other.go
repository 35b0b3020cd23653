//go:build !linux

package seccomp

// Load returns ErrNotSupported outside Linux.
func (p *Program) Load() (int, error) {
	if p == nil {
		return -1, nil
	}
	return -1, ErrNotSupported
}

// SupportedFlags returns nil outside Linux.
func SupportedFlags() []string { return nil }
