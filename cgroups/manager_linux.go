package cgroups

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	lc "github.com/opencontainers/cgroups"
	_ "github.com/opencontainers/cgroups/devices" // device rules: v1 devices controller, v2 eBPF
	"github.com/opencontainers/cgroups/fs"
	"github.com/opencontainers/cgroups/fs2"
	"github.com/opencontainers/cgroups/manager"
	"github.com/opencontainers/cgroups/systemd"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Manager manages the cgroups of one container.
type Manager struct {
	st  State
	m   lc.Manager
	log *slog.Logger
	// foreign is set when Apply found the systemd unit started by someone
	// else (ErrUnitExists): Destroy does not stop it.
	foreign bool
}

// HostMode reports the host's cgroup layout as the library detects it.
func HostMode() Mode {
	switch {
	case lc.IsCgroup2UnifiedMode():
		return Unified
	case lc.IsCgroup2HybridMode():
		return Hybrid
	default:
		return Legacy
	}
}

// New validates the container's cgroup configuration (linux.cgroupsPath,
// linux.resources) and returns a Manager for it. Nothing is
// created until Apply.
//
// As config-linux.md "Cgroups path" allows, a relative cgroupsPath is
// interpreted relative to the runtime's own cgroup (as runc does), an
// absolute one relative to the cgroup mount point. With WithSystemd the
// path is "slice:prefix:name".
func New(id string, spec *specs.Spec, opts ...Option) (*Manager, error) {
	o := newOptions(opts)
	if id == "" {
		return nil, fmt.Errorf("%w: empty container id", ErrInvalidPath)
	}
	var linux specs.Linux
	if spec != nil && spec.Linux != nil {
		linux = *spec.Linux
	}
	st := State{
		ID:          id,
		CgroupsPath: linux.CgroupsPath,
		Systemd:     o.systemd,
		Rootless:    o.rootless,
		Resources:   withoutUnset(linux.Resources),
	}
	if st.CgroupsPath == "" {
		st.CgroupsPath = DefaultPath(id, o.systemd)
	}
	cg, err := cgroupConfig(&st)
	if err != nil {
		return nil, err
	}
	if !st.Systemd && len(strings.Split(st.CgroupsPath, ":")) == 3 && !strings.HasPrefix(st.CgroupsPath, "/") {
		o.log.Warn("cgroupsPath looks like a systemd path (slice:prefix:name) but the driver is cgroupfs: used as one cgroup name, as runc does", "cgroupsPath", st.CgroupsPath)
	}
	res, err := toResources(linux.Resources, o.log)
	if err != nil {
		return nil, err
	}
	if len(res.Unified) > 0 && !lc.IsCgroup2UnifiedMode() {
		return nil, fmt.Errorf("%w: linux.resources.unified needs a cgroup v2 host (this host is %s)", ErrInvalidResources, HostMode())
	}
	cg.Resources = res
	if st.Systemd && spec != nil {
		if cg.SystemdProps, err = systemdProps(spec.Annotations); err != nil {
			return nil, err
		}
	}
	m, err := manager.New(cg)
	if err != nil {
		return nil, fmt.Errorf("cgroups: %s: %w", st.CgroupsPath, err)
	}
	st.Paths = m.GetPaths()
	return &Manager{st: st, m: m, log: o.log}, nil
}

// cgroupConfig builds the library's Cgroup (without resources) from st.
func cgroupConfig(st *State) (*lc.Cgroup, error) {
	cg := &lc.Cgroup{Rootless: st.Rootless, Systemd: st.Systemd}
	if st.Systemd {
		slice, prefix, name, err := systemdPath(st.CgroupsPath)
		if err != nil {
			return nil, err
		}
		if err := systemdReachable(st.Rootless); err != nil {
			return nil, err
		}
		cg.Parent, cg.ScopePrefix, cg.Name = slice, prefix, name
		return cg, nil
	}
	// A path of the systemd form without the systemd driver is one
	// cgroup name, colons and all, as runc 1.1 takes it: containerd's CRI
	// writes "parent.slice:cri-containerd:ID" for a pod whose cgroup
	// parent ends in .slice, whatever its runtime's driver (critest's
	// pods on containerd 1.6, a kubelet using the systemd driver over a
	// cgroupfs containerd). New warns.
	p := st.CgroupsPath
	for _, c := range strings.Split(p, "/") {
		if c == ".." {
			return nil, fmt.Errorf("%w: %q: must not contain \"..\"", ErrInvalidPath, p)
		}
	}
	if p == DefaultPath(st.ID, false) {
		// As Parent and Name, like runc without a cgroupsPath: then a
		// rootless container tolerates a cgroup it cannot create.
		cg.Parent, cg.Name = filepath.Dir(p), st.ID
		return cg, nil
	}
	cg.Path = filepath.Clean(p)
	return cg, nil
}

