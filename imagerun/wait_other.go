//go:build !linux

package imagerun

import (
	"context"
	"os"

	"github.com/ocikit/ocikit/runtime"
)

// WaitAndDelete is Linux's.
func WaitAndDelete(ctx context.Context, rt StateDeleter, id string) error {
	return runtime.ErrNotSupported
}

// KeepConsole is Linux's.
func KeepConsole(context.Context, StateDeleter, string, *os.File, string, bool) error {
	return runtime.ErrNotSupported
}

type consoleSocket struct{ path string }

func newConsoleSocket() (*consoleSocket, error)     { return nil, runtime.ErrNotSupported }
func (cs *consoleSocket) master() (*os.File, error) { return nil, runtime.ErrNotSupported }
func (cs *consoleSocket) Close()                    {}

// InheritedConsole is Linux's.
func InheritedConsole(fd int) (*os.File, error) { return nil, runtime.ErrNotSupported }
