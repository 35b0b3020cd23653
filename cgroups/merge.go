package cgroups

import specs "github.com/opencontainers/runtime-spec/specs-go"

// merge returns base updated with every field set in upd, as `runc update`
// merges a partial update into the container's current limits. Lists
// (devices, throttles, hugepage limits, priorities) replace the old list
// when given; maps (rdma, unified) are merged key by key.
func merge(base, upd *specs.LinuxResources) *specs.LinuxResources {
	out := &specs.LinuxResources{}
	if base != nil {
		c := *base
		out = &c
	}
	if upd == nil {
		return out
	}
	if upd.Devices != nil {
		out.Devices = upd.Devices
	}
	if u := upd.Memory; u != nil {
		m := specs.LinuxMemory{}
		if out.Memory != nil {
			m = *out.Memory
		}
		set(&m.Limit, u.Limit)
		set(&m.Reservation, u.Reservation)
		set(&m.Swap, u.Swap)
		set(&m.Kernel, u.Kernel)
		set(&m.KernelTCP, u.KernelTCP)
		set(&m.Swappiness, u.Swappiness)
		set(&m.DisableOOMKiller, u.DisableOOMKiller)
		set(&m.UseHierarchy, u.UseHierarchy)
		set(&m.CheckBeforeUpdate, u.CheckBeforeUpdate)
		out.Memory = &m
	}
	if u := upd.CPU; u != nil {
		c := specs.LinuxCPU{}
		if out.CPU != nil {
			c = *out.CPU
		}
		set(&c.Shares, u.Shares)
		set(&c.Quota, u.Quota)
		set(&c.Burst, u.Burst)
		set(&c.Period, u.Period)
		set(&c.RealtimeRuntime, u.RealtimeRuntime)
		set(&c.RealtimePeriod, u.RealtimePeriod)
		set(&c.Idle, u.Idle)
		if u.Cpus != "" {
			c.Cpus = u.Cpus
		}
		if u.Mems != "" {
			c.Mems = u.Mems
		}
		out.CPU = &c
	}
	if u := upd.Pids; u != nil && u.Limit != nil {
		out.Pids = &specs.LinuxPids{Limit: u.Limit}
	}
	if u := upd.BlockIO; u != nil {
		b := specs.LinuxBlockIO{}
		if out.BlockIO != nil {
			b = *out.BlockIO
		}
		set(&b.Weight, u.Weight)
		set(&b.LeafWeight, u.LeafWeight)
		if u.WeightDevice != nil {
			b.WeightDevice = u.WeightDevice
		}
		if u.ThrottleReadBpsDevice != nil {
			b.ThrottleReadBpsDevice = u.ThrottleReadBpsDevice
		}
		if u.ThrottleWriteBpsDevice != nil {
			b.ThrottleWriteBpsDevice = u.ThrottleWriteBpsDevice
		}
		if u.ThrottleReadIOPSDevice != nil {
			b.ThrottleReadIOPSDevice = u.ThrottleReadIOPSDevice
		}
		if u.ThrottleWriteIOPSDevice != nil {
			b.ThrottleWriteIOPSDevice = u.ThrottleWriteIOPSDevice
		}
		out.BlockIO = &b
	}
	if upd.HugepageLimits != nil {
		out.HugepageLimits = upd.HugepageLimits
	}
	if u := upd.Network; u != nil {
		n := specs.LinuxNetwork{}
		if out.Network != nil {
			n = *out.Network
		}
		set(&n.ClassID, u.ClassID)
		if u.Priorities != nil {
			n.Priorities = u.Priorities
		}
		out.Network = &n
	}
	if upd.Rdma != nil {
		m := map[string]specs.LinuxRdma{}
		for k, v := range out.Rdma {
			m[k] = v
		}
		for k, v := range upd.Rdma {
			m[k] = v
		}
		out.Rdma = m
	}
	if upd.Unified != nil {
		m := map[string]string{}
		for k, v := range out.Unified {
			m[k] = v
		}
		for k, v := range upd.Unified {
			m[k] = v
		}
		out.Unified = m
	}
	return out
}

func set[T any](dst **T, src *T) {
	if src != nil {
		v := *src
		*dst = &v
	}
}
