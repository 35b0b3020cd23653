package main

import (
	"context"
	"errors"
	"syscall"

	"github.com/ocikit/ocikit/runtime"
	"github.com/ocikit/ocikit/runtime/vm"
)

// containers is the lifecycle both runtimes offer: the plain one and the
// VM one (--vm).
type containers interface {
	Create(ctx context.Context, id, bundle string, o runtime.CreateOptions) (*runtime.Container, error)
	Start(ctx context.Context, id string) error
	State(ctx context.Context, id string) (*runtime.State, error)
	List(ctx context.Context) ([]runtime.State, error)
	Kill(ctx context.Context, id string, sig syscall.Signal, all bool) error
	Delete(ctx context.Context, id string, force bool) error
	Run(ctx context.Context, id, bundle string, o runtime.CreateOptions) (int, error)
	RunDetached(ctx context.Context, id, bundle string, o runtime.CreateOptions) error
	Exec(ctx context.Context, id string, o runtime.ExecOptions) (int, error)
}

// vmName is the binary's name that means --vm (a symbolic link to ocikit,
// for callers that take a runtime path but no flags).
const vmName = "ocikit-vm"

// errNoVM is a command --vm does not have yet.
var errNoVM = errors.New("not supported with --vm yet")

// containers returns the runtime the global flags choose.
func (g *globals) containers() (containers, error) {
	if g.vm {
		return vm.New(g.root, vm.WithLogger(g.log())), nil
	}
	return g.runtime()
}
