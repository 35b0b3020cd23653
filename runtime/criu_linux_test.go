package runtime

import (
	"slices"
	"testing"

	"github.com/ocikit/ocikit/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
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

// TestCriuExtMounts: the mounts declared external to CRIU, as runc
// declares them.
func TestCriuExtMounts(t *testing.T) {
	mounts := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/data", Type: "bind", Source: "/srv/data", Options: []string{"rbind"}},
		{Destination: "/etc/hosts", Source: "hosts", Options: []string{"bind", "ro"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs"},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup"},
	}
	rec := &record{State: State{State: specs.State{Bundle: "/b"}}, Cgroup: &cgroups.State{Paths: map[string]string{"": "/sys/fs/cgroup/c"}}}
	dests := func(ms []extMount) []string {
		var d []string
		for _, m := range ms {
			d = append(d, m.dest+"="+m.source)
		}
		return d
	}
	tests := []struct {
		name string
		ns   []specs.LinuxNamespace
		want []string
	}{
		{"binds", []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.CgroupNamespace}},
			[]string{"/data=/srv/data", "/etc/hosts=/b/hosts"}},
		{"user namespace: sysfs and devices from the host", []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.UserNamespace}, {Type: specs.CgroupNamespace}},
			[]string{"/data=/srv/data", "/etc/hosts=/b/hosts", "/sys=/sys", "/dev/null=/dev/null", "/dev/zero=/dev/zero", "/dev/full=/dev/full",
				"/dev/random=/dev/random", "/dev/urandom=/dev/urandom", "/dev/tty=/dev/tty", "/dev/fuse=/dev/fuse"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := &specs.Spec{Mounts: mounts, Linux: &specs.Linux{Namespaces: tt.ns, Devices: []specs.LinuxDevice{{Path: "/dev/fuse"}}}}
			got := dests(criuExtMounts(spec, rec))
			if !slices.Equal(got, tt.want) {
				t.Errorf("ext mounts %q, want %q", got, tt.want)
			}
		})
	}
}
