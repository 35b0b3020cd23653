package runtime_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestListedDeviceAccess: an entry of linux.devices creates the node
// (config-linux.md "Devices"); whether the container may open it is
// decided by linux.resources.devices and the default devices alone, as
// with runc. So under a deny-all list a listed /dev/kmsg cannot be opened
// for writing while /dev/null can, and an allow rule for it opens it.
func TestListedDeviceAccess(t *testing.T) {
	e := newEnv(t)
	probe := `test -c /dev/kmsg && echo node; ` +
		`if (: >/dev/kmsg) 2>/dev/null; then echo kmsg-writable; else echo kmsg-denied; fi; ` +
		`if (: >/dev/null) 2>/dev/null; then echo null-writable; else echo null-denied; fi`
	for _, tc := range []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		want  string
	}{
		{"deny all", []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}, "node\nkmsg-denied\nnull-writable\n"},
		{"allowed by a rule", []specs.LinuxDeviceCgroup{
			{Allow: false, Access: "rwm"},
			{Allow: true, Type: "c", Major: ptrInt64(1), Minor: ptrInt64(11), Access: "w"},
		}, "node\nkmsg-writable\nnull-writable\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.sub(t)
			bundle := e.bundle([]string{"sh", "-c", probe}, func(s *specs.Spec) {
				mode := os.FileMode(0o666)
				s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/kmsg", Type: "c", Major: 1, Minor: 11, FileMode: &mode}}
				s.Linux.Resources = &specs.LinuxResources{Devices: tc.rules}
			})
			if out := e.must("run", "--bundle", bundle, e.id("dev")); out != tc.want {
				t.Errorf("output %q, want %q", out, tc.want)
			}
		})
	}
}

func ptrInt64(v int64) *int64 { return &v }

// TestSmallPidsLimit: a pids limit smaller than the threads of ocikit's own
// (Go) init still runs the container, as with runc (`docker run
// --pids-limit 1`), and binds the container's program: with room for one
// task the shell cannot fork (busybox sh then exits 2). 0 is a limit too
// (config-linux.md "PIDs"), written as 1 as the library and systemd do.
func TestSmallPidsLimit(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		limit int64
		out   string
		fork  bool
	}{
		{0, "up\n", false},
		{1, "up\n", false},
		{3, "up\nforked\n", true},
	} {
		t.Run(fmt.Sprint(tc.limit), func(t *testing.T) {
			e := e.sub(t)
			bundle := e.bundle([]string{"sh", "-c", "echo up; (true); echo forked"}, func(s *specs.Spec) {
				s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptrInt64(tc.limit)}}
			})
			out, stderr, err := e.run("run", "--bundle", bundle, e.id("pids"))
			if out != tc.out {
				t.Errorf("pids.limit %d: output %q, want %q (%v, stderr %.300q)", tc.limit, out, tc.out, err, stderr)
			}
			if tc.fork && err != nil {
				t.Errorf("pids.limit %d: %v (stderr %.300q)", tc.limit, err, stderr)
			}
			if !tc.fork && (exitStatus(err) != 2 || !strings.Contains(stderr, "can't fork")) {
				t.Errorf("pids.limit %d: %v, stderr %.300q; want the shell's \"can't fork\" and status 2", tc.limit, err, stderr)
			}
		})
	}
}

func exitStatus(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// A cgroup the kernel refuses (made while the init starts, see
// launchC), or a cgroupsPath the manager refuses (checked while the init
// starts), fails create and leaves no cgroup or state behind.
func TestCgroupFailureLeavesNothing(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"cpus", "mems", "path"} {
		t.Run(name, func(t *testing.T) {
			e := e.sub(t)
			bundle := e.bundle([]string{"true"}, func(s *specs.Spec) {
				switch name {
				case "cpus":
					s.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "4095"}}
				case "mems":
					s.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{Mems: "1023"}}
				case "path":
					s.Linux.CgroupsPath = "/ocikit/../escape"
				}
			})
			id := e.id("cgfail")
			_, stderr, err := e.run("run", "--bundle", bundle, id)
			if err == nil {
				t.Fatalf("run with an impossible %s limit succeeded", name)
			}
			if !strings.Contains(stderr, "cgroup") {
				t.Errorf("error %q does not name the cgroup", stderr)
			}
			if cgroupExists(id) {
				t.Errorf("cgroup of %s left behind", id)
			}
			if _, err := os.Stat(e.root + "/" + id); !os.IsNotExist(err) {
				t.Errorf("state directory of %s left behind (%v)", id, err)
			}
		})
	}
}
