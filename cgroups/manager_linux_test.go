package cgroups

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/ocikit/ocikit/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// child is a shell that waits for commands on stdin and answers on stdout,
// so the test can run an action inside the cgroup after limits are set.
type child struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func startChild(t *testing.T) *child {
	t.Helper()
	cmd := exec.Command("sh", "-c", `while read line; do eval "$line"; echo done; done`)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, in: in, out: bufio.NewReader(out)}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return c
}

// run runs a shell command line in the child and returns its output lines.
func (c *child) run(t *testing.T, line string) []string {
	t.Helper()
	if _, err := fmt.Fprintln(c.in, line); err != nil {
		t.Fatal(err)
	}
	var out []string
	for {
		l, err := c.out.ReadString('\n')
		if err != nil {
			t.Fatalf("child: %v (output so far %q)", err, out)
		}
		l = strings.TrimSuffix(l, "\n")
		if l == "done" {
			return out
		}
		out = append(out, l)
	}
}

func (c *child) stop() {
	c.cmd.Process.Kill()
	c.cmd.Wait()
}

func testPath(t *testing.T) string {
	return fmt.Sprintf("/ocikit-test/%s-%d", strings.ReplaceAll(t.Name(), "/", "_"), os.Getpid())
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func newTestManager(t *testing.T, linux *specs.Linux) *Manager {
	t.Helper()
	linux.CgroupsPath = testPath(t)
	m, err := New("test", &specs.Spec{Linux: linux})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, m)
	return m
}

// cleanup destroys m at the end of the test and removes the ocikit-test
// parent directories when they are empty.
func cleanup(t *testing.T, m *Manager) {
	t.Cleanup(func() {
		paths := m.Paths()
		if err := m.Destroy(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		for _, p := range paths {
			os.Remove(filepath.Dir(p)) // fails while another test uses it
		}
	})
}

func TestManagerLimits(t *testing.T) {
	testutil.RequireRoot(t)
	t.Logf("host cgroup mode: %s", HostMode())
	m := newTestManager(t, &specs.Linux{})
	c := startChild(t)
	if err := m.Apply(c.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	res := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr[int64](64 << 20), Reservation: ptr[int64](32 << 20), Swappiness: ptr[uint64](20), KernelTCP: ptr[int64](16 << 20)},
		CPU:    &specs.LinuxCPU{Shares: ptr[uint64](512), Quota: ptr[int64](50000), Period: ptr[uint64](100000), Cpus: "0"},
		Pids:   &specs.LinuxPids{Limit: ptr[int64](32)},
	}
	if HostMode() == Unified {
		res.Memory.KernelTCP = nil
		res.Memory.Swappiness = nil
	}
	if err := m.Set(res); err != nil {
		t.Fatal(err)
	}
	pids, err := m.Pids()
	if err != nil || !slices.Contains(pids, c.cmd.Process.Pid) {
		t.Fatalf("Pids = %v, %v; want %d in it", pids, err, c.cmd.Process.Pid)
	}
	type want struct{ ctl, file, val string }
	var wants []want
	if HostMode() == Unified {
		wants = []want{
			{"", "memory.max", "67108864"}, {"", "memory.low", "33554432"}, {"", "pids.max", "32"},
			{"", "cpu.max", "50000 100000"}, {"", "cpu.weight", "20"}, {"", "cpuset.cpus", "0"},
		}
	} else {
		wants = []want{
			{"memory", "memory.limit_in_bytes", "67108864"}, {"memory", "memory.soft_limit_in_bytes", "33554432"},
			{"memory", "memory.swappiness", "20"}, {"memory", "memory.kmem.tcp.limit_in_bytes", "16777216"},
			{"pids", "pids.max", "32"}, {"cpu", "cpu.cfs_quota_us", "50000"}, {"cpu", "cpu.cfs_period_us", "100000"},
			{"cpu", "cpu.shares", "512"}, {"cpuset", "cpuset.cpus", "0"},
		}
	}
	for _, w := range wants {
		if got := readFile(t, m.Path(w.ctl), w.file); got != w.val {
			t.Errorf("%s = %q, want %q", w.file, got, w.val)
		}
	}

	// Update merges: only pids changes, the memory limit stays.
	if err := m.Update(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](-1)}}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, m.Path("pids"), "pids.max"); got != "max" {
		t.Errorf("after update pids.max = %q, want max", got)
	}
	memFile, memCtl := "memory.limit_in_bytes", "memory"
	if HostMode() == Unified {
		memFile, memCtl = "memory.max", ""
	}
	if got := readFile(t, m.Path(memCtl), memFile); got != "67108864" {
		t.Errorf("after update %s = %q, want unchanged 67108864", memFile, got)
	}

	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Pids.Current < 1 || st.Pids.Limit != 0 {
		t.Errorf("stats: pids current %d limit %d, want >= 1 and unlimited", st.Pids.Current, st.Pids.Limit)
	}
	if _, err := json.Marshal(st); err != nil {
		t.Fatal(err)
	}

	// The pids limit is enforced: with room for the shell, a subshell and
	// one more process, forking six sleeps fails.
	if err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](3)}}); err != nil {
		t.Fatal(err)
	}
	out := c.run(t, `( for i in 1 2 3 4 5 6; do sleep 1 & done; wait ) 2>/dev/null; echo "rc=$?"`)
	if len(out) != 1 || out[0] == "rc=0" {
		t.Errorf("forking past pids.max: %q, want a failure", out)
	}
	if ev := readFile(t, m.Path("pids"), "pids.events"); ev == "max 0" {
		t.Errorf("pids.events %q: no fork was refused", ev)
	}
}

