//go:build !linux

package seccomp

import specs "github.com/opencontainers/runtime-spec/specs-go"

// SendNotifyFd returns ErrNotSupported outside Linux.
func SendNotifyFd(string, specs.ContainerProcessState, int) error { return ErrNotSupported }
