package cgroups

import (
	"encoding/json"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestWithoutUnset: every linux.resources field whose zero (or false, or
// -1 in an unsigned field) runc 1.1.5 leaves alone, checked against runc
// itself on the development host (run with the value, read the cgroup
// file), and the fields where zero is a value.
func TestWithoutUnset(t *testing.T) {
	tests := []struct {
		name     string
		in, want string // linux.resources as JSON
	}{
		{"nil", `null`, `null`},
		{"empty", `{}`, `{}`},
		// Docker 20.10's config for `docker run` without limits.
		{"docker defaults",
			`{"devices":[{"allow":false,"access":"rwm"}],"memory":{"disableOOMKiller":false},"cpu":{"shares":0},"blockIO":{"weight":0}}`,
			`{"devices":[{"allow":false,"access":"rwm"}],"memory":{},"cpu":{},"blockIO":{}}`},
		{"memory zeros", `{"memory":{"limit":0,"reservation":0,"swap":0,"kernel":0,"kernelTCP":0,"checkBeforeUpdate":false}}`, `{"memory":{}}`},
		{"memory values", `{"memory":{"limit":-1,"reservation":1,"swap":-1,"kernelTCP":1,"disableOOMKiller":true,"checkBeforeUpdate":true,"useHierarchy":false}}`,
			`{"memory":{"limit":-1,"reservation":1,"swap":-1,"kernelTCP":1,"disableOOMKiller":true,"checkBeforeUpdate":true,"useHierarchy":false}}`},
		{"swappiness -1", `{"memory":{"swappiness":18446744073709551615}}`, `{"memory":{}}`},
		{"swappiness 0 is a value", `{"memory":{"swappiness":0}}`, `{"memory":{"swappiness":0}}`},
		{"swappiness 101 left to be refused", `{"memory":{"swappiness":101}}`, `{"memory":{"swappiness":101}}`},
		{"cpu zeros", `{"cpu":{"shares":0,"quota":0,"period":0,"realtimeRuntime":0,"realtimePeriod":0,"cpus":"","mems":""}}`, `{"cpu":{}}`},
		{"cpu values", `{"cpu":{"shares":2,"quota":-1,"period":1000,"realtimeRuntime":-1,"realtimePeriod":1,"cpus":"0","mems":"0"}}`,
			`{"cpu":{"shares":2,"quota":-1,"period":1000,"realtimeRuntime":-1,"realtimePeriod":1,"cpus":"0","mems":"0"}}`},
		{"cpu burst and idle 0 are values", `{"cpu":{"burst":0,"idle":0}}`, `{"cpu":{"burst":0,"idle":0}}`},
		{"pids 0 is a limit (spec)", `{"pids":{"limit":0}}`, `{"pids":{"limit":0}}`},
		{"blkio zeros", `{"blockIO":{"weight":0,"leafWeight":0,"weightDevice":[{"major":8,"minor":0,"weight":0,"leafWeight":0},{"major":8,"minor":16}]}}`,
			`{"blockIO":{"weightDevice":[]}}`},
		{"blkio device weights", `{"blockIO":{"weightDevice":[{"major":8,"minor":0,"weight":0,"leafWeight":10},{"major":8,"minor":16,"weight":20}]}}`,
			`{"blockIO":{"weightDevice":[{"major":8,"minor":0,"leafWeight":10},{"major":8,"minor":16,"weight":20}]}}`},
		{"throttle rate 0 removes a limit", `{"blockIO":{"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":0}]}}`,
			`{"blockIO":{"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":0}]}}`},
		{"network", `{"network":{"classID":0,"priorities":[{"name":"lo","priority":0}]}}`, `{"network":{"priorities":[{"name":"lo","priority":0}]}}`},
		{"hugetlb limit 0 is a limit", `{"hugepageLimits":[{"pageSize":"2MB","limit":0}]}`, `{"hugepageLimits":[{"pageSize":"2MB","limit":0}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var in, want *specs.LinuxResources
			if err := json.Unmarshal([]byte(tc.in), &in); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
				t.Fatal(err)
			}
			before, _ := json.Marshal(in)
			got := withoutUnset(in)
			if !reflect.DeepEqual(got, want) {
				g, _ := json.Marshal(got)
				t.Errorf("withoutUnset(%s)\n got %s\nwant %s", tc.in, g, tc.want)
			}
			if after, _ := json.Marshal(in); string(after) != string(before) {
				t.Errorf("input modified: %s, was %s", after, before)
			}
		})
	}
}
