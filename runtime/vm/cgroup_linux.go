package vm

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/ocikit/ocikit/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hostResources are the limits of the container's cgroup on the host,
// which holds the monitor and qemu: a memory limit of the guest's memory
// plus HostMemoryOverhead when the configuration limits memory, and the
// configured CPU share, quota and cpuset (without the realtime settings,
// which a host cgroup rarely has room for). Devices are not limited: the
// container's device list is applied in the guest, and qemu opens only
// what its jail holds (/dev/kvm among them). Pids are not limited either:
// qemu's threads are not the container's processes.
func hostResources(spec *specs.Spec, s settings) *specs.LinuxResources {
	res := &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}}
	if s.hostMemory > 0 {
		l := s.hostMemory
		res.Memory = &specs.LinuxMemory{Limit: &l}
	}
	if spec.Linux != nil && spec.Linux.Resources != nil && spec.Linux.Resources.CPU != nil {
		cpu := *spec.Linux.Resources.CPU
		cpu.RealtimeRuntime, cpu.RealtimePeriod = nil, nil
		res.CPU = &cpu
	}
	return res
}

// newHostCgroup creates, with ocikit's cgroups package as the plain
// runtime does (config-linux.md "Cgroups path": a relative cgroupsPath
// below ocikit's own cgroup, an absolute one below the mount point; none:
// /ocikit/ID), the container's cgroup on the host with res applied,
// empty: the monitor enters it before it starts qemu (joinHostCgroup).
// Not as root, a cgroup that cannot be created is tolerated, as runc
// does rootless.
func newHostCgroup(id, cgroupsPath string, res *specs.LinuxResources, log *slog.Logger) (*cgroups.Manager, error) {
	spec := &specs.Spec{Linux: &specs.Linux{CgroupsPath: cgroupsPath, Resources: res}}
	m, err := cgroups.New(id, spec, cgroups.WithRootless(os.Geteuid() != 0), cgroups.WithLogger(log))
	if err != nil {
		return nil, fmt.Errorf("vm: host cgroup: %w", err)
	}
	if err := m.Apply(-1); err != nil {
		return nil, fmt.Errorf("vm: host cgroup: %w", err)
	}
	if err := m.Set(res); err != nil {
		m.Destroy()
		return nil, fmt.Errorf("vm: host cgroup: %w", err)
	}
	return m, nil
}

// joinHostCgroup moves the calling process (the monitor, before it
// starts qemu, which inherits it) into the container's host cgroup.
func joinHostCgroup(st cgroups.State) error {
	m, err := cgroups.Load(st)
	if err != nil {
		return err
	}
	return m.Enter(os.Getpid())
}

// removeHostCgroup removes the container's host cgroup once the monitor
// and qemu are gone; one already gone is no error. virtiofsd's sandboxed
// process leaves on its own when its parent dies, a moment later: it is
// waited for. Processes still there after that belong to another
// container given the same cgroupsPath (config-linux.md "Cgroups path"):
// the cgroup is left to the last one out, as the plain runtime does.
func removeHostCgroup(st cgroups.State, log *slog.Logger) error {
	m, err := cgroups.Load(st)
	if err != nil {
		return err
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		pids, err := m.Pids()
		if err != nil || len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			log.Debug("vm: host cgroup shared with other processes: left in place", "cgroup", st.CgroupsPath, "pids", pids)
			return nil
		}
	}
	return m.Destroy()
}