// Load rebuilds the Manager of a container from its persisted State.
func Load(st State) (*Manager, error) {
	cg, err := cgroupConfig(&st)
	if err != nil {
		return nil, err
	}
	// The v1 managers want non-nil resources; Set supplies the real ones.
	cg.Resources = &lc.Resources{}
	var m lc.Manager
	switch {
	case st.Systemd:
		m, err = manager.NewWithPaths(cg, st.Paths)
	case lc.IsCgroup2UnifiedMode():
		m, err = fs2.NewManager(cg, st.Paths[""])
	default:
		m, err = fs.NewManager(cg, st.Paths)
	}
	if err != nil {
		return nil, fmt.Errorf("cgroups: load %s: %w", st.CgroupsPath, err)
	}
	return &Manager{st: st, m: m, log: slog.New(slog.DiscardHandler)}, nil
}

// SetLogger sets the logger for warnings of a loaded Manager.
func (m *Manager) SetLogger(l *slog.Logger) {
	if l != nil {
		m.log = l
	}
}

// Apply creates the cgroup (on first use) and moves pid into it. pid -1
// only creates it.
func (m *Manager) Apply(pid int) error {
	if m.st.Systemd {
		return m.applySystemd(pid)
	}
	if err := m.m.Apply(pid); err != nil {
		if m.st.Rootless && errors.Is(err, lc.ErrRootless) {
			// A rootless container without a delegated cgroup runs in the
			// caller's cgroups, as with runc.
			m.log.Warn("rootless container: cgroup not created, running without cgroup limits", "cgroup", m.st.CgroupsPath)
		} else {
			return fmt.Errorf("cgroups: join %s: %w", m.st.CgroupsPath, err)
		}
	}
	m.st.Paths = m.m.GetPaths()
	return nil
}

// Enter moves pid into the cgroup's directories, which exist: a write to
// cgroup.procs of each, as runc's exec (and the init's late join). Unlike
// Apply it creates nothing and, with the systemd driver, does not start
// the container's unit again. A rootless cgroup may have directories it
// could not create or may not write: pid then stays where it is there, as
// the container's init did.
func (m *Manager) Enter(pid int) error {
	dirs := slices.Sorted(maps.Values(m.st.Paths))
	for i, dir := range dirs {
		if i > 0 && dir == dirs[i-1] {
			continue // a directory listed for two controllers
		}
		err := lc.WriteCgroupProc(dir, pid)
		if err != nil && m.st.Systemd {
			err = m.enterSystemd(pid, err)
		}
		if err != nil && m.st.Rootless && (errors.Is(err, os.ErrPermission) || errors.Is(err, os.ErrNotExist)) {
			continue
		}
		if err != nil {
			return fmt.Errorf("cgroups: join %s: %w", dir, err)
		}
	}
	return nil
}

// Set writes r (the container's full linux.resources) to the cgroup. A nil
// r writes the resources New was given. It is meant for a container being
// created, whose processes do not run yet: on cgroup v1 the device list is
// rewritten from scratch (Update freezes a running container for that).
func (m *Manager) Set(r *specs.LinuxResources) error {
	if r == nil {
		r = m.st.Resources
	}
	r = withoutUnset(r)
	if r == nil {
		r = &specs.LinuxResources{}
	}
	res, err := toResources(r, m.log)
	if err != nil {
		return err
	}
	if err := m.set(r, res, false); err != nil {
		return err
	}
	m.st.Resources = r
	return nil
}

// Update merges the set fields of r into the current resources and writes
// the result, as `runc update` does (a value meaning "not set", such as a
// zero cpu.shares, leaves the current one). The device allow-list is left alone
// unless r carries one.
func (m *Manager) Update(r *specs.LinuxResources) error {
	merged := merge(m.st.Resources, withoutUnset(r))
	res, err := toResources(merged, m.log)
	if err != nil {
		return err
	}
	if r == nil || r.Devices == nil {
		res.SkipDevices = true
	}
	if err := m.set(merged, res, true); err != nil {
		return err
	}
	m.st.Resources = merged
	return nil
}

