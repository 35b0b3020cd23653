//go:build !linux

package userns

import (
	"errors"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// New is only implemented on Linux.
func New(uids, gids []specs.LinuxIDMapping) (*os.File, error) {
	return nil, errors.New("userns: user namespaces are Linux only")
}
