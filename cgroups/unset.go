package cgroups

import specs "github.com/opencontainers/runtime-spec/specs-go"

// withoutUnset returns a copy of r in which every value that runc 1.1
// treats as "not set" is nil, so that such a value neither changes the
// cgroup nor asks for a controller. Callers rely on it: Docker writes
// `cpu.shares: 0`, `blockIO.weight: 0` and `memory.disableOOMKiller: false`
// into every config, meaning "leave the default".
//
// Zero means unset for memory.limit, reservation, swap, kernel and
// kernelTCP, cpu.shares, quota, period, realtimeRuntime and realtimePeriod,
// blockIO.weight and leafWeight (also per device: an entry left with
// neither weight is dropped), and network.classID. false means unset for
// memory.disableOOMKiller (runc never writes 0 to oom_control) and
// checkBeforeUpdate. A swappiness of 2^64-1 is -1 written to an unsigned
// field by older callers, and runc skips it too.
//
// Kept as they are, because zero is a value there: pids.limit
// (config-linux.md "PIDs": 0 is a valid limit that runtimes SHOULD treat as
// such; runc 1.1 took it as unset), cpu.burst and cpu.idle (0 is the
// kernel's default, writing it is harmless), swappiness 0, throttle rates
// (0 removes a device's limit), hugepage limits, rdma, unified and the
// device list.
//
// The input is not modified; sub-objects that change are copied.
func withoutUnset(r *specs.LinuxResources) *specs.LinuxResources {
	if r == nil {
		return nil
	}
	out := *r
	if m := r.Memory; m != nil {
		c := *m
		zeroNil(&c.Limit)
		zeroNil(&c.Reservation)
		zeroNil(&c.Swap)
		zeroNil(&c.Kernel)
		zeroNil(&c.KernelTCP)
		zeroNil(&c.DisableOOMKiller)
		zeroNil(&c.CheckBeforeUpdate)
		if c.Swappiness != nil && int64(*c.Swappiness) == -1 {
			c.Swappiness = nil
		}
		out.Memory = &c
	}
	if cpu := r.CPU; cpu != nil {
		c := *cpu
		zeroNil(&c.Shares)
		zeroNil(&c.Quota)
		zeroNil(&c.Period)
		zeroNil(&c.RealtimeRuntime)
		zeroNil(&c.RealtimePeriod)
		out.CPU = &c
	}
	if b := r.BlockIO; b != nil {
		c := *b
		zeroNil(&c.Weight)
		zeroNil(&c.LeafWeight)
		if b.WeightDevice != nil {
			c.WeightDevice = make([]specs.LinuxWeightDevice, 0, len(b.WeightDevice))
			for _, wd := range b.WeightDevice {
				zeroNil(&wd.Weight)
				zeroNil(&wd.LeafWeight)
				if wd.Weight != nil || wd.LeafWeight != nil {
					c.WeightDevice = append(c.WeightDevice, wd)
				}
			}
		}
		out.BlockIO = &c
	}
	if n := r.Network; n != nil {
		c := *n
		zeroNil(&c.ClassID)
		out.Network = &c
	}
	return &out
}

// zeroNil sets *p to nil when it points at T's zero value.
func zeroNil[T comparable](p **T) {
	var zero T
	if *p != nil && **p == zero {
		*p = nil
	}
}
