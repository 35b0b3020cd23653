package vm

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestSettingsFor(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	u64 := func(v uint64) *uint64 { return &v }
	withRes := func(r *specs.LinuxResources, a map[string]string) *specs.Spec {
		return &specs.Spec{Linux: &specs.Linux{Resources: r}, Annotations: a}
	}
	tests := []struct {
		name    string
		spec    *specs.Spec
		kvm     bool
		cpus    int
		memMiB  int64
		timeout time.Duration
		err     string
	}{
		{"defaults", &specs.Spec{}, false, 1, DefaultMemory >> 20, 90 * time.Second, ""},
		{"defaults kvm", &specs.Spec{}, true, 1, DefaultMemory >> 20, 10 * time.Second, ""},
		{"memory limit plus overhead", withRes(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(256 << 20)}}, nil), false, 1, 256 + MemoryOverhead>>20, 90 * time.Second, ""},
		{"unlimited memory (-1)", withRes(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-1)}}, nil), false, 1, DefaultMemory >> 20, 90 * time.Second, ""},
		{"cpu quota rounds up", withRes(&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(150000), Period: u64(100000)}}, nil), false, 2, DefaultMemory >> 20, 90 * time.Second, ""},
		{"cpuset span", withRes(&specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0-2,5"}}, nil), false, 6, DefaultMemory >> 20, 90 * time.Second, ""},
		{"cpuset beyond a small quota", withRes(&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(50000), Period: u64(100000), Cpus: "0-1"}}, nil), false, 2, DefaultMemory >> 20, 90 * time.Second, ""},
		{"quota beyond the cpuset", withRes(&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(300000), Period: u64(100000), Cpus: "1"}}, nil), false, 3, DefaultMemory >> 20, 90 * time.Second, ""},
		{"annotations win", withRes(&specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0-2"}, Memory: &specs.LinuxMemory{Limit: i64(1 << 30)}},
			map[string]string{AnnotationCPUs: "2", AnnotationMemory: "768M", AnnotationBootTimeout: "5s"}), false, 2, 768, 5 * time.Second, ""},
		{"memory in bytes", &specs.Spec{Annotations: map[string]string{AnnotationMemory: "134217728"}}, false, 1, 128, 90 * time.Second, ""},
		{"timeout in seconds", &specs.Spec{Annotations: map[string]string{AnnotationBootTimeout: "2.5"}}, false, 1, DefaultMemory >> 20, 2500 * time.Millisecond, ""},
		{"bad cpus", &specs.Spec{Annotations: map[string]string{AnnotationCPUs: "0"}}, false, 0, 0, 0, AnnotationCPUs},
		{"too little memory", &specs.Spec{Annotations: map[string]string{AnnotationMemory: "1M"}}, false, 0, 0, 0, "at least 64M"},
		{"bad size", &specs.Spec{Annotations: map[string]string{AnnotationMemory: "lots"}}, false, 0, 0, 0, AnnotationMemory},
		{"bad cpuset", withRes(&specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "3-1"}}, nil), false, 0, 0, 0, "cpu.cpus"},
		{"too many cpus", &specs.Spec{Annotations: map[string]string{AnnotationCPUs: "1000"}}, false, 0, 0, 0, "at most"},
		{"bad timeout", &specs.Spec{Annotations: map[string]string{AnnotationBootTimeout: "-1s"}}, false, 0, 0, 0, AnnotationBootTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := settingsFor(tt.spec, tt.kvm)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.cpus != tt.cpus || s.memoryMiB != tt.memMiB || s.bootTimeout != tt.timeout {
				t.Errorf("got %d cpus, %d MiB, %v; want %d, %d, %v", s.cpus, s.memoryMiB, s.bootTimeout, tt.cpus, tt.memMiB, tt.timeout)
			}
		})
	}
}

func TestQemuArgs(t *testing.T) {
	s := settings{cpus: 2, memoryMiB: 300}
	for _, kvm := range []bool{false, true} {
		args := strings.Join(qemuArgs(s, kvm, "/k", "/i", "/b,x/rootfs", true, false), " ")
		for _, want := range []string{"-m 300", "-smp 2", "-nodefaults", "-sandbox on", "-kernel /k", "-initrd /i",
			"path=/b,,x/rootfs,security_model=passthrough,readonly=on", "-- vm-agent", "name=ocikit.ctl"} {
			if !strings.Contains(args, want) {
				t.Errorf("kvm=%v: %q lacks %q", kvm, args, want)
			}
		}
		machine := "-M q35 -accel tcg"
		if kvm {
			machine = "-M microvm -accel kvm"
		}
		if !strings.Contains(args, machine) {
			t.Errorf("kvm=%v: %q lacks %q", kvm, args, machine)
		}
		if strings.Contains(args, "-net") || strings.Contains(args, "-nic") {
			t.Errorf("kvm=%v: a network device: %q", kvm, args)
		}
	}
}

// TestCpio lists the archive with GNU cpio, the reader of record.
func TestCpio(t *testing.T) {
	cpio, err := exec.LookPath("cpio")
	if err != nil {
		t.Skip("no cpio")
	}
	var buf bytes.Buffer
	c := newCpio(&buf)
	if err := c.dir("lib", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := c.data("lib/order", []byte("a.ko\nb.ko\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.data("odd", []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.close(); err != nil {
		t.Fatal(err)
	}
	if buf.Len()%4 != 0 {
		t.Errorf("archive of %d bytes: not padded to 4", buf.Len())
	}
	cmd := exec.Command(cpio, "-itv", "--quiet")
	cmd.Stdin = &buf
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cpio -t: %v: %s", err, out)
	}
	got := string(out)
	for _, want := range []string{"drwxr-xr-x", " lib\n", "-rw-r--r--", " 10 ", " lib/order\n", "-rw-------", " odd\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("cpio -tv lacks %q:\n%s", want, got)
		}
	}
}

// TestCheckUpdate: a VM of 2 vCPUs and 512 MiB takes resources that fit
// it and refuses, naming the limit, those it cannot honour.
func TestCheckUpdate(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	u64 := func(v uint64) *uint64 { return &v }
	room := int64(512<<20 - MemoryOverhead)
	tests := []struct {
		name string
		res  *specs.LinuxResources
		want string // "" for accepted
	}{
		{"nothing", nil, ""},
		{"memory within", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(room)}}, ""},
		{"memory unlimited", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-1)}}, ""},
		{"memory beyond", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(room + 1)}}, "memory limit of"},
		{"reservation beyond", &specs.LinuxResources{Memory: &specs.LinuxMemory{Reservation: i64(1 << 30)}}, "memory reservation of"},
		{"quota within", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(200000), Period: u64(100000)}}, ""},
		{"quota default period", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(250000)}}, "exceeds the VM's 2 vCPUs"},
		{"quota unlimited", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(-1)}}, ""},
		{"cpuset within", &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0-1"}}, ""},
		{"cpuset beyond", &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "1,3"}}, "names CPU 3"},
		{"mems beyond", &specs.LinuxResources{CPU: &specs.LinuxCPU{Mems: "0-1"}}, "one memory node"},
		{"pids", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(10)}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkUpdate(tt.res, 2, 512)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
	// A state without the VM's size: no check.
	if err := checkUpdate(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 40)}}, 0, 0); err != nil {
		t.Errorf("without a recorded size: %v", err)
	}
}
