package cgroups

import (
	"fmt"
	"log/slog"

	lc "github.com/opencontainers/cgroups"
	devcfg "github.com/opencontainers/cgroups/devices/config"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// defaultDeviceRules allow the default devices every container gets
// (config-linux.md "Default Devices": /dev/null, zero, full, random,
// urandom, tty, ptmx and the devpts instance, whose pty also backs
// /dev/console), plus, as runc allows, mknod of any character or block
// device (creating a node is harmless when reading and writing it stays
// denied) and /dev/net/tun (usable only with CAP_NET_ADMIN in the
// container's network namespace). The host console 5:1 is deliberately not
// allowed: the container's console is a pty.
func defaultDeviceRules() []*devcfg.Rule {
	w := int64(devcfg.Wildcard)
	return []*devcfg.Rule{
		{Type: devcfg.CharDevice, Major: w, Minor: w, Permissions: "m", Allow: true},
		{Type: devcfg.BlockDevice, Major: w, Minor: w, Permissions: "m", Allow: true},
		{Type: devcfg.CharDevice, Major: 1, Minor: 3, Permissions: "rwm", Allow: true},    // null
		{Type: devcfg.CharDevice, Major: 1, Minor: 5, Permissions: "rwm", Allow: true},    // zero
		{Type: devcfg.CharDevice, Major: 1, Minor: 7, Permissions: "rwm", Allow: true},    // full
		{Type: devcfg.CharDevice, Major: 1, Minor: 8, Permissions: "rwm", Allow: true},    // random
		{Type: devcfg.CharDevice, Major: 1, Minor: 9, Permissions: "rwm", Allow: true},    // urandom
		{Type: devcfg.CharDevice, Major: 5, Minor: 0, Permissions: "rwm", Allow: true},    // tty
		{Type: devcfg.CharDevice, Major: 5, Minor: 2, Permissions: "rwm", Allow: true},    // ptmx
		{Type: devcfg.CharDevice, Major: 10, Minor: 200, Permissions: "rwm", Allow: true}, // net/tun
		{Type: devcfg.CharDevice, Major: 136, Minor: w, Permissions: "rwm", Allow: true},  // /dev/pts/*
	}
}

// deviceRules translates the allowed device list (config-linux.md "Allowed
// Device list": entries applied in order, unset type means "a", unset
// major/minor mean "*") and appends allow rules for the default devices,
// as runc does.
//
// linux.devices adds no rule: config-linux.md "Devices" makes a listed
// device available (the node exists), and access to it is what this list
// decides, so that a deny-all keeps a listed /dev/kmsg unwritable (runc
// 1.1: the same; callers such as Docker and podman put an allow rule for
// each device they pass in beside it).
func deviceRules(list []specs.LinuxDeviceCgroup) ([]*devcfg.Rule, error) {
	rules := make([]*devcfg.Rule, 0, len(list)+len(defaultDeviceRules()))
	for i, d := range list {
		r := &devcfg.Rule{Allow: d.Allow, Major: devcfg.Wildcard, Minor: devcfg.Wildcard}
		switch d.Type {
		case "", "a":
			r.Type = devcfg.WildcardDevice
		case "c", "u":
			r.Type = devcfg.CharDevice
		case "b":
			r.Type = devcfg.BlockDevice
		default:
			return nil, fmt.Errorf("%w: devices[%d]: type %q: want a, b or c", ErrInvalidResources, i, d.Type)
		}
		if d.Major != nil {
			r.Major = *d.Major
		}
		if d.Minor != nil {
			r.Minor = *d.Minor
		}
		r.Permissions = devcfg.Permissions(d.Access)
		if d.Access == "" {
			// The kernel's "a" rule treats no access as all of rwm. The
			// spec makes access OPTIONAL; runc 1.1 refuses it as empty.
			r.Permissions = "rwm"
		}
		if !r.Permissions.IsValid() {
			return nil, fmt.Errorf("%w: devices[%d]: access %q: want a combination of r, w and m", ErrInvalidResources, i, d.Access)
		}
		rules = append(rules, r)
	}
	return append(rules, defaultDeviceRules()...), nil
}

// toResources translates the spec's resources into the library's. This is
// the only place the library's Resources type is built. Values that mean
// "not set" are dropped first (withoutUnset). v2 only reads CpuWeight, so
// shares are translated for both versions; the library converts memory
// swap and block I/O weights for v2 itself.
func toResources(r *specs.LinuxResources, log *slog.Logger) (*lc.Resources, error) {
	out := &lc.Resources{}
	r = withoutUnset(r)
	if r == nil {
		r = &specs.LinuxResources{}
	}
	rules, err := deviceRules(r.Devices)
	if err != nil {
		return nil, err
	}
	out.Devices = rules
	if m := r.Memory; m != nil {
		if m.Limit != nil {
			out.Memory = *m.Limit
		}
		if m.Reservation != nil {
			out.MemoryReservation = *m.Reservation
		}
		if m.Swap != nil {
			out.MemorySwap = *m.Swap
		}
		if m.Kernel != nil {
			// Deprecated by the spec and gone from the kernel since 6.x.
			log.Warn("ignoring linux.resources.memory.kernel: kernel memory limits are deprecated and unsupported")
		}
		if m.Swappiness != nil {
			if *m.Swappiness > 100 {
				return nil, fmt.Errorf("%w: memory.swappiness %d: want 0 to 100", ErrInvalidResources, *m.Swappiness)
			}
			v := *m.Swappiness
			out.MemorySwappiness = &v
		}
		if m.DisableOOMKiller != nil {
			out.OomKillDisable = *m.DisableOOMKiller
		}
		if m.CheckBeforeUpdate != nil {
			out.MemoryCheckBeforeUpdate = *m.CheckBeforeUpdate
		}
		// kernelTCP and useHierarchy are not in the library's Resources:
		// the manager writes them itself (setExtra).
	}
	if c := r.CPU; c != nil {
		if c.Shares != nil {
			out.CpuShares = *c.Shares
			out.CpuWeight = lc.ConvertCPUSharesToCgroupV2Value(*c.Shares)
		}
		if c.Quota != nil {
			out.CpuQuota = *c.Quota
		}
		if c.Burst != nil {
			v := *c.Burst
			out.CpuBurst = &v
		}
		if c.Period != nil {
			out.CpuPeriod = *c.Period
		}
		if c.RealtimeRuntime != nil {
			out.CpuRtRuntime = *c.RealtimeRuntime
		}
		if c.RealtimePeriod != nil {
			out.CpuRtPeriod = *c.RealtimePeriod
		}
		out.CpusetCpus = c.Cpus
		out.CpusetMems = c.Mems
		if c.Idle != nil {
			if *c.Idle != 0 && *c.Idle != 1 {
				return nil, fmt.Errorf("%w: cpu.idle %d: want 0 or 1", ErrInvalidResources, *c.Idle)
			}
			v := *c.Idle
			out.CPUIdle = &v
		}
	}
	if p := r.Pids; p != nil && p.Limit != nil {
		v := *p.Limit
		out.PidsLimit = &v
	}
	if b := r.BlockIO; b != nil {
		if b.Weight != nil {
			out.BlkioWeight = *b.Weight
		}
		if b.LeafWeight != nil {
			out.BlkioLeafWeight = *b.LeafWeight
		}
		for _, wd := range b.WeightDevice {
			var w, lw uint16
			if wd.Weight != nil {
				w = *wd.Weight
			}
			if wd.LeafWeight != nil {
				lw = *wd.LeafWeight
			}
			out.BlkioWeightDevice = append(out.BlkioWeightDevice, lc.NewWeightDevice(wd.Major, wd.Minor, w, lw))
		}
		out.BlkioThrottleReadBpsDevice = throttle(b.ThrottleReadBpsDevice)
		out.BlkioThrottleWriteBpsDevice = throttle(b.ThrottleWriteBpsDevice)
		out.BlkioThrottleReadIOPSDevice = throttle(b.ThrottleReadIOPSDevice)
		out.BlkioThrottleWriteIOPSDevice = throttle(b.ThrottleWriteIOPSDevice)
	}
	for _, h := range r.HugepageLimits {
		if h.Pagesize == "" {
			return nil, fmt.Errorf("%w: hugepageLimits: empty pageSize", ErrInvalidResources)
		}
		out.HugetlbLimit = append(out.HugetlbLimit, &lc.HugepageLimit{Pagesize: h.Pagesize, Limit: h.Limit})
	}
	if n := r.Network; n != nil {
		if n.ClassID != nil {
			out.NetClsClassid = *n.ClassID
		}
		for _, p := range n.Priorities {
			out.NetPrioIfpriomap = append(out.NetPrioIfpriomap, &lc.IfPrioMap{Interface: p.Name, Priority: int64(p.Priority)})
		}
	}
	if len(r.Rdma) > 0 {
		out.Rdma = make(map[string]lc.LinuxRdma, len(r.Rdma))
		for dev, l := range r.Rdma {
			out.Rdma[dev] = lc.LinuxRdma{HcaHandles: l.HcaHandles, HcaObjects: l.HcaObjects}
		}
	}
	if len(r.Unified) > 0 {
		out.Unified = make(map[string]string, len(r.Unified))
		for k, v := range r.Unified {
			out.Unified[k] = v
		}
	}
	return out, nil
}

func throttle(in []specs.LinuxThrottleDevice) []*lc.ThrottleDevice {
	var out []*lc.ThrottleDevice
	for _, t := range in {
		out = append(out, lc.NewThrottleDevice(t.Major, t.Minor, t.Rate))
	}
	return out
}