// set writes res; live says the container's processes run (an update),
// which matters for the v1 device list (setDevicesV1).
func (m *Manager) set(r *specs.LinuxResources, res *lc.Resources, live bool) error {
	if len(res.Unified) > 0 && !lc.IsCgroup2UnifiedMode() {
		return fmt.Errorf("%w: linux.resources.unified needs a cgroup v2 host (this host is %s)", ErrInvalidResources, HostMode())
	}
	if n := r.Network; n != nil && (n.ClassID != nil || len(n.Priorities) > 0) && lc.IsCgroup2UnifiedMode() {
		return fmt.Errorf("%w: linux.resources.network needs the cgroup v1 net_cls and net_prio controllers", ErrInvalidResources)
	}
	if err := m.checkControllers(r); err != nil {
		return err
	}
	// Hybrid hosts may have hugetlb only in the cgroup2 hierarchy beside
	// the v1 controllers (as here): the v1 manager cannot reach it.
	hybridHugetlb := HostMode() == Hybrid && m.m.Path("hugetlb") == "" && m.m.Path("") != "" && len(res.HugetlbLimit) > 0
	var huge []*lc.HugepageLimit
	if hybridHugetlb {
		huge, res.HugetlbLimit = res.HugetlbLimit, nil
	}
	// The v1 device list is written in config order here, not by the
	// library (setDevicesV1); cgroup v2 keeps the library's eBPF program.
	devDir := ""
	if !lc.IsCgroup2UnifiedMode() && !m.st.Systemd && !res.SkipDevices {
		devDir = m.m.Path("devices")
	}
	devRules := res.Devices
	if devDir != "" {
		res.SkipDevices = true
	}
	if err := m.m.Set(res); err != nil {
		return fmt.Errorf("cgroups: set resources of %s: %w", m.st.CgroupsPath, err)
	}
	if devDir != "" {
		if err := m.setDevicesV1(devDir, devRules, live); err != nil && !m.st.Rootless {
			// A rootless container's device list is not expected to be
			// writable, as with the library.
			return fmt.Errorf("cgroups: set devices of %s: %w", m.st.CgroupsPath, err)
		}
	}
	if hybridHugetlb {
		if err := setUnifiedHugetlb(m.m.Path(""), huge); err != nil {
			return fmt.Errorf("cgroups: set hugepageLimits of %s: %w", m.st.CgroupsPath, err)
		}
	}
	return m.setMemoryExtra(r)
}