func TestManagerStateLoadDestroy(t *testing.T) {
	testutil.RequireRoot(t)
	m := newTestManager(t, &specs.Linux{Resources: &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](10)}}})
	c := startChild(t)
	if err := m.Apply(c.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(nil); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(m.State())
	if err != nil {
		t.Fatal(err)
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	m2, err := Load(st)
	if err != nil {
		t.Fatal(err)
	}
	if HostMode() == Hybrid {
		if p := m2.Paths()[""]; !strings.HasPrefix(p, "/sys/fs/cgroup/unified/") {
			t.Errorf("hybrid: cgroup2 path %q, want under /sys/fs/cgroup/unified", p)
		}
	}
	pids, err := m2.Pids()
	if err != nil || !slices.Contains(pids, c.cmd.Process.Pid) {
		t.Fatalf("loaded manager Pids = %v, %v", pids, err)
	}
	// A loaded manager joins further processes (runtime exec).
	c2 := startChild(t)
	if err := m2.Apply(c2.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if pids, _ := m2.Pids(); !slices.Contains(pids, c2.cmd.Process.Pid) {
		t.Fatalf("Pids %v lack the joined %d", pids, c2.cmd.Process.Pid)
	}
	c2.stop()
	// Update after Load merges into the persisted resources.
	if err := m2.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](128 << 20)}}); err != nil {
		t.Fatal(err)
	}
	if got := m2.State().Resources; got.Pids == nil || *got.Pids.Limit != 10 || *got.Memory.Limit != 128<<20 {
		t.Errorf("merged state resources %+v", got)
	}

	if err := m2.Freeze(); err != nil {
		t.Fatal(err)
	}
	if f, err := m2.Frozen(); err != nil || !f {
		t.Fatalf("Frozen = %v, %v after Freeze", f, err)
	}
	if s := procState(t, c.cmd.Process.Pid); HostMode() != Unified && s != "D" && s != "S" {
		t.Logf("frozen child in state %s", s)
	}
	if err := m2.Thaw(); err != nil {
		t.Fatal(err)
	}
	if f, err := m2.Frozen(); err != nil || f {
		t.Fatalf("Frozen = %v, %v after Thaw", f, err)
	}
	if out := c.run(t, "echo alive"); len(out) != 1 || out[0] != "alive" {
		t.Fatalf("thawed child answered %q", out)
	}

	paths := m2.Paths()
	c.stop()
	if err := m2.Destroy(); err != nil {
		t.Fatal(err)
	}
	for ctl, p := range paths {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s cgroup %s still exists after Destroy (%v)", ctl, p, err)
		}
	}
	if err := m2.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}

func procState(t *testing.T, pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])[0]
}

