package runtime

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/runtime/rootfs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestCriuLogError(t *testing.T) {
	tests := []struct {
		name, log, want string
	}{
		{"none", "(00.1) Dumping processes\n(00.2) Dumping finished successfully\n", ""},
		{
			"cause before the cleanup's helpers",
			"(00.9) Error (criu/net.c:3741): Unable to create a veth pair: -95\n" +
				"(01.0) Error (criu/net.c:3071): Locking network failed: iptables-restore returned -1.\n" +
				"Error (criu/util.c:627): execvp(\"iptables-restore\", ...) failed: No such file or directory\n" +
				"(01.1) Error (criu/util.c:642): exited, status=1\n" +
				"(01.2) Error (criu/cr-dump.c:2053): Dumping FAILED.\n",
			"Locking network failed: iptables-restore returned -1.",
		},
		{"only the final line", "(01.2) Error (criu/cr-restore.c:2500): Restoring FAILED.\n", "Restoring FAILED."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := criuLogError([]byte(tt.log)); got != tt.want {
				t.Errorf("criuLogError = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCriuFirstErrors(t *testing.T) {
	out := "Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds\n" +
		"Error (criu/vdso.c:613): vdso: Failed to fill self vdso symtable\n" +
		"Error (criu/kerndat.c:1615): kerndat_vdso_fill_symtable failed when initializing kerndat.\n"
	tests := []struct{ name, out, want string }{
		{"kerndat step and its cause", out, "vdso: Failed to fill self vdso symtable; kerndat_vdso_fill_symtable failed when initializing kerndat."},
		{"repeated error", "Error (a.c:1): sockets: Diag module missing (-2)\nError (a.c:1): sockets: Diag module missing (-2)\n", "sockets: Diag module missing (-2)"},
		{"helper noise left out", "Error (u.c:642): exited, status=1\nError (t.c:85): tun: Unable to create tun: Permission denied\n" +
			"Error (u.c:642): exited, status=1\nError (k.c:1666): kerndat_has_nftables_concat failed when initializing kerndat.\n",
			"tun: Unable to create tun: Permission denied; kerndat_has_nftables_concat failed when initializing kerndat."},
	}
	for _, tt := range tests {
		if got := criuFirstErrors([]byte(tt.out)); got != tt.want {
			t.Errorf("%s: criuFirstErrors = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestCgroupsMode(t *testing.T) {
	for _, m := range []CgroupsMode{"", "soft", "full", "strict", "ignore"} {
		if _, err := cgroupsMode(m); err != nil {
			t.Errorf("%q: %v", m, err)
		}
	}
	if _, err := cgroupsMode("bogus"); err == nil {
		t.Error("bogus mode accepted")
	}
}

// hybridHost is this machine's layout: one v1 hierarchy per controller,
// a named systemd hierarchy and the cgroup2 mount at unified.
var hybridHost = []rootfs.Hierarchy{
	{Mountpoint: "/sys/fs/cgroup/cpu", Root: "/", Controllers: []string{"cpu"}},
	{Mountpoint: "/sys/fs/cgroup/cpuacct", Root: "/", Controllers: []string{"cpuacct"}},
	{Mountpoint: "/sys/fs/cgroup/cpuset", Root: "/", Controllers: []string{"cpuset"}},
	{Mountpoint: "/sys/fs/cgroup/memory", Root: "/", Controllers: []string{"memory"}},
	{Mountpoint: "/sys/fs/cgroup/devices", Root: "/", Controllers: []string{"devices"}},
	{Mountpoint: "/sys/fs/cgroup/freezer", Root: "/", Controllers: []string{"freezer"}},
	{Mountpoint: "/sys/fs/cgroup/blkio", Root: "/", Controllers: []string{"blkio"}},
	{Mountpoint: "/sys/fs/cgroup/pids", Root: "/", Controllers: []string{"pids"}},
	{Mountpoint: "/sys/fs/cgroup/systemd", Root: "/", Controllers: []string{"name=systemd"}},
	{Mountpoint: "/sys/fs/cgroup/unified", Root: "/"},
}

// v1Host is a systemd host's cgroup v1 layout: combined hierarchies, no
// cgroup2 mount.
var v1Host = []rootfs.Hierarchy{
	{Mountpoint: "/sys/fs/cgroup/cpu,cpuacct", Root: "/", Controllers: []string{"cpu", "cpuacct"}},
	{Mountpoint: "/sys/fs/cgroup/memory", Root: "/", Controllers: []string{"memory"}},
	{Mountpoint: "/sys/fs/cgroup/net_cls,net_prio", Root: "/", Controllers: []string{"net_cls", "net_prio"}},
	{Mountpoint: "/sys/fs/cgroup/systemd", Root: "/", Controllers: []string{"name=systemd"}},
}

// cgPaths are a container's cgroup directories on a host of hierarchies
// hs, keyed as cgroups.State.Paths, with the given controllers left out.
func cgPaths(hs []rootfs.Hierarchy, c string, without ...string) map[string]string {
	p := map[string]string{}
	for _, h := range hs {
		keys := h.Controllers
		if len(keys) == 0 {
			keys = []string{""}
		}
		for _, k := range keys {
			if !slices.Contains(without, k) {
				p[k] = h.Mountpoint + "/" + c
			}
		}
	}
	return p
}

// TestCriuExtMounts: the mounts declared external to CRIU, as runc
// declares them, for a v2, a hybrid (this host's) and a v1 layout.
func TestCriuExtMounts(t *testing.T) {
	mounts := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/data", Type: "bind", Source: "/srv/data", Options: []string{"rbind"}},
		{Destination: "/etc/hosts", Source: "hosts", Options: []string{"bind", "ro"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs"},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup"},
	}
	v2 := cgroupLayout{paths: map[string]string{"": "/sys/fs/cgroup/c"}}
	own := []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.CgroupNamespace}}
	hostNs := []specs.LinuxNamespace{{Type: specs.MountNamespace}}
	binds := []string{"/data=/srv/data", "/etc/hosts=/b/hosts"}
	tests := []struct {
		name string
		ns   []specs.LinuxNamespace
		cg   cgroupLayout
		want []string
	}{
		{"v2 binds, own cgroup namespace: cgroup2 mounted, not external", own, v2, binds},
		{"v2, host cgroup namespace: the cgroup is bound", hostNs, v2, append(slices.Clone(binds), "/sys/fs/cgroup=/sys/fs/cgroup/c")},
		{"user namespace: sysfs and devices from the host", []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.UserNamespace}, {Type: specs.CgroupNamespace}}, v2,
			append(slices.Clone(binds), "/sys=/sys", "/dev/null=/dev/null", "/dev/zero=/dev/zero", "/dev/full=/dev/full",
				"/dev/random=/dev/random", "/dev/urandom=/dev/urandom", "/dev/tty=/dev/tty", "/dev/fuse=/dev/fuse")},
		{"hybrid: every hierarchy's bind, unified too", own, cgroupLayout{hs: hybridHost, paths: cgPaths(hybridHost, "ck")},
			append(slices.Clone(binds), "/sys/fs/cgroup/cpu=/sys/fs/cgroup/cpu/ck", "/sys/fs/cgroup/cpuacct=/sys/fs/cgroup/cpuacct/ck",
				"/sys/fs/cgroup/cpuset=/sys/fs/cgroup/cpuset/ck", "/sys/fs/cgroup/memory=/sys/fs/cgroup/memory/ck",
				"/sys/fs/cgroup/devices=/sys/fs/cgroup/devices/ck", "/sys/fs/cgroup/freezer=/sys/fs/cgroup/freezer/ck",
				"/sys/fs/cgroup/blkio=/sys/fs/cgroup/blkio/ck", "/sys/fs/cgroup/pids=/sys/fs/cgroup/pids/ck",
				"/sys/fs/cgroup/systemd=/sys/fs/cgroup/systemd/ck", "/sys/fs/cgroup/unified=/sys/fs/cgroup/unified/ck")},
		{"hybrid, host cgroup namespace, no unified path: left out as mounted", hostNs, cgroupLayout{hs: hybridHost, paths: cgPaths(hybridHost[7:], "ck", "")},
			append(slices.Clone(binds), "/sys/fs/cgroup/pids=/sys/fs/cgroup/pids/ck", "/sys/fs/cgroup/systemd=/sys/fs/cgroup/systemd/ck")},
		{"v1, combined hierarchies under their joint name", own, cgroupLayout{hs: v1Host, paths: cgPaths(v1Host, "x/y", "net_cls")},
			append(slices.Clone(binds), "/sys/fs/cgroup/cpu,cpuacct=/sys/fs/cgroup/cpu,cpuacct/x/y", "/sys/fs/cgroup/memory=/sys/fs/cgroup/memory/x/y",
				"/sys/fs/cgroup/net_cls,net_prio=/sys/fs/cgroup/net_cls,net_prio/x/y", "/sys/fs/cgroup/systemd=/sys/fs/cgroup/systemd/x/y")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := &specs.Spec{Mounts: mounts, Linux: &specs.Linux{Namespaces: tt.ns, Devices: []specs.LinuxDevice{{Path: "/dev/fuse"}}}}
			var got []string
			for _, m := range criuExtMounts(spec, "/b", tt.cg) {
				got = append(got, m.dest+"="+m.source)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ext mounts\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// TestParseCgroupRoots: CRIU's cgroup roots of a restore from
// /proc/PID/cgroup, as runc gives them: per v1 controller (a named
// hierarchy as name=NAME), the unified path as the root of the rest.
func TestParseCgroupRoots(t *testing.T) {
	str := func(p *string) string {
		if p == nil {
			return "<all>"
		}
		return *p
	}
	tests := []struct {
		name, file string
		want       []string
	}{
		{"v2", "0::/ck/new\n", []string{"<all>=/ck/new"}},
		{"hybrid (this host)", "9:name=systemd:/ck\n8:pids:/ck\n4:memory:/ck\n1:cpu:/ck\n0::/ck\n",
			[]string{"name=systemd=/ck", "pids=/ck", "memory=/ck", "cpu=/ck", "<all>=/ck"}},
		{"v1 combined", "3:cpu,cpuacct:/a/b\n2:net_cls,net_prio:/a/b\n1:name=systemd:/a/b\n",
			[]string{"cpu=/a/b", "cpuacct=/a/b", "net_cls=/a/b", "net_prio=/a/b", "name=systemd=/a/b"}},
		{"hybrid without a unified cgroup (no 0:: line is read as one)", "5:freezer:/f\n1:name=systemd:/s\n", []string{"freezer=/f", "name=systemd=/s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, r := range parseCgroupRoots([]byte(tt.file)) {
				got = append(got, str(r.Ctrl)+"="+r.GetPath())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("roots %q, want %q", got, tt.want)
			}
		})
	}
}

// TestEmptyNsMask: --empty-ns takes network (CRIU empties no other).
func TestEmptyNsMask(t *testing.T) {
	tests := []struct {
		in      []string
		want    uint32
		wantErr error
	}{
		{nil, 0, nil},
		{[]string{"network"}, unix.CLONE_NEWNET, nil},
		{[]string{"net", "network"}, unix.CLONE_NEWNET, nil},
		{[]string{"ipc"}, 0, ErrNotSupported},
		{[]string{"network", "mount"}, 0, ErrNotSupported},
		{[]string{"bogus"}, 0, ErrInvalidSpec},
	}
	for _, tt := range tests {
		got, err := emptyNsMask(tt.in)
		if got != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("%q: %#x, %v; want %#x, %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestCheckLazy: what a lazy dump (and --status-fd, --page-server)
// needs, checked before CRIU runs.
func TestCheckLazy(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	tests := []struct {
		name string
		o    CheckpointOptions
		want string // "" for no error
	}{
		{"plain", CheckpointOptions{}, ""},
		{"lazy", CheckpointOptions{LazyPages: true, PageServer: "127.0.0.1:27277", StatusFd: w}, ""},
		{"lazy on any address", CheckpointOptions{LazyPages: true, PageServer: ":27277"}, ""},
		{"lazy without page server", CheckpointOptions{LazyPages: true}, "--lazy-pages needs --page-server"},
		{"lazy pre-dump", CheckpointOptions{LazyPages: true, PageServer: ":1", PreDump: true}, "--lazy-pages and --pre-dump"},
		{"status fd without lazy", CheckpointOptions{StatusFd: w}, "--status-fd is only used with --lazy-pages"},
		{"status fd read-only", CheckpointOptions{LazyPages: true, PageServer: ":1", StatusFd: r}, "not open for writing"},
		{"status fd closed", CheckpointOptions{LazyPages: true, PageServer: ":1", StatusFd: os.NewFile(1<<20, "1048576")}, "--status-fd 1048576: bad file descriptor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkLazy(tt.o)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
	for _, bad := range []string{"27277", "host:", "host:port", "h:0", "h:70000"} {
		if _, err := pageServer(bad); err == nil {
			t.Errorf("--page-server %q accepted", bad)
		}
	}
	ps, err := pageServer("10.0.0.1:27277")
	if err != nil || ps.GetAddress() != "10.0.0.1" || ps.GetPort() != 27277 {
		t.Errorf("page server %v, %v", ps, err)
	}
}
