//go:build !linux

package rootfs

import (
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Prepare is only supported on Linux.
func Prepare(spec *specs.Spec, bundle string, opts Options) error { return ErrNotSupported }

// Finish is only supported on Linux.
func Finish(spec *specs.Spec, opts Options) error { return ErrNotSupported }

// MountOptions returns nil: no mount options outside Linux.
func MountOptions() []string { return nil }

// OpenMountSource is only supported on Linux.
func OpenMountSource(spec *specs.Spec, bundle string, i int, mntns *os.File) (*os.File, error) {
	return nil, ErrNotSupported
}

// ProcessCgroups is only supported on Linux.
func ProcessCgroups(pid int) (map[string]string, error) { return nil, ErrNotSupported }

// MountsUnder is only supported on Linux.
func MountsUnder(dir string) ([]int, error) { return nil, ErrNotSupported }

// UnmountUnder is only supported on Linux.
func UnmountUnder(dir string, keep []int) error { return ErrNotSupported }