// setUnifiedHugetlb writes hugetlb limits in a cgroup2 directory of a
// hybrid host: it enables the hugetlb controller in the subtree_control of
// every ancestor below the cgroup2 mount, then writes hugetlb.<size>.max
// and, where the kernel has it, the reservation limit hugetlb.<size>.rsvd.max
// (config-linux.md "Huge page limits": reservation limits if supported).
func setUnifiedHugetlb(dir string, limits []*lc.HugepageLimit) error {
	const mnt = "/sys/fs/cgroup/unified"
	rel, err := filepath.Rel(mnt, dir)
	if err != nil || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("cgroup2 directory %s is not under %s", dir, mnt)
	}
	avail, err := lc.ReadFile(mnt, "cgroup.controllers")
	if err != nil {
		return err
	}
	if !slices.Contains(strings.Fields(avail), "hugetlb") {
		return errors.New("no hugetlb controller on this host")
	}
	parent := mnt
	for _, c := range strings.Split(rel, string(filepath.Separator)) {
		cur, err := lc.ReadFile(parent, "cgroup.subtree_control")
		if err != nil {
			return err
		}
		if !slices.Contains(strings.Fields(cur), "hugetlb") {
			if err := lc.WriteFile(parent, "cgroup.subtree_control", "+hugetlb"); err != nil {
				return err
			}
		}
		parent = filepath.Join(parent, c)
	}
	for _, l := range limits {
		v := strconv.FormatUint(l.Limit, 10)
		if err := lc.WriteFile(dir, "hugetlb."+l.Pagesize+".max", v); err != nil {
			return err
		}
		if err := lc.WriteFile(dir, "hugetlb."+l.Pagesize+".rsvd.max", v); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// setMemoryExtra writes the memory settings the library has no field for:
// kernelTCP and useHierarchy exist only in the cgroup v1 memory controller.
func (m *Manager) setMemoryExtra(r *specs.LinuxResources) error {
	if r == nil || r.Memory == nil {
		return nil
	}
	mem := r.Memory
	if lc.IsCgroup2UnifiedMode() {
		if mem.KernelTCP != nil {
			m.log.Warn("ignoring linux.resources.memory.kernelTCP: cgroup v2 has no kernel TCP memory limit")
		}
		if mem.UseHierarchy != nil && !*mem.UseHierarchy {
			return fmt.Errorf("%w: memory.useHierarchy false: cgroup v2 is always hierarchical", ErrInvalidResources)
		}
		return nil
	}
	dir := m.m.Path("memory")
	if dir == "" && (mem.KernelTCP != nil || mem.UseHierarchy != nil) {
		return fmt.Errorf("%w: memory.kernelTCP/useHierarchy: no memory cgroup", ErrInvalidResources)
	}
	if mem.KernelTCP != nil {
		if err := lc.WriteFile(dir, "memory.kmem.tcp.limit_in_bytes", strconv.FormatInt(*mem.KernelTCP, 10)); err != nil {
			return fmt.Errorf("cgroups: set memory.kernelTCP: %w", err)
		}
	}
	if mem.UseHierarchy != nil {
		v := "0"
		if *mem.UseHierarchy {
			v = "1"
		}
		cur, err := lc.ReadFile(dir, "memory.use_hierarchy")
		if err == nil && strings.TrimSpace(cur) == v {
			return nil
		}
		if err := lc.WriteFile(dir, "memory.use_hierarchy", v); err != nil {
			return fmt.Errorf("cgroups: set memory.useHierarchy: %w", err)
		}
	}
	return nil
}

// State returns what the runtime persists to Load this Manager later.
func (m *Manager) State() State {
	st := m.st
	st.Paths = maps.Clone(m.st.Paths)
	return st
}

// Paths returns the absolute cgroup directories: per v1 controller, or
// under the key "" the cgroup v2 directory (on v2 and, for the cgroup2
// mount beside v1 controllers, in hybrid mode). The runtime bind-mounts
// these into the container for a cgroup v1 /sys/fs/cgroup without a
// cgroup namespace, or uses them to find the container's cgroup.
func (m *Manager) Paths() map[string]string { return maps.Clone(m.m.GetPaths()) }

// Path returns the directory of one controller ("" on cgroup v2).
func (m *Manager) Path(controller string) string { return m.m.Path(controller) }

// Exists reports whether the cgroup exists.
func (m *Manager) Exists() bool { return m.m.Exists() }

// Destroy removes the container's cgroups. It succeeds when they are
// already gone. Processes still inside make it fail (EBUSY): kill them first.
func (m *Manager) Destroy() error {
	if m.foreign {
		return nil
	}
	if err := m.m.Destroy(); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("cgroups: remove %s: %w", m.st.CgroupsPath, err)
	}
	return nil
}

// Pids returns the PIDs of every process in the cgroup and its descendants.
func (m *Manager) Pids() ([]int, error) {
	pids, err := m.m.GetAllPids()
	if err != nil {
		return nil, fmt.Errorf("cgroups: list processes of %s: %w", m.st.CgroupsPath, err)
	}
	return pids, nil
}

// Freeze stops every process of the cgroup (runtime.md has no pause, but
// runc's pause is this) and returns when they are frozen.
func (m *Manager) Freeze() error {
	if err := m.m.Freeze(lc.Frozen); err != nil {
		return fmt.Errorf("cgroups: freeze %s: %w", m.st.CgroupsPath, err)
	}
	return nil
}

// Thaw resumes the processes Freeze stopped.
func (m *Manager) Thaw() error {
	if err := m.m.Freeze(lc.Thawed); err != nil {
		return fmt.Errorf("cgroups: thaw %s: %w", m.st.CgroupsPath, err)
	}
	return nil
}

// Frozen reports whether the cgroup is frozen.
func (m *Manager) Frozen() (bool, error) {
	s, err := m.m.GetFreezerState()
	if err != nil {
		return false, fmt.Errorf("cgroups: freezer state of %s: %w", m.st.CgroupsPath, err)
	}
	return s == lc.Frozen, nil
}

