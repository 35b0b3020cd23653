package vm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/ocikit/ocikit/cgroups"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The operations runc has beyond runtime.md (pause, resume, ps, events,
// update), for a container in a VM: the guest's runtime answers them
// from, or applies them to, the container's cgroup v2 files in the guest,
// through the monitor; pause also stops the VM's vCPUs.

// Pause freezes a running container: the guest's runtime freezes its
// cgroup, then qemu stops the VM (QMP "stop"), so a paused container
// costs no host CPU. Its status is "paused" until Resume, as runc's.
func (r *Runtime) Pause(ctx context.Context, id string) error {
	l, rec, err := r.lockState(ctx, id)
	if err != nil {
		return err
	}
	defer l.Close()
	if rec.State.Status != specs.StateRunning {
		return wrongState("container %q is %s, not running: cannot pause it", id, rec.State.Status)
	}
	if _, err := r.request(l, ctlRequest{Op: "pause"}); err != nil {
		return err
	}
	rec.State.Status = runtime.StatePaused
	return writeState(r.dir(id), rec)
}

// Resume continues a paused container's VM (QMP "cont") and thaws its
// cgroup in the guest.
func (r *Runtime) Resume(ctx context.Context, id string) error {
	l, rec, err := r.lockState(ctx, id)
	if err != nil {
		return err
	}
	defer l.Close()
	if rec.State.Status != runtime.StatePaused {
		return wrongState("container %q is %s, not paused: cannot resume it", id, rec.State.Status)
	}
	if _, err := r.request(l, ctlRequest{Op: "resume"}); err != nil {
		return err
	}
	rec.State.Status = specs.StateRunning
	return writeState(r.dir(id), rec)
}

// Pids returns the pids of the container's processes as the guest sees
// them (its cgroup's, in the guest's pid namespace); none for a stopped
// container.
func (r *Runtime) Pids(ctx context.Context, id string) ([]int, error) {
	p, err := r.ps(ctx, id, queryRequest{Op: "ps"})
	if err != nil {
		return nil, err
	}
	return p.Pids, nil
}

// ProcessTable runs ps(1) in the guest with args (default -ef) and keeps
// its header and the lines of the container's processes, as runc's ps
// does on a host (runtime.Ps); a stopped container's table is empty.
func (r *Runtime) ProcessTable(ctx context.Context, id string, args []string) ([]byte, error) {
	p, err := r.ps(ctx, id, queryRequest{Op: "ps", Table: true, PsArgs: args})
	if err != nil {
		return nil, err
	}
	return p.Table, nil
}

func (r *Runtime) ps(ctx context.Context, id string, q queryRequest) (psResult, error) {
	var p psResult
	data, err := r.query(ctx, id, q)
	if errors.Is(err, errStopped) {
		// The header alone, as the plain runtime's ps of a stopped
		// container.
		p.Pids = []int{}
		if q.Table {
			p.Table, err = runtime.Ps(ctx, nil, q.PsArgs)
			return p, err
		}
		return p, nil
	}
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return p, fmt.Errorf("vm: ps: bad answer: %w", err)
	}
	if p.Pids == nil {
		p.Pids = []int{}
	}
	return p, nil
}

// Stats returns the statistics of the container's cgroup in the guest.
func (r *Runtime) Stats(ctx context.Context, id string) (*cgroups.Stats, error) {
	data, err := r.query(ctx, id, queryRequest{Op: "stats"})
	if errors.Is(err, errStopped) {
		return nil, wrongState("container %q is stopped, not running", id)
	}
	if err != nil {
		return nil, err
	}
	var s cgroups.Stats
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("vm: stats: bad answer: %w", err)
	}
	return &s, nil
}

