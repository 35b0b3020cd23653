package cgroups

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/ocikit/ocikit/internal/fastjson"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestStateJSON: the runtime writes and reads a State inside its state
// record with fastjson; the bytes are encoding/json's, and a State
// decoded by either comes back equal, resources included.
func TestStateJSON(t *testing.T) {
	limit, shares, weight := int64(10), uint64(512), uint16(300)
	major, minor := int64(8), int64(0)
	for _, tc := range []struct {
		name string
		st   State
	}{
		{"resources", State{ID: "c", CgroupsPath: "/ocikit/c", Rootless: true,
			Paths: map[string]string{"pids": "/sys/fs/cgroup/pids/ocikit/c", "cpu": "/sys/fs/cgroup/cpu/ocikit/c"},
			Resources: &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}, CPU: &specs.LinuxCPU{Shares: &shares},
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}}},
		{"block devices", State{ID: "c", CgroupsPath: "/ocikit/c", Paths: map[string]string{"blkio": "/sys/fs/cgroup/blkio/ocikit/c"},
			Resources: &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: &weight,
				WeightDevice: []specs.LinuxWeightDevice{{Weight: &weight}}}}}},
		{"no resources", State{ID: "c", CgroupsPath: "/ocikit/c", Paths: map[string]string{"": "/sys/fs/cgroup/ocikit/c"}}},
		{"empty resources", State{ID: "c", Systemd: true, CgroupsPath: "system.slice:ocikit:c", Resources: &specs.LinuxResources{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.st.Resources != nil && tc.st.Resources.BlockIO != nil {
				d := &tc.st.Resources.BlockIO.WeightDevice[0]
				d.Major, d.Minor = major, minor
			}
			want, err := json.Marshal(tc.st)
			if err != nil {
				t.Fatal(err)
			}
			got, err := fastjson.Marshal(tc.st)
			if err != nil || string(got) != string(want) {
				t.Errorf("fastjson:\n%s (%v)\nencoding/json:\n%s", got, err, want)
			}
			var fast, slow State
			if err := fastjson.Unmarshal(want, &fast); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(want, &slow); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(fast, tc.st) || !reflect.DeepEqual(slow, tc.st) {
				t.Errorf("decoded\n%+v (fastjson)\n%+v (encoding/json)\nwant %+v", fast, slow, tc.st)
			}
		})
	}
}
