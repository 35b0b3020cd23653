package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/ocikit/ocikit/internal/fsutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Update merges the set fields of res into a container's resources and
// writes them to its cgroup, as `runc update` does (runtime.md has no
// update operation). The merged resources are saved with the container's
// state, the base of the next update, and in its copy of the
// configuration (linux.resources). Only a created, running or paused
// container can be updated.
func (r *Runtime) Update(ctx context.Context, id string, res *specs.LinuxResources) error {
	l, rec, err := r.lockState(id)
	if err != nil {
		return err
	}
	defer l.unlock()
	switch rec.State.Status {
	case specs.StateCreated, specs.StateRunning, StatePaused:
	default:
		return errorf(ErrWrongState, "container %q is %s: cannot update it", id, rec.State.Status)
	}
	m, err := containerCgroup(rec)
	if err != nil {
		return err
	}
	m.SetLogger(r.log)
	if err := m.Update(res); err != nil {
		return err
	}
	st := m.State()
	rec.Cgroup = &st
	if err := writeState(l.path, rec); err != nil {
		return err
	}
	spec, err := rec.loadSpec(l.path)
	if err != nil {
		return err
	}
	if spec.Linux == nil {
		spec.Linux = &specs.Linux{}
	}
	spec.Linux.Resources = st.Resources
	data, err := json.Marshal(spec)
	if err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	return fsutil.WriteFile(filepath.Join(l.path, configFile), data, 0o600, fsutil.NoSync())
}
