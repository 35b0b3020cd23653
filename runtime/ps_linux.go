package runtime

import (
	"context"
	"errors"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Pids returns the host pids of the processes in a container's cgroup
// (none for a stopped container; the init alone for a rootless container
// without a cgroup of its own). It takes no lock, as State.
func (r *Runtime) Pids(ctx context.Context, id string) ([]int, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	rec, err := readState(r.dir(id), id)
	if err != nil {
		return nil, err
	}
	rec.refresh()
	if rec.State.Status == specs.StateStopped || rec.State.Pid <= 0 {
		return []int{}, nil
	}
	m, err := containerCgroup(rec)
	if errors.Is(err, ErrWrongState) {
		return []int{rec.State.Pid}, nil
	}
	if err != nil {
		return nil, err
	}
	pids, err := m.Pids()
	if err != nil {
		return nil, err
	}
	if pids == nil {
		pids = []int{}
	}
	return pids, nil
}
