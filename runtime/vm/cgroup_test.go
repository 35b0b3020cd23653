package vm

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestHostResources: the host cgroup holding qemu and the monitor gets a
// memory limit of the guest's memory plus HostMemoryOverhead only when the
// configuration limits memory (then qemu's TCG cache is bounded to fit),
// the configured CPU limits without the realtime ones, and no device
// limits (the guest applies the container's).
func TestHostResources(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	u64 := func(v uint64) *uint64 { return &v }
	tests := []struct {
		name    string
		res     *specs.LinuxResources
		ann     map[string]string
		memory  int64 // 0: no limit
		quota   int64 // 0: no CPU section
		tbLimit bool
	}{
		{"none", nil, nil, 0, 0, false},
		{"memory limit", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(64 << 20)}}, nil, 64<<20 + MemoryOverhead + HostMemoryOverhead, 0, true},
		{"unlimited memory", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-1)}}, nil, 0, 0, false},
		{"annotated guest memory", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(64 << 20)}},
			map[string]string{AnnotationMemory: "1G"}, 1<<30 + HostMemoryOverhead, 0, true},
		{"cpu", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(50000), Period: u64(100000), RealtimeRuntime: i64(1000)}}, nil, 0, 50000, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := &specs.Spec{Linux: &specs.Linux{Resources: tt.res}, Annotations: tt.ann}
			s, err := settingsFor(spec, false)
			if err != nil {
				t.Fatal(err)
			}
			r := hostResources(spec, s)
			switch {
			case tt.memory == 0 && r.Memory != nil:
				t.Errorf("memory %+v, want no limit", r.Memory)
			case tt.memory != 0 && (r.Memory == nil || r.Memory.Limit == nil || *r.Memory.Limit != tt.memory):
				t.Errorf("memory %+v, want limit %d", r.Memory, tt.memory)
			}
			switch {
			case tt.quota == 0 && r.CPU != nil:
				t.Errorf("cpu %+v, want none", r.CPU)
			case tt.quota != 0 && (r.CPU == nil || r.CPU.Quota == nil || *r.CPU.Quota != tt.quota || r.CPU.RealtimeRuntime != nil):
				t.Errorf("cpu %+v, want quota %d without realtime", r.CPU, tt.quota)
			}
			if len(r.Devices) != 1 || !r.Devices[0].Allow || r.Devices[0].Access != "rwm" || r.Devices[0].Type != "" {
				t.Errorf("devices %+v, want one rule allowing all", r.Devices)
			}
			args := strings.Join(qemuArgs(s, false, "/k", "/i", "/r", false, false), " ")
			if got := strings.Contains(args, "-accel tcg,tb-size="); got != tt.tbLimit {
				t.Errorf("TCG cache bounded %v, want %v: %s", got, tt.tbLimit, args)
			}
		})
	}
}
