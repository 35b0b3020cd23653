// Package cgroups places a container's processes in control groups and
// applies the resource limits of config-linux.md ("Control groups", "Allowed
// Device list", "Memory", "CPU", "Block IO", "Huge page limits", "Network",
// "PIDs", "RDMA", "Unified").
//
// It is a thin layer over github.com/opencontainers/cgroups: the cgroupfs
// managers for cgroup v1 (also in hybrid mode, where cgroup v1 controllers
// sit beside a cgroup2 mount) and v2, and the systemd managers. This package
// is the only place where runtime-spec's LinuxResources is translated into
// that library's Resources; callers see only the spec's types.
//
// A Manager is built with New from the container's configuration, creates
// and joins the cgroup with Apply, and writes limits with Set (or Update,
// which merges a partial update into the current limits as `runc update`
// does). State returns a JSON-serializable value that the runtime persists;
// Load rebuilds a Manager from it in a later invocation so that kill,
// pause, resume, events and delete work on the same cgroups.
//
// The device allow-list goes to the v1 devices controller in config order
// (the kernel's devices.list then lists the entries as configured, the
// default devices after them) and to an eBPF program on cgroup v2. Only
// linux.resources.devices and runc's default rules decide access: a device
// of linux.devices gets its node, not an allow rule.
//
// Values that runc 1.1 treats as "not set" (a zero cpu.shares,
// blockIO.weight, memory limit …, as Docker writes them) are dropped before
// anything is checked or written (withoutUnset lists them).
package cgroups