func TestManagerDevices(t *testing.T) {
	testutil.RequireRoot(t)
	// Deny everything: the default devices stay usable, /dev/kmsg not.
	m := newTestManager(t, &specs.Linux{Resources: &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
	}})
	c := startChild(t)
	if err := m.Apply(c.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(nil); err != nil {
		t.Fatal(err)
	}
	probe := `for d in null zero full urandom kmsg; do if (: <"/dev/$d") 2>/dev/null; then echo "$d ok"; else echo "$d denied"; fi; done`
	got := c.run(t, probe)
	want := []string{"null ok", "zero ok", "full ok", "urandom ok", "kmsg denied"}
	if !slices.Equal(got, want) {
		t.Fatalf("with deny-all: %q, want %q", got, want)
	}
	// Allow /dev/kmsg for reading only.
	if err := m.Update(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](11), Access: "r"},
	}}); err != nil {
		t.Fatal(err)
	}
	got = c.run(t, `if (: </dev/kmsg) 2>/dev/null; then echo read ok; fi; if (: >/dev/kmsg) 2>/dev/null; then echo write ok; else echo write denied; fi`)
	if !slices.Equal(got, []string{"read ok", "write denied"}) {
		t.Fatalf("with kmsg r: %q", got)
	}
	// The list the kernel holds is runc's for the same config.
	if HostMode() == Unified {
		return // an eBPF program, no list to read
	}
	list := readFile(t, m.Path("devices"), "devices.list")
	for _, want := range []string{"c 1:3 rwm", "c 136:* rwm", "c 10:200 rwm", "c *:* m", "c 1:11 r"} {
		if !strings.Contains(list, want) {
			t.Errorf("devices.list lacks %q:\n%s", want, list)
		}
	}
	if strings.Contains(list, "c 5:1 ") {
		t.Errorf("the host console 5:1 is allowed:\n%s", list)
	}
}

func TestManagerDefaultPathRelative(t *testing.T) {
	testutil.RequireRoot(t)
	rel := strings.TrimPrefix(testPath(t), "/")
	m, err := New("rel", &specs.Spec{Linux: &specs.Linux{CgroupsPath: rel}})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, m)
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	// A relative path is under the runtime's own cgroup (as runc).
	own := ownCgroup(t, "pids")
	if HostMode() == Unified {
		if !strings.HasSuffix(m.Path(""), rel) {
			t.Fatalf("path %q does not end with %q", m.Path(""), rel)
		}
		return
	}
	if want := filepath.Join("/sys/fs/cgroup/pids", own, rel); m.Path("pids") != want {
		t.Fatalf("pids path %q, want %q", m.Path("pids"), want)
	}
}

func ownCgroup(t *testing.T, ctl string) string {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) == 3 && slices.Contains(strings.Split(parts[1], ","), ctl) {
			return parts[2]
		}
	}
	t.Fatalf("no %s cgroup in /proc/self/cgroup", ctl)
	return ""
}

func TestManagerHugetlb(t *testing.T) {
	testutil.RequireRoot(t)
	if _, err := os.Stat("/sys/kernel/mm/hugepages/hugepages-2048kB"); err != nil {
		t.Skip("no 2MB huge pages")
	}
	m := newTestManager(t, &specs.Linux{})
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(&specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}}}); err != nil {
		t.Fatal(err)
	}
	dir, file := m.Path("hugetlb"), "hugetlb.2MB.limit_in_bytes"
	if HostMode() != Legacy && dir == "" {
		// v2, or hugetlb only in the cgroup2 hierarchy of a hybrid host.
		dir, file = m.Path(""), "hugetlb.2MB.max"
	}
	if got := readFile(t, dir, file); got != "4194304" {
		t.Fatalf("%s = %q, want 4194304", file, got)
	}
}