// Events reports the container's events as the guest's runtime produces
// them from its cgroup (runtime.Runtime.Events: statistics every
// interval, "oom" when the guest's OOM killer acts in it) until the
// container stops or ctx ends. A paused VM sends none until resumed.
func (r *Runtime) Events(ctx context.Context, id string, interval time.Duration, emit func(runtime.Event) error) error {
	if interval <= 0 {
		return fmt.Errorf("events: interval %v is not positive", interval)
	}
	f, rec, err := r.openState(id)
	if err != nil {
		return err
	}
	if rec.State.Status == specs.StateStopped {
		f.Close()
		return wrongState("container %q is stopped, not running", id)
	}
	c, err := dialCtl(f)
	f.Close()
	if err != nil {
		return err
	}
	defer c.Close()
	b, _ := json.Marshal(ctlRequest{Op: "query", Query: &queryRequest{Op: "events", Interval: interval}})
	if _, err := c.Write(b); err != nil {
		return fmt.Errorf("vm: monitor: %w", err)
	}
	// ctx's end unblocks the read; closing the connection cancels the
	// query in the guest.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	for {
		rp, err := readCtl(c)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return nil // the monitor is gone: the container stopped
		}
		if rp.Event == nil {
			if rp.Error != "" {
				return errors.New(rp.Error)
			}
			return nil
		}
		var e runtime.Event
		if err := json.Unmarshal(rp.Event, &e); err != nil {
			return fmt.Errorf("vm: events: bad event: %w", err)
		}
		if err := emit(e); err != nil {
			return err
		}
	}
}

// Update merges res into the container's resources in the guest, as
// runtime.Runtime.Update does on a host. The VM's own size is fixed at
// create: a change the VM cannot honour (more memory, CPUs or memory
// nodes than it has) fails before anything changes (checkUpdate).
func (r *Runtime) Update(ctx context.Context, id string, res *specs.LinuxResources) error {
	l, rec, err := r.lockState(ctx, id)
	if err != nil {
		return err
	}
	defer l.Close()
	switch rec.State.Status {
	case specs.StateCreated, specs.StateRunning, runtime.StatePaused:
	default:
		return wrongState("container %q is %s: cannot update it", id, rec.State.Status)
	}
	if rec.VM != nil {
		if err := checkUpdate(res, rec.VM.CPUs, rec.VM.MemoryMiB); err != nil {
			return errdefs.New(errdefs.ErrUnsupported, "vm: "+err.Error())
		}
	}
	if _, err := r.request(l, ctlRequest{Op: "query", Query: &queryRequest{Op: "update", Resources: res}}); err != nil {
		return err
	}
	// The CPU limits hold the VM on the host too (hostResources).
	if rec.Cgroup != nil && res != nil && res.CPU != nil {
		cpu := *res.CPU
		cpu.RealtimeRuntime, cpu.RealtimePeriod = nil, nil
		m, err := cgroups.Load(*rec.Cgroup)
		if err == nil {
			err = m.Update(&specs.LinuxResources{CPU: &cpu})
		}
		if err != nil {
			return fmt.Errorf("vm: host cgroup: %w", err)
		}
		st := m.State()
		rec.Cgroup = &st
		return writeState(r.dir(id), rec)
	}
	return nil
}

// errStopped is a query of a stopped container: its VM is gone.
var errStopped = errors.New("vm: container stopped")

// openState opens the container's state directory without locking it
// (as runtime.Runtime's State and Pids, queries do not wait for a
// lifecycle operation) and reads its state.
func (r *Runtime) openState(id string) (*os.File, *record, error) {
	if err := runtime.CheckID(id); err != nil {
		return nil, nil, err
	}
	f, err := os.Open(r.dir(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("%w: container %q does not exist", runtime.ErrNotFound, id)
	}
	if err != nil {
		return nil, nil, err
	}
	rec, err := readState(r.dir(id), id)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, rec, nil
}

// query asks the guest about the container; errStopped when it is
// stopped.
func (r *Runtime) query(ctx context.Context, id string, q queryRequest) (json.RawMessage, error) {
	f, rec, err := r.openState(id)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if rec.State.Status == specs.StateStopped {
		return nil, errStopped
	}
	return r.request(f, ctlRequest{Op: "query", Query: &q})
}

// request sends req to the monitor of the state directory dir and waits
// for its answer.
func (r *Runtime) request(dir *os.File, req ctlRequest) (json.RawMessage, error) {
	c, err := dialCtl(dir)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write(b); err != nil {
		return nil, fmt.Errorf("vm: monitor: %w", err)
	}
	rp, err := readCtl(c)
	if err != nil {
		return nil, err
	}
	if rp.Error != "" {
		return nil, errors.New(rp.Error)
	}
	return rp.Data, nil
}

// wrongState is an error of kind runtime.ErrWrongState with its message
// alone.
func wrongState(format string, args ...any) error {
	return errdefs.New(runtime.ErrWrongState, fmt.Sprintf(format, args...))
}