// OOMKillCount returns how many processes the OOM killer killed in the cgroup.
func (m *Manager) OOMKillCount() (uint64, error) {
	n, err := m.m.OOMKillCount()
	if err != nil {
		return 0, fmt.Errorf("cgroups: oom kill count of %s: %w", m.st.CgroupsPath, err)
	}
	return n, nil
}

// Stats returns the current statistics of the cgroup.
func (m *Manager) Stats() (*Stats, error) {
	s, err := m.m.GetStats()
	if err != nil {
		return nil, fmt.Errorf("cgroups: stats of %s: %w", m.st.CgroupsPath, err)
	}
	return convertStats(s), nil
}

func convertStats(s *lc.Stats) *Stats {
	out := &Stats{}
	cu := s.CpuStats.CpuUsage
	out.CPU.Usage = CPUUsage{Total: cu.TotalUsage, Percpu: cu.PercpuUsage, PercpuKernel: cu.PercpuUsageInKernelmode,
		PercpuUser: cu.PercpuUsageInUsermode, Kernel: cu.UsageInKernelmode, User: cu.UsageInUsermode}
	cs := s.CPUSetStats
	out.CPUSet = CPUSet{CPUs: cs.CPUs, CPUExclusive: cs.CPUExclusive, Mems: cs.Mems, MemHardwall: cs.MemHardwall,
		MemExclusive: cs.MemExclusive, MemoryMigrate: cs.MemoryMigrate, MemorySpreadPage: cs.MemorySpreadPage,
		MemorySpreadSlab: cs.MemorySpreadSlab, MemoryPressure: cs.MemoryPressure, SchedLoadBalance: cs.SchedLoadBalance,
		SchedRelaxDomainLevel: cs.SchedRelaxDomainLevel}
	td := s.CpuStats.ThrottlingData
	out.CPU.Throttling = Throttling{Periods: td.Periods, ThrottledPeriods: td.ThrottledPeriods, ThrottledTime: td.ThrottledTime}
	ms := s.MemoryStats
	mem := func(d lc.MemoryData) MemoryEntry {
		return MemoryEntry{Limit: d.Limit, Usage: d.Usage, Max: d.MaxUsage, Failcnt: d.Failcnt}
	}
	cache := ms.Cache
	if cache == 0 {
		// Page cache as runc reports it: v1's "cache", v2's "file".
		cache = ms.Stats["cache"] + ms.Stats["file"]
	}
	out.Memory = Memory{Cache: cache, Usage: mem(ms.Usage), Swap: mem(ms.SwapUsage), Kernel: mem(ms.KernelUsage), KernelTCP: mem(ms.KernelTCPUsage), Raw: ms.Stats}
	out.Pids = Pids{Current: s.PidsStats.Current, Limit: s.PidsStats.Limit}
	blk := func(in []lc.BlkioStatEntry) []BlkioEntry {
		var r []BlkioEntry
		for _, e := range in {
			r = append(r, BlkioEntry{Major: e.Major, Minor: e.Minor, Op: e.Op, Value: e.Value})
		}
		return r
	}
	out.Blkio = Blkio{IoServiceBytesRecursive: blk(s.BlkioStats.IoServiceBytesRecursive), IoServicedRecursive: blk(s.BlkioStats.IoServicedRecursive)}
	out.Hugetlb = make(map[string]Hugetlb, len(s.HugetlbStats))
	for k, v := range s.HugetlbStats {
		out.Hugetlb[k] = Hugetlb{Usage: v.Usage, Max: v.MaxUsage, Failcnt: v.Failcnt}
	}
	return out
}

func isRunningSystemd() bool { return systemd.IsRunningSystemd() }

// SystemdAvailable reports whether the systemd driver (WithSystemd) can
// work on this host: systemd must be the init system, whose D-Bus API
// creates the scopes. `features` claims the driver only then.
func SystemdAvailable() bool { return isRunningSystemd() }