func TestManagerMissingController(t *testing.T) {
	testutil.RequireRoot(t)
	m := newTestManager(t, &specs.Linux{})
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	// net_cls and rdma are not mounted on the hybrid test host; skip where they are.
	for _, tc := range []struct {
		ctl string
		res *specs.LinuxResources
	}{
		{"net_cls", &specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr[uint32](0x100001)}}},
		{"rdma", &specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"mlx5_0": {HcaHandles: ptr[uint32](1)}}}},
	} {
		t.Run(tc.ctl, func(t *testing.T) {
			if HostMode() == Unified || m.Path(tc.ctl) != "" {
				t.Skipf("%s is available", tc.ctl)
			}
			err := m.Set(tc.res)
			if !errors.Is(err, ErrInvalidResources) || !strings.Contains(err.Error(), tc.ctl) {
				t.Fatalf("got %v, want an error naming %s", err, tc.ctl)
			}
		})
	}
}

// TestManagerMoreLimits covers the v1 settings beyond the common ones:
// CPU burst, realtime bandwidth, idle, block I/O weight and throttling,
// OOM killer, checkBeforeUpdate.
func TestManagerMoreLimits(t *testing.T) {
	testutil.RequireRoot(t)
	if HostMode() == Unified {
		t.Skip("v1 file names")
	}
	m := newTestManager(t, &specs.Linux{})
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	loop := specs.LinuxBlockIODevice{Major: 7, Minor: 0} // /dev/loop0
	if _, err := os.Stat("/sys/dev/block/7:0"); err != nil {
		t.Skip("no /dev/loop0 block device")
	}
	res := &specs.LinuxResources{
		CPU: &specs.LinuxCPU{Quota: ptr[int64](20000), Period: ptr[uint64](100000), Burst: ptr[uint64](5000),
			RealtimeRuntime: ptr[int64](10000), RealtimePeriod: ptr[uint64](1000000)},
		BlockIO: &specs.LinuxBlockIO{
			ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: loop, Rate: 1 << 20}},
			ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: loop, Rate: 100}},
		},
		Memory: &specs.LinuxMemory{Limit: ptr[int64](32 << 20), Swap: ptr[int64](64 << 20), DisableOOMKiller: ptr(true), UseHierarchy: ptr(true)},
	}
	// Realtime bandwidth must be granted by the parent first (the kernel
	// refuses more than the parent has; runc and the library leave the
	// parents to the administrator).
	parent := filepath.Dir(m.Path("cpu"))
	if err := os.WriteFile(filepath.Join(parent, "cpu.rt_runtime_us"), []byte("20000"), 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.WriteFile(filepath.Join(parent, "cpu.rt_runtime_us"), []byte("0"), 0) })
	if err := m.Set(res); err != nil {
		t.Fatal(err)
	}
	checks := []struct{ ctl, file, want string }{
		{"cpu", "cpu.cfs_burst_us", "5000"},
		{"cpu", "cpu.rt_runtime_us", "10000"},
		{"cpu", "cpu.rt_period_us", "1000000"},
		{"blkio", "blkio.throttle.read_bps_device", "7:0 1048576"},
		{"blkio", "blkio.throttle.write_iops_device", "7:0 100"},
		{"memory", "memory.memsw.limit_in_bytes", "67108864"},
		{"memory", "memory.use_hierarchy", "1"},
	}
	for _, c := range checks {
		if got := readFile(t, m.Path(c.ctl), c.file); got != c.want {
			t.Errorf("%s = %q, want %q", c.file, got, c.want)
		}
	}
	if oom := readFile(t, m.Path("memory"), "memory.oom_control"); !strings.Contains(oom, "oom_kill_disable 1") {
		t.Errorf("memory.oom_control %q", oom)
	}
	// cpu.idle is exclusive with shares: its own Set.
	if err := m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: ptr[int64](1)}}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, m.Path("cpu"), "cpu.idle"); got != "1" {
		t.Errorf("cpu.idle = %q", got)
	}
	// useHierarchy false cannot be honoured by current kernels: an error, not silence.
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{UseHierarchy: ptr(false)}}); err == nil {
		if readFile(t, m.Path("memory"), "memory.use_hierarchy") != "0" {
			t.Error("useHierarchy false accepted but not applied")
		}
	} else if !strings.Contains(err.Error(), "useHierarchy") {
		t.Errorf("useHierarchy error does not name it: %v", err)
	}
}

