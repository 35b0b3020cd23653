package cgroups

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	lc "github.com/opencontainers/cgroups"
	devcfg "github.com/opencontainers/cgroups/devices/config"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func ptr[T any](v T) *T { return &v }

func TestToResources(t *testing.T) {
	nolog := slog.New(slog.DiscardHandler)
	tests := []struct {
		name  string
		in    *specs.LinuxResources
		check func(t *testing.T, r *lc.Resources)
	}{
		{"memory", &specs.LinuxResources{Memory: &specs.LinuxMemory{
			Limit: ptr[int64](1 << 20), Reservation: ptr[int64](1 << 19), Swap: ptr[int64](2 << 20),
			Swappiness: ptr[uint64](10), DisableOOMKiller: ptr(true), CheckBeforeUpdate: ptr(true),
		}}, func(t *testing.T, r *lc.Resources) {
			if r.Memory != 1<<20 || r.MemoryReservation != 1<<19 || r.MemorySwap != 2<<20 {
				t.Errorf("memory: got %d/%d/%d", r.Memory, r.MemoryReservation, r.MemorySwap)
			}
			if r.MemorySwappiness == nil || *r.MemorySwappiness != 10 || !r.OomKillDisable || !r.MemoryCheckBeforeUpdate {
				t.Errorf("memory flags not translated: %+v", r)
			}
		}},
		{"cpu", &specs.LinuxResources{CPU: &specs.LinuxCPU{
			Shares: ptr[uint64](1024), Quota: ptr[int64](50000), Period: ptr[uint64](100000), Burst: ptr[uint64](1000),
			RealtimeRuntime: ptr[int64](950000), RealtimePeriod: ptr[uint64](1000000), Cpus: "0-1", Mems: "0", Idle: ptr[int64](1),
		}}, func(t *testing.T, r *lc.Resources) {
			if r.CpuShares != 1024 || r.CpuWeight != lc.ConvertCPUSharesToCgroupV2Value(1024) {
				t.Errorf("shares %d weight %d", r.CpuShares, r.CpuWeight)
			}
			if r.CpuQuota != 50000 || r.CpuPeriod != 100000 || *r.CpuBurst != 1000 || r.CpuRtRuntime != 950000 || r.CpuRtPeriod != 1000000 {
				t.Errorf("cpu bandwidth not translated: %+v", r)
			}
			if r.CpusetCpus != "0-1" || r.CpusetMems != "0" || *r.CPUIdle != 1 {
				t.Errorf("cpuset/idle not translated: %+v", r)
			}
		}},
		{"pids", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](-1)}}, func(t *testing.T, r *lc.Resources) {
			if r.PidsLimit == nil || *r.PidsLimit != -1 {
				t.Errorf("pids %v", r.PidsLimit)
			}
		}},
		{"no pids", &specs.LinuxResources{}, func(t *testing.T, r *lc.Resources) {
			if r.PidsLimit != nil {
				t.Errorf("pids limit set without being asked: %v", *r.PidsLimit)
			}
		}},
		{"blkio", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
			Weight: ptr[uint16](500), LeafWeight: ptr[uint16](300),
			WeightDevice:            []specs.LinuxWeightDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: ptr[uint16](600)}},
			ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1000}},
			ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 16}, Rate: 30}},
		}}, func(t *testing.T, r *lc.Resources) {
			if r.BlkioWeight != 500 || r.BlkioLeafWeight != 300 {
				t.Errorf("weights %d %d", r.BlkioWeight, r.BlkioLeafWeight)
			}
			if len(r.BlkioWeightDevice) != 1 || r.BlkioWeightDevice[0].WeightString() != "8:0 600" {
				t.Errorf("weight device %+v", r.BlkioWeightDevice)
			}
			if len(r.BlkioThrottleReadBpsDevice) != 1 || r.BlkioThrottleReadBpsDevice[0].String() != "8:0 1000" {
				t.Errorf("read bps %+v", r.BlkioThrottleReadBpsDevice)
			}
			if len(r.BlkioThrottleWriteIOPSDevice) != 1 || r.BlkioThrottleWriteIOPSDevice[0].String() != "8:16 30" {
				t.Errorf("write iops %+v", r.BlkioThrottleWriteIOPSDevice)
			}
		}},
		{"hugetlb network rdma unified", &specs.LinuxResources{
			HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 21}},
			Network:        &specs.LinuxNetwork{ClassID: ptr[uint32](0x100001), Priorities: []specs.LinuxInterfacePriority{{Name: "eth0", Priority: 5}}},
			Rdma:           map[string]specs.LinuxRdma{"mlx5_1": {HcaHandles: ptr[uint32](3)}},
			Unified:        map[string]string{"memory.high": "1M"},
		}, func(t *testing.T, r *lc.Resources) {
			if len(r.HugetlbLimit) != 1 || r.HugetlbLimit[0].Pagesize != "2MB" || r.HugetlbLimit[0].Limit != 1<<21 {
				t.Errorf("hugetlb %+v", r.HugetlbLimit)
			}
			if r.NetClsClassid != 0x100001 || len(r.NetPrioIfpriomap) != 1 || r.NetPrioIfpriomap[0].CgroupString() != "eth0 5" {
				t.Errorf("network %d %+v", r.NetClsClassid, r.NetPrioIfpriomap)
			}
			if h := r.Rdma["mlx5_1"].HcaHandles; h == nil || *h != 3 || r.Rdma["mlx5_1"].HcaObjects != nil {
				t.Errorf("rdma %+v", r.Rdma)
			}
			if r.Unified["memory.high"] != "1M" {
				t.Errorf("unified %v", r.Unified)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := toResources(tc.in, nolog)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, r)
		})
	}
}