// wanted lists the controllers r needs, by the v1 name and the v2 name,
// with the field that needs it for the error message.
func wanted(r *specs.LinuxResources) (out []struct{ v1, v2, field string }) {
	add := func(v1, v2, field string) { out = append(out, struct{ v1, v2, field string }{v1, v2, field}) }
	if r == nil {
		return nil
	}
	if m := r.Memory; m != nil && (m.Limit != nil || m.Reservation != nil || m.Swap != nil || m.Swappiness != nil || m.DisableOOMKiller != nil) {
		add("memory", "memory", "memory")
	}
	if c := r.CPU; c != nil {
		if c.Shares != nil || c.Quota != nil || c.Period != nil || c.Burst != nil || c.RealtimeRuntime != nil || c.RealtimePeriod != nil || c.Idle != nil {
			add("cpu", "cpu", "cpu")
		}
		if c.Cpus != "" || c.Mems != "" {
			add("cpuset", "cpuset", "cpu.cpus/mems")
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		add("pids", "pids", "pids")
	}
	if b := r.BlockIO; b != nil && (b.Weight != nil || b.LeafWeight != nil || len(b.WeightDevice) > 0 || len(b.ThrottleReadBpsDevice) > 0 ||
		len(b.ThrottleWriteBpsDevice) > 0 || len(b.ThrottleReadIOPSDevice) > 0 || len(b.ThrottleWriteIOPSDevice) > 0) {
		add("blkio", "io", "blockIO")
	}
	if n := r.Network; n != nil {
		if n.ClassID != nil {
			add("net_cls", "", "network.classID")
		}
		if len(n.Priorities) > 0 {
			add("net_prio", "", "network.priorities")
		}
	}
	if len(r.Rdma) > 0 {
		add("rdma", "rdma", "rdma")
	}
	if len(r.HugepageLimits) > 0 {
		add("hugetlb", "hugetlb", "hugepageLimits")
	}
	return out
}

// checkControllers turns the library's late "no such file" errors for a
// controller this host lacks into one line naming the setting and the
// controller.
func (m *Manager) checkControllers(r *specs.LinuxResources) error {
	need := wanted(r)
	if len(need) == 0 {
		return nil
	}
	if lc.IsCgroup2UnifiedMode() {
		avail, err := lc.ReadFile(m.m.Path(""), "cgroup.controllers")
		if err != nil {
			if m.st.Rootless {
				return fmt.Errorf("%w: linux.resources.%s: this rootless container has no cgroup of its own", ErrInvalidResources, need[0].field)
			}
			return nil // not created yet: the library reports it
		}
		for _, w := range need {
			if w.v2 != "" && !slices.Contains(strings.Fields(avail), w.v2) {
				return fmt.Errorf("%w: linux.resources.%s needs the %s controller, which is not available in %s", ErrInvalidResources, w.field, w.v2, m.m.Path(""))
			}
		}
		return nil
	}
	if b := r.BlockIO; b != nil && m.m.Path("blkio") != "" {
		// Leaf weights exist only with the CFQ scheduler, gone since 5.0.
		leaf := b.LeafWeight != nil
		for _, wd := range b.WeightDevice {
			leaf = leaf || wd.LeafWeight != nil
		}
		if _, err := os.Stat(filepath.Join(m.m.Path("blkio"), "blkio.leaf_weight")); leaf && err != nil {
			return fmt.Errorf("%w: linux.resources.blockIO.leafWeight needs the CFQ I/O scheduler (blkio.leaf_weight), which this kernel lacks", ErrInvalidResources)
		}
		weight := b.Weight != nil
		for _, wd := range b.WeightDevice {
			weight = weight || wd.Weight != nil
		}
		if weight {
			_, err1 := os.Stat(filepath.Join(m.m.Path("blkio"), "blkio.weight"))
			_, err2 := os.Stat(filepath.Join(m.m.Path("blkio"), "blkio.bfq.weight"))
			if err1 != nil && err2 != nil {
				return fmt.Errorf("%w: linux.resources.blockIO.weight needs a proportional I/O scheduler (CFQ or BFQ), none is available", ErrInvalidResources)
			}
		}
	}
	for _, w := range need {
		if m.m.Path(w.v1) != "" {
			continue
		}
		if w.v1 == "hugetlb" && HostMode() == Hybrid && m.m.Path("") != "" {
			continue // set through the cgroup2 hierarchy
		}
		if m.st.Rootless {
			return fmt.Errorf("%w: linux.resources.%s: the cgroup v1 %s controller is not writable by this rootless container", ErrInvalidResources, w.field, w.v1)
		}
		return fmt.Errorf("%w: linux.resources.%s needs the cgroup v1 %s controller, which is not mounted on this host", ErrInvalidResources, w.field, w.v1)
	}
	return nil
}