// TestRootless runs TestRootlessInner as an unprivileged user: without a
// cgroupsPath, WithRootless tolerates the cgroup it cannot create, and a
// limit it cannot set is one clear error.
func TestRootless(t *testing.T) {
	testutil.RequireRoot(t)
	// The test binary's directory is root's; nobody needs a readable copy.
	dir, err := os.MkdirTemp("", "ocikit-cgroups-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "cgroups.test")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestRootlessInner$", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OCIKIT_CGROUP_ROOTLESS_INNER=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestRootlessInner") {
		t.Fatalf("inner test: %v\n%s", err, out)
	}
}

func TestRootlessInner(t *testing.T) {
	if os.Getenv("OCIKIT_CGROUP_ROOTLESS_INNER") == "" {
		t.Skip("run by TestRootless")
	}
	id := fmt.Sprintf("rootless-%d", os.Getpid())
	m, err := New(id, &specs.Spec{Linux: &specs.Linux{}}, WithRootless(true))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(os.Getpid()); err != nil {
		t.Fatalf("rootless Apply: %v", err)
	}
	if err := m.Set(nil); err != nil {
		t.Fatalf("rootless Set without limits: %v", err)
	}
	err = m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](10)}})
	if !errors.Is(err, ErrInvalidResources) || !strings.Contains(err.Error(), "rootless") {
		t.Fatalf("rootless pids limit: %v", err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	// Without WithRootless the same is an error.
	m2, err := New(id, &specs.Spec{Linux: &specs.Linux{}})
	if err == nil {
		err = m2.Apply(-1)
	}
	if err == nil {
		t.Fatal("unprivileged Apply without WithRootless succeeded")
	}
}

func TestManagerNoResources(t *testing.T) {
	testutil.RequireRoot(t)
	m := newTestManager(t, &specs.Linux{})
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	for _, f := range []func() error{
		func() error { return m.Set(nil) },
		func() error { return m.Update(nil) },
		func() error { return m.Update(&specs.LinuxResources{}) },
	} {
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestManagerBlkioWeights(t *testing.T) {
	testutil.RequireRoot(t)
	if HostMode() == Unified {
		t.Skip("v1 files")
	}
	m := newTestManager(t, &specs.Linux{})
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	dir := m.Path("blkio")
	_, leafErr := os.Stat(filepath.Join(dir, "blkio.leaf_weight"))
	err := m.Set(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{LeafWeight: ptr[uint16](300)}})
	if leafErr != nil {
		if !errors.Is(err, ErrInvalidResources) || !strings.Contains(err.Error(), "leafWeight") {
			t.Errorf("leafWeight without CFQ: %v", err)
		}
	} else if err != nil {
		t.Errorf("leafWeight: %v", err)
	}
	_, w1 := os.Stat(filepath.Join(dir, "blkio.weight"))
	_, w2 := os.Stat(filepath.Join(dir, "blkio.bfq.weight"))
	err = m.Set(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](300)}})
	switch {
	case w1 != nil && w2 != nil:
		if !errors.Is(err, ErrInvalidResources) {
			t.Errorf("weight without a proportional scheduler: %v", err)
		}
	case err != nil:
		t.Errorf("weight: %v", err)
	case w2 == nil:
		if got := readFile(t, dir, "blkio.bfq.weight"); !strings.Contains(got, "300") {
			t.Errorf("blkio.bfq.weight = %q", got)
		}
	}
}

