package cgroups

import (
	"encoding/json"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestStateJSON: a decoded State keeps its resources as JSON until a
// Manager needs them, and encodes to the same bytes as the fully decoded
// State (field order included) before and after they are decoded.
func TestStateJSON(t *testing.T) {
	limit, shares := int64(10), uint64(512)
	for _, tc := range []struct {
		name string
		st   State
	}{
		{"resources", State{ID: "c", CgroupsPath: "/ocikit/c", Rootless: true,
			Paths: map[string]string{"pids": "/sys/fs/cgroup/pids/ocikit/c", "cpu": "/sys/fs/cgroup/cpu/ocikit/c"},
			Resources: &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}, CPU: &specs.LinuxCPU{Shares: &shares},
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}}},
		{"no resources", State{ID: "c", CgroupsPath: "/ocikit/c", Paths: map[string]string{"": "/sys/fs/cgroup/ocikit/c"}}},
		{"empty resources", State{ID: "c", Systemd: true, CgroupsPath: "system.slice:ocikit:c", Resources: &specs.LinuxResources{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := json.Marshal(plainState(tc.st))
			if err != nil {
				t.Fatal(err)
			}
			var st State
			if err := json.Unmarshal(want, &st); err != nil {
				t.Fatal(err)
			}
			if st.Resources != nil {
				t.Errorf("resources decoded with the state: %+v", st.Resources)
			}
			if got, err := json.Marshal(st); err != nil || string(got) != string(want) {
				t.Errorf("encoded again:\n%s (%v)\nwant\n%s", got, err, want)
			}
			// A copy (Manager.State, Load) carries them too.
			cp := st
			if err := cp.decodeResources(); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cp.Resources, tc.st.Resources) {
				t.Errorf("decoded resources %+v, want %+v", cp.Resources, tc.st.Resources)
			}
			if got, err := json.Marshal(cp); err != nil || string(got) != string(want) {
				t.Errorf("encoded after decoding the resources:\n%s (%v)\nwant\n%s", got, err, want)
			}
			// Decoding again replaces what an earlier decode left.
			if err := json.Unmarshal([]byte(`{"id":"d","paths":{}}`), &cp); err != nil {
				t.Fatal(err)
			}
			if cp.Resources != nil || cp.rawResources != nil {
				t.Errorf("resources left from an earlier decode: %+v %s", cp.Resources, cp.rawResources)
			}
		})
	}
}
