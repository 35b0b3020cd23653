//go:build linux && cgo

package runtime

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocikit/ocikit/cgroups"
	"github.com/ocikit/ocikit/internal/fastjson"
	"github.com/ocikit/ocikit/runtime/nsenter"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// checkFastRecord encodes rec as writeState does and checks what the C
// reader of runtime/nsenter/fast.c makes of it.
func checkFastRecord(t *testing.T, rec *record, wantOK bool, want goFlags) {
	t.Helper()
	data, err := fastjson.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := nsenter.ParseFastRecord(data, rec.State.ID)
	if ok != wantOK {
		t.Fatalf("C reader ok = %v, want %v, for %s", ok, wantOK, data)
	}
	if !ok {
		return
	}
	state, err := rec.State.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	if rec.Cgroup != nil {
		for _, p := range rec.Cgroup.Paths {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	slices.Sort(got.Paths)
	switch {
	case got.Pid != rec.State.Pid, got.InitStart != rec.InitStart, got.Status != string(rec.State.Status),
		got.Hooks != rec.Hooks, got.Other != want.other, got.ExecOther != want.execOther, got.Systemd != want.systemd,
		!slices.Equal(got.Paths, paths):
		t.Errorf("C reader: %+v\nfor %s", got, data)
	case !bytes.Equal(got.State, state):
		t.Errorf("C reader's state object:\n%s\nwant\n%s", got.State, state)
	}
}

// goFlags are what the C reader says is Go's: delete (other), exec
// (execOther); and the systemd driver.
type goFlags struct{ other, execOther, systemd bool }

func fastTestRecord() *record {
	return &record{
		State: State{
			State:  specs.State{Version: specs.Version, ID: "c1", Pid: 4242, Status: specs.StateCreated, Bundle: "/b"},
			Rootfs: "/b/rootfs", Created: time.Date(2026, 12, 5, 1, 2, 3, 4, time.UTC),
		},
		InitStart: 123456,
		OwnPidNS:  true,
	}
}

// TestFastRecord: the C start, delete, kill and state read every record
// the runtime writes, or leave it to Go when it needs Go.
func TestFastRecord(t *testing.T) {
	v1 := &cgroups.State{ID: "c1", CgroupsPath: "/ocikit/c1", Paths: map[string]string{
		"cpu": "/sys/fs/cgroup/cpu/ocikit/c1", "memory": "/sys/fs/cgroup/memory/ocikit/c1",
		"name=systemd": "/sys/fs/cgroup/systemd/ocikit/c1", "": "/sys/fs/cgroup/unified/ocikit/c1",
	}, Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}}
	tests := []struct {
		name   string
		mutate func(*record)
		ok     bool
		want   goFlags
	}{
		{"plain", nil, true, goFlags{}},
		{"no pid", func(r *record) { r.State.Pid = 0; r.State.Status = specs.StateCreating }, true, goFlags{}},
		{"cgroup v1 and hybrid", func(r *record) { r.Cgroup = v1 }, true, goFlags{}},
		{"cgroup v2", func(r *record) {
			r.Cgroup = &cgroups.State{ID: "c1", CgroupsPath: "/ocikit/c1", Paths: map[string]string{"": "/sys/fs/cgroup/ocikit/c1"}}
		}, true, goFlags{}},
		{"systemd", func(r *record) {
			c := *v1
			c.Systemd = true
			r.Cgroup = &c
		}, true, goFlags{other: true, systemd: true}},
		{"rootless", func(r *record) {
			c := *v1
			c.Rootless = true
			r.Cgroup = &c
		}, true, goFlags{other: true, execOther: true}},
		{"rootless systemd", func(r *record) {
			c := *v1
			c.Systemd, c.Rootless = true, true
			r.Cgroup = &c
		}, true, goFlags{other: true, execOther: true, systemd: true}},
		{"hooks", func(r *record) { r.Hooks = true }, true, goFlags{}},
		{"host mounts", func(r *record) { r.HostMounts = &hostMounts{Root: "/b/rootfs", Keep: []int{1, 2}} }, true, goFlags{other: true, execOther: true}},
		{"keyring", func(r *record) { r.NoNewKeyring = true; r.OwnPidNS = false }, true, goFlags{}},
		{"paused", func(r *record) { r.State.Status = StatePaused }, true, goFlags{}},
		{"annotations like fields", func(r *record) {
			r.State.Annotations = map[string]string{"status": "created", `"pid":1,"status":"running"}`: `{"hooks":true}`, "é\u2028<&>": "\\\"\n"}
		}, true, goFlags{}},
		{"owner", func(r *record) { r.State.Owner = "#1000" }, true, goFlags{}},
		{"path with a quote", func(r *record) {
			r.Cgroup = &cgroups.State{ID: "c1", Paths: map[string]string{"": `/sys/fs/cgroup/a"b`}}
		}, false, goFlags{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := fastTestRecord()
			if tc.mutate != nil {
				tc.mutate(rec)
			}
			checkFastRecord(t, rec, tc.ok, tc.want)
		})
	}

	// What the runtime does not write is Go's.
	data, err := fastjson.Marshal(fastTestRecord())
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]string{
		"other id":      string(data),
		"unknown field": strings.Replace(string(data), `"initStart"`, `"later":[1,{"a":"}"}],"initStart"`, 1),
		"whitespace":    strings.Replace(string(data), `,"pid"`, `, "pid"`, 1),
		"trailing":      string(data) + "\n",
		"empty":         "",
		"not an object": "[]",
	} {
		id := "c1"
		if name == "other id" {
			id = "c2"
		}
		if _, ok := nsenter.ParseFastRecord([]byte(in), id); ok {
			t.Errorf("%s: the C reader took %q", name, in)
		}
	}
	for i := range data {
		if _, ok := nsenter.ParseFastRecord(data[:i], "c1"); ok {
			t.Errorf("the C reader took a truncated record: %q", data[:i])
		}
	}
}

// FuzzFastRecord: whatever the runtime writes, the C reader reads the same
// pid, status and state object; whatever bytes it is given, it does not
// crash and takes only a well-formed record.
func FuzzFastRecord(f *testing.F) {
	f.Add("/b", "k", "v", int32(7), uint64(99), false, uint8(1), []byte(`{"state":{}}`))
	f.Add(`/b"\`, "\u2028", "}", int32(0), uint64(0), true, uint8(3), []byte(`{"state":{"ociVersion":"1","id":"c1","pid":1,"status":"created"}}`))
	f.Fuzz(func(t *testing.T, bundle, key, val string, pid int32, start uint64, hooks bool, status uint8, raw []byte) {
		rec := fastTestRecord()
		rec.State.Bundle = bundle
		rec.State.Annotations = map[string]string{key: val}
		rec.State.Pid = int(uint32(pid) >> 1) // a pid is at most 2^31-1
		rec.InitStart = start
		rec.Hooks = hooks
		rec.State.Status = []specs.ContainerState{specs.StateCreating, specs.StateCreated, specs.StateRunning, StatePaused, specs.StateStopped}[status%5]
		checkFastRecord(t, rec, true, goFlags{})
		if r, ok := nsenter.ParseFastRecord(raw, "c1"); ok && (r.Status == "" || strings.Trim(r.Status, "abcdefghijklmnopqrstuvwxyz") != "") {
			t.Errorf("the C reader took %q with status %q", raw, r.Status)
		}
	})
}
