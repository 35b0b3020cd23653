package main

import (
	"context"
	"errors"
	"syscall"
	"time"

	"github.com/ocikit/ocikit/cgroups"
	"github.com/ocikit/ocikit/runtime"
	"github.com/ocikit/ocikit/runtime/vm"
	specs "github.com/opencontainers/runtime-spec/specs-go"
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
	Pause(ctx context.Context, id string) error
	Resume(ctx context.Context, id string) error
	Pids(ctx context.Context, id string) ([]int, error)
	ProcessTable(ctx context.Context, id string, psArgs []string) ([]byte, error)
	Stats(ctx context.Context, id string) (*cgroups.Stats, error)
	Events(ctx context.Context, id string, interval time.Duration, emit func(runtime.Event) error) error
	Update(ctx context.Context, id string, res *specs.LinuxResources) error
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