func TestToResourcesErrors(t *testing.T) {
	tests := []struct {
		name string
		in   *specs.LinuxResources
	}{
		{"device type", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Type: "x"}}}},
		{"device access", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwx"}}}},
		{"swappiness", &specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr[uint64](101)}}},
		{"idle", &specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: ptr[int64](2)}}},
		{"hugetlb pagesize", &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Limit: 1}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := toResources(tc.in, slog.New(slog.DiscardHandler))
			if !errors.Is(err, ErrInvalidResources) {
				t.Fatalf("got %v, want ErrInvalidResources", err)
			}
		})
	}
}

// TestDeviceRules: the allowed device list in config order, then the
// default rules runc 1.1.5 adds (read from the devices.list of a runc
// container with a deny-all list), and nothing else.
func TestDeviceRules(t *testing.T) {
	rules, err := deviceRules([]specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: ptr[int64](10), Minor: ptr[int64](229), Access: "rw"},
		{Allow: true, Type: "b", Major: ptr[int64](8)},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rules {
		s := r.CgroupString()
		if !r.Allow {
			s = "deny " + s
		}
		got = append(got, s)
	}
	want := []string{"deny a *:* rwm", "c 10:229 rw", "b 8:* rwm",
		"c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
		"c 5:0 rwm", "c 5:2 rwm", "c 10:200 rwm", "c 136:* rwm"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("rules:\n got %q\nwant %q", got, want)
	}
	// The spec's order must be kept (config-linux.md: applied in order).
	if rules[0].Type != devcfg.WildcardDevice || rules[0].Allow {
		t.Fatalf("first rule %+v", rules[0])
	}
}

func TestMerge(t *testing.T) {
	base := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: ptr[int64](100), Swap: ptr[int64](200)},
		CPU:     &specs.LinuxCPU{Shares: ptr[uint64](512), Cpus: "0"},
		Pids:    &specs.LinuxPids{Limit: ptr[int64](10)},
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
	}
	got := merge(base, &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr[int64](300)},
		CPU:    &specs.LinuxCPU{Quota: ptr[int64](1000)},
	})
	if *got.Memory.Limit != 300 || *got.Memory.Swap != 200 {
		t.Errorf("memory %+v", got.Memory)
	}
	if *got.CPU.Shares != 512 || *got.CPU.Quota != 1000 || got.CPU.Cpus != "0" {
		t.Errorf("cpu %+v", got.CPU)
	}
	if *got.Pids.Limit != 10 || len(got.Devices) != 1 {
		t.Errorf("untouched fields changed: %+v", got)
	}
	if *base.Memory.Limit != 100 || base.CPU.Quota != nil {
		t.Errorf("merge modified its input: %+v %+v", base.Memory, base.CPU)
	}
}