// TestManagerDevicesOrder checks that a cgroup v1 device list holds the
// allow-list in config order (config-linux.md "Allowed Device list": applied
// in order), followed by the default devices, at create and after an
// update of the running container, and that a later deny narrows an earlier
// allow as the kernel applies it.
func TestManagerDevicesOrder(t *testing.T) {
	testutil.RequireRoot(t)
	if HostMode() == Unified {
		t.Skip("cgroup v2 has an eBPF program, no device list")
	}
	dev := func(allow bool, typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Major: ptr(major), Minor: ptr(minor), Access: access}
	}
	denyAll := specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}
	defaults := []string{"c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
		"c 5:0 rwm", "c 5:2 rwm", "c 10:200 rwm", "c 136:* rwm"}
	m := newTestManager(t, &specs.Linux{Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
		denyAll, dev(true, "c", 10, 229, "rwm"), dev(true, "b", 8, 20, "rw"), dev(true, "b", 10, 200, "r"),
	}}})
	c := startChild(t)
	if err := m.Apply(c.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(nil); err != nil {
		t.Fatal(err)
	}
	want := append([]string{"c 10:229 rwm", "b 8:20 rw", "b 10:200 r"}, defaults...)
	if got := strings.Split(readFile(t, m.Path("devices"), "devices.list"), "\n"); !slices.Equal(got, want) {
		t.Errorf("after create: devices.list\n%q\nwant\n%q", got, want)
	}

	// An update of the running container: the same order, a deny that
	// narrows the allow before it, and the container not left frozen.
	if err := m.Update(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
		denyAll, dev(true, "c", 1, 11, "rw"), dev(false, "c", 1, 11, "w"), dev(true, "b", 7, 0, "r"),
	}}); err != nil {
		t.Fatal(err)
	}
	want = append([]string{"c 1:11 r", "b 7:0 r"}, defaults...)
	if got := strings.Split(readFile(t, m.Path("devices"), "devices.list"), "\n"); !slices.Equal(got, want) {
		t.Errorf("after update: devices.list\n%q\nwant\n%q", got, want)
	}
	if frozen, err := m.Frozen(); err != nil || frozen {
		t.Errorf("after update: frozen %v, %v", frozen, err)
	}
	got := c.run(t, `if (: </dev/kmsg) 2>/dev/null; then echo read ok; fi; if (: >/dev/kmsg) 2>/dev/null; then echo write ok; else echo write denied; fi`)
	if !slices.Equal(got, []string{"read ok", "write denied"}) {
		t.Errorf("kmsg after update: %q", got)
	}

	// A paused container stays paused across an update.
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if err := m.Update(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{denyAll}}); err != nil {
		t.Fatal(err)
	}
	if frozen, err := m.Frozen(); err != nil || !frozen {
		t.Errorf("paused container after update: frozen %v, %v", frozen, err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Split(readFile(t, m.Path("devices"), "devices.list"), "\n"); !slices.Equal(got, defaults) {
		t.Errorf("after deny-all update: devices.list\n%q\nwant\n%q", got, defaults)
	}
}

// TestManagerDevicesWithChildren updates the device list of a v1 cgroup
// that has a child cgroup (as a container with a cgroup namespace may
// create): the kernel refuses to clear its list, and the update goes
// through the library's transition instead.
func TestManagerDevicesWithChildren(t *testing.T) {
	testutil.RequireRoot(t)
	if HostMode() == Unified {
		t.Skip("cgroup v2 has an eBPF program, no device list")
	}
	m := newTestManager(t, &specs.Linux{Resources: &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
	}})
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(nil); err != nil {
		t.Fatal(err)
	}
	child := filepath.Join(m.Path("devices"), "child")
	if err := os.Mkdir(child, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(child) })
	if err := m.Update(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](11), Access: "r"},
	}}); err != nil {
		t.Fatal(err)
	}
	list := readFile(t, m.Path("devices"), "devices.list")
	if !strings.Contains(list, "c 1:11 r") || !strings.Contains(list, "c 1:3 rwm") {
		t.Errorf("devices.list after the update:\n%s", list)
	}
	if err := os.Remove(child); err != nil {
		t.Fatal(err)
	}
}

