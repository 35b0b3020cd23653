package cgroups

import (
	"fmt"
	"os"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// BenchmarkLifecycle is what create and delete cost in cgroups: New,
// Apply(-1), Set (memory, pids, cpu, default device list), Destroy.
func BenchmarkLifecycle(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	spec := &specs.Spec{Linux: &specs.Linux{Resources: &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: ptr[int64](64 << 20)},
		Pids:    &specs.LinuxPids{Limit: ptr[int64](100)},
		CPU:     &specs.LinuxCPU{Shares: ptr[uint64](512)},
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
	}}}
	for i := 0; b.Loop(); i++ {
		spec.Linux.CgroupsPath = fmt.Sprintf("/ocikit-bench/%d-%d", os.Getpid(), i)
		m, err := New("bench", spec)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Apply(-1); err != nil {
			b.Fatal(err)
		}
		if err := m.Set(nil); err != nil {
			b.Fatal(err)
		}
		if err := m.Destroy(); err != nil {
			b.Fatal(err)
		}
	}
	for _, p := range []string{"memory", "pids", "cpu", "devices", "cpuset", "blkio", "freezer", "cpuacct", "systemd", "unified"} {
		os.Remove("/sys/fs/cgroup/" + p + "/ocikit-bench")
	}
}
