package cgroups

import (
	"encoding/json"
	"log/slog"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// FuzzToResources feeds arbitrary linux.resources JSON through the
// translation and the update merge: errors are fine, panics are not.
func FuzzToResources(f *testing.F) {
	f.Add(`{"memory":{"limit":1,"swap":-1},"cpu":{"shares":2,"cpus":"0-1"},"pids":{"limit":-1}}`)
	f.Add(`{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}]}`)
	f.Add(`{"blockIO":{"weightDevice":[{"major":8,"minor":0}]},"hugepageLimits":[{"pageSize":"2MB","limit":1}],"rdma":{"x":{}}}`)
	f.Fuzz(func(t *testing.T, data string) {
		var r specs.LinuxResources
		if json.Unmarshal([]byte(data), &r) != nil {
			return
		}
		log := slog.New(slog.DiscardHandler)
		_, _ = toResources(&r, log)
		_ = wanted(withoutUnset(&r))
		m := merge(&r, &r)
		_, _ = toResources(m, log)
		_ = wanted(m)
	})
}
