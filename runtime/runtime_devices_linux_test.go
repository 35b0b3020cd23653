package runtime_test

import (
	"os"
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
