package runtime

import (
	"context"
	"fmt"

	"github.com/ocikit/ocikit/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Pause freezes every process of a running container through its cgroup
// freezer (cgroup v1 freezer.state, v2 cgroup.freeze), as runc's pause:
// runtime.md has no pause. The container's status is then "paused" until
// Resume.
func (r *Runtime) Pause(ctx context.Context, id string) error {
	l, rec, err := r.lockState(id)
	if err != nil {
		return err
	}
	defer l.unlock()
	if rec.State.Status != specs.StateRunning {
		return errorf(ErrWrongState, "container %q is %s, not running: cannot pause it", id, rec.State.Status)
	}
	m, err := containerCgroup(rec)
	if err != nil {
		return err
	}
	if err := m.Freeze(); err != nil {
		// A freeze that failed halfway leaves nothing frozen behind.
		m.Thaw()
		return err
	}
	rec.State.Status = StatePaused
	if err := writeState(l.path, rec); err != nil {
		m.Thaw()
		return err
	}
	return nil
}

// Resume thaws a container Pause froze.
func (r *Runtime) Resume(ctx context.Context, id string) error {
	l, rec, err := r.lockState(id)
	if err != nil {
		return err
	}
	defer l.unlock()
	if rec.State.Status != StatePaused {
		return errorf(ErrWrongState, "container %q is %s, not paused: cannot resume it", id, rec.State.Status)
	}
	m, err := containerCgroup(rec)
	if err != nil {
		return err
	}
	if err := m.Thaw(); err != nil {
		return err
	}
	rec.State.Status = specs.StateRunning
	return writeState(l.path, rec)
}

// containerCgroup loads the cgroup manager of a container that has a
// cgroup of its own (not a rootless container left in the caller's).
func containerCgroup(rec *record) (*cgroups.Manager, error) {
	if rec.Cgroup == nil {
		return nil, errorf(ErrWrongState, "container %q has no cgroup", rec.State.ID)
	}
	m, err := cgroups.Load(*rec.Cgroup)
	if err != nil {
		return nil, fmt.Errorf("container %q: %w", rec.State.ID, err)
	}
	if rec.Cgroup.Rootless && !m.Exists() {
		return nil, errorf(ErrWrongState, "container %q has no cgroup (rootless without delegated cgroups)", rec.State.ID)
	}
	return m, nil
}

// thawKilled thaws a paused container after SIGKILL was sent to it, as
// runc does: on cgroup v1 a frozen process does not die before it is
// thawed (on v2 the kernel lets SIGKILL through, and thawing changes
// nothing). Other signals stay pending until resume.
func thawKilled(rec *record, sig unix.Signal) {
	if rec.State.Status != StatePaused || sig != unix.SIGKILL || rec.Cgroup == nil {
		return
	}
	if m, err := cgroups.Load(*rec.Cgroup); err == nil {
		m.Thaw()
	}
}