// TestManagerUnsetZeros applies what Docker 20.10 writes for `docker run`
// without limits (its devices, `cpu.shares: 0`, `blockIO.weight: 0`,
// `disableOOMKiller: false`) and the other zeros runc 1.1.5 treats as
// unset: no controller is asked for (this host has no proportional I/O
// scheduler and no net_cls), nothing is written, and an update with zeros
// keeps the current values.
func TestManagerUnsetZeros(t *testing.T) {
	testutil.RequireRoot(t)
	zeros := &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{
			{Allow: false, Access: "rwm"},
			{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](5), Access: "rwm"},
			{Allow: true, Type: "c", Major: ptr[int64](5), Minor: ptr[int64](1), Access: "rwm"},
			{Allow: false, Type: "c", Major: ptr[int64](10), Minor: ptr[int64](229), Access: "rwm"},
		},
		Memory: &specs.LinuxMemory{Limit: ptr[int64](0), Reservation: ptr[int64](0), Swap: ptr[int64](0), KernelTCP: ptr[int64](0),
			DisableOOMKiller: ptr(false), Swappiness: ptr(^uint64(0))},
		CPU: &specs.LinuxCPU{Shares: ptr[uint64](0), Quota: ptr[int64](0), Period: ptr[uint64](0),
			RealtimeRuntime: ptr[int64](0), RealtimePeriod: ptr[uint64](0)},
		BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](0), LeafWeight: ptr[uint16](0),
			WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 7, Minor: 0}, Weight: ptr[uint16](0)}}},
		Network: &specs.LinuxNetwork{ClassID: ptr[uint32](0)},
	}
	m := newTestManager(t, &specs.Linux{Resources: zeros})
	c := startChild(t)
	if err := m.Apply(c.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(nil); err != nil {
		t.Fatalf("Docker's defaults: %v", err)
	}
	// The defaults of a new cgroup stay: zero was not written.
	type file struct{ ctl, name, def string }
	files := []file{{"cpu", "cpu.shares", "1024"}, {"cpu", "cpu.cfs_quota_us", "-1"}, {"memory", "memory.soft_limit_in_bytes", "9223372036854771712"}}
	if HostMode() == Unified {
		files = []file{{"", "cpu.weight", "100"}, {"", "cpu.max", "max 100000"}, {"", "memory.low", "0"}}
	}
	shares := files[0]
	for _, f := range files {
		if got := readFile(t, m.Path(f.ctl), f.name); got != f.def {
			t.Errorf("%s = %q after zeros, want the default %q", f.name, got, f.def)
		}
	}
	limit := "memory.limit_in_bytes"
	if HostMode() == Unified {
		limit = "memory.max"
	}
	if got := readFile(t, m.Path(files[2].ctl), limit); got == "0" {
		t.Errorf("%s = 0: a zero limit was written", limit)
	}

	// A set value stays when an update carries zeros for it.
	if err := m.Update(&specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](512)}}); err != nil {
		t.Fatal(err)
	}
	want := readFile(t, m.Path(shares.ctl), shares.name)
	if err := m.Update(zeros); err != nil {
		t.Fatalf("update with zeros: %v", err)
	}
	if got := readFile(t, m.Path(shares.ctl), shares.name); got != want {
		t.Errorf("%s = %q after an update with shares 0, want %q", shares.name, got, want)
	}
	if s := m.State().Resources.CPU.Shares; s == nil || *s != 512 {
		t.Errorf("state after the update: shares %v, want 512", s)
	}
}

// TestManagerEnter moves a process into a cgroup's existing directories
// (runtime exec, the init's late join): a write to every cgroup.procs,
// nothing created, and a rootless cgroup's missing directories skipped.
func TestManagerEnter(t *testing.T) {
	testutil.RequireRoot(t)
	m := newTestManager(t, &specs.Linux{})
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		sub      string // a sub-cgroup that does not exist
		rootless bool
		wantErr  bool
	}{
		{name: "existing"},
		{name: "missing", sub: "missing", wantErr: true},
		{name: "rootless missing", sub: "missing", rootless: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := m.State()
			st.Rootless = tt.rootless
			for k, p := range st.Paths {
				st.Paths[k] = filepath.Join(p, tt.sub)
			}
			m2, err := Load(st)
			if err != nil {
				t.Fatal(err)
			}
			c := startChild(t)
			pid := c.cmd.Process.Pid
			err = m2.Enter(pid)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Enter: %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Enter: %v, want ErrNotExist", err)
			}
			for _, p := range st.Paths {
				procs, rerr := os.ReadFile(filepath.Join(p, "cgroup.procs"))
				if tt.sub != "" {
					if rerr == nil {
						t.Errorf("%s created", p)
					}
					continue
				}
				if !slices.Contains(strings.Fields(string(procs)), fmt.Sprint(pid)) {
					t.Errorf("%s/cgroup.procs lacks %d: %v", p, pid, rerr)
				}
			}
			c.stop() // empty again for Destroy
		})
	}
}
