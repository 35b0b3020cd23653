//go:build !linux

package runtime

import (
	"context"
	"os"
	"syscall"
)

const maxSignal = 64

func signalByName(string) (syscall.Signal, bool) { return 0, false }

// Container is a container this process has just created.
type Container struct {
	ID  string
	Pid int
}

// Init is the container init; Linux only.
func Init() error { return ErrNotSupported }

// Create is Linux only.
func (r *Runtime) Create(context.Context, string, string, CreateOptions) (*Container, error) {
	return nil, ErrNotSupported
}

// Run is Linux only.
func (r *Runtime) Run(context.Context, string, string, CreateOptions) (int, error) {
	return -1, ErrNotSupported
}

// Start is Linux only.
func (r *Runtime) Start(context.Context, string) error { return ErrNotSupported }

// State is Linux only.
func (r *Runtime) State(context.Context, string) (*State, error) { return nil, ErrNotSupported }

// List is Linux only.
func (r *Runtime) List(context.Context) ([]State, error) { return nil, ErrNotSupported }

// Kill is Linux only.
func (r *Runtime) Kill(context.Context, string, syscall.Signal, bool) error { return ErrNotSupported }

// Delete is Linux only.
func (r *Runtime) Delete(context.Context, string, bool) error { return ErrNotSupported }

func readFile(name string) ([]byte, error) { return os.ReadFile(name) }
