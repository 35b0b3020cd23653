package rootfs

import (
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestUserNamespace runs Prepare and Finish in a new user namespace
// without its own network namespace: device nodes are bound from the host
// (mknod fails with EPERM), sysfs is the host's /sys rbound, and a
// read-only bind of a nosuid,nodev mount keeps those locked flags.
func TestUserNamespace(t *testing.T) {
	b := newBundle(t)
	locked := filepath.Join(b, "locked")
	mkdirs(t, locked)
	spec := baseSpec()
	spec.Root.Readonly = true
	spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	spec.Mounts = append(spec.Mounts,
		specs.Mount{Destination: "/locked", Source: locked, Type: "bind", Options: []string{"rbind", "ro"}},
	)
	spec.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/kmsg", Type: "c", Major: 1, Minor: 11}}
	spec.Linux.ReadonlyPaths = []string{"/proc/sys"}
	spec.Linux.MaskedPaths = []string{"/proc/timer_list", "/sys/firmware"}
	rep := runChild(t, &childConfig{Spec: spec, Bundle: b, UserNS: true, Locked: []string{locked},
		Stat:  []string{"/dev/null", "/dev/zero", "/dev/tty", "/dev/kmsg"},
		Write: []string{"/locked/probe", "/etc/probe"},
		Read:  []string{"/proc/timer_list"},
	})
	if rep.Err != "" {
		t.Fatalf("prepare/finish: %s", rep.Err)
	}
	for p, want := range map[string][2]uint32{"/dev/null": {1, 3}, "/dev/zero": {1, 5}, "/dev/tty": {5, 0}, "/dev/kmsg": {1, 11}} {
		st := rep.Stat[p]
		if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Major != want[0] || st.Minor != want[1] {
			t.Errorf("%s: mode %o %d:%d, want char %d:%d", p, st.Mode, st.Major, st.Minor, want[0], want[1])
		}
		if m := mountAt(rep.Mounts, p); m == nil || m.FSType != "devtmpfs" {
			t.Errorf("%s: %+v, want a bind of the host's devtmpfs node", p, m)
		}
	}
	if m := mountAt(rep.Mounts, "/sys"); m == nil || m.FSType != "sysfs" || !hasOpt(m.Options, "ro") {
		t.Errorf("/sys: %+v, want the host's sysfs bound read-only", m)
	}
	// The host's mounts under /sys came along, read-only too.
	n := 0
	for _, m := range rep.Mounts {
		if strings.HasPrefix(m.Mountpoint, "/sys/") && m.Mountpoint != "/sys/firmware" {
			n++
			if !hasOpt(m.Options, "ro") || !hasOpt(m.Options, "nosuid") {
				t.Errorf("%s under the /sys bind: options %s, want ro,nosuid", m.Mountpoint, m.Options)
			}
		}
	}
	if n == 0 {
		t.Error("no mount under /sys: the host's were not rbound")
	}
	m := mountAt(rep.Mounts, "/locked")
	if m == nil {
		t.Fatal("/locked: not mounted")
	}
	for _, o := range []string{"ro", "nosuid", "nodev"} {
		if !hasOpt(m.Options, o) {
			t.Errorf("/locked: options %q lack %s", m.Options, o)
		}
	}
	for p, w := range map[string]string{"/locked/probe": "read-only file system", "/etc/probe": "read-only file system"} {
		if got := rep.Write[p]; got != w {
			t.Errorf("write %s: %q, want %q", p, got, w)
		}
	}
	if got := rep.Read["/proc/timer_list"]; got != "" {
		t.Errorf("masked /proc/timer_list reads %q", got)
	}
}

// TestMountError: a mount the kernel refuses is reported in one line naming
// it: proc cannot be mounted in a user namespace that does not own the PID
// namespace.
func TestMountError(t *testing.T) {
	b := newBundle(t)
	spec := baseSpec()
	rep := runChild(t, &childConfig{Spec: spec, Bundle: b, UserNS: true, NoPID: true})
	if rep.Err != "mount proc on /proc: operation not permitted" {
		t.Errorf("error %q, want %q", rep.Err, "mount proc on /proc: operation not permitted")
	}
	if strings.Contains(rep.Err, "\n") {
		t.Error("error is not one line")
	}
}