func TestNewInvalidPath(t *testing.T) {
	tests := []struct {
		name string
		path string
		opts []Option
		want error
	}{
		{"dotdot", "/ocikit/../../etc", nil, ErrInvalidPath},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New("abc", &specs.Spec{Linux: &specs.Linux{CgroupsPath: tc.path}}, tc.opts...)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := New("", &specs.Spec{}); !errors.Is(err, ErrInvalidPath) {
		t.Errorf("empty id: got %v", err)
	}
}

// TestSystemdFormWithoutDriver: without the systemd driver a
// "slice:prefix:name" cgroupsPath is one cgroup name, as runc 1.1 takes it
// (containerd's CRI sends one for a pod parent ending in .slice).
func TestSystemdFormWithoutDriver(t *testing.T) {
	m, err := New("abc", &specs.Spec{Linux: &specs.Linux{CgroupsPath: "system.slice:ocikit:abc"}})
	if err != nil {
		t.Fatal(err)
	}
	paths := m.Paths()
	if len(paths) == 0 {
		t.Fatal("no cgroup paths")
	}
	for k, p := range paths {
		if filepath.Base(p) != "system.slice:ocikit:abc" {
			t.Errorf("%s: path %s, want the cgroup system.slice:ocikit:abc", k, p)
		}
	}
}

func TestSystemdDriver(t *testing.T) {
	_, err := New("abc", &specs.Spec{Linux: &specs.Linux{CgroupsPath: "system.slice:ocikit:abc"}}, WithSystemd(true))
	if _, serr := os.Stat(privateSocket); serr == nil {
		t.Skip("systemd is running: the driver is available")
	}
	if !errors.Is(err, ErrSystemdUnavailable) {
		t.Fatalf("got %v, want ErrSystemdUnavailable", err)
	}
	if want := "cgroups: systemd is not running (no /run/systemd/private): "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to start with %q", err, want)
	}
}

// TestSystemdPath: cgroupsPath for --systemd-cgroup is read as runc reads
// it, exactly three parts, and is checked before systemd is asked anything.
func TestSystemdPath(t *testing.T) {
	tests := []struct {
		path                string
		slice, prefix, name string
		ok                  bool
	}{
		{"system.slice:docker:abc", "system.slice", "docker", "abc", true},
		{":ocikit:abc", "", "ocikit", "abc", true},
		{"kubepods-burstable.slice:cri-containerd:abc", "kubepods-burstable.slice", "cri-containerd", "abc", true},
		{"kubepods-besteffort.slice:cri:kubepods-besteffort-pod1.slice", "kubepods-besteffort.slice", "cri", "kubepods-besteffort-pod1.slice", true},
		{"::pod-x.slice", "pod.slice", "", "pod-x.slice", true}, // the name's parent
		{"::top.slice", "-.slice", "", "top.slice", true},
		{"-.slice::top.slice", "-.slice", "", "top.slice", true},
		{"system.slice::pod-x.slice", "", "", "", false}, // systemd puts it in pod.slice
		{"system.slice:ocikit", "", "", "", false},
		{"a:b:c:d", "", "", "", false},
		{"system.slice:ocikit:", "", "", "", false},
		{"system:ocikit:abc", "", "", "", false},       // not a slice name
		{"a--b.slice:ocikit:abc", "", "", "", false},   // empty slice component
		{"system.slice:ocikit:a/b", "", "", "", false}, // a path in the name
		{"/ocikit/abc", "", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			slice, prefix, name, err := systemdPath(tc.path)
			if !tc.ok {
				if !errors.Is(err, ErrInvalidPath) {
					t.Fatalf("got %v, want ErrInvalidPath", err)
				}
				return
			}
			if err != nil || slice != tc.slice || prefix != tc.prefix || name != tc.name {
				t.Fatalf("got %q %q %q %v, want %q %q %q", slice, prefix, name, err, tc.slice, tc.prefix, tc.name)
			}
		})
	}
	// Before the reachability check: a malformed path is ErrInvalidPath
	// on a host without systemd too.
	_, err := New("abc", &specs.Spec{Linux: &specs.Linux{CgroupsPath: "a:b"}}, WithSystemd(true))
	if !errors.Is(err, ErrInvalidPath) {
		t.Errorf("New with a malformed systemd path: %v, want ErrInvalidPath", err)
	}
}

func TestUnifiedOnV1(t *testing.T) {
	if HostMode() == Unified {
		t.Skip("cgroup v2 host")
	}
	_, err := New("abc", &specs.Spec{Linux: &specs.Linux{Resources: &specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}}}})
	if !errors.Is(err, ErrInvalidResources) {
		t.Fatalf("got %v, want ErrInvalidResources", err)
	}
}
