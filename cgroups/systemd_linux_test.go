package cgroups

import (
	"errors"
	"reflect"
	"testing"

	"github.com/godbus/dbus/v5"
)

// TestSystemdProps: org.systemd.property.* annotations become unit
// properties as runc makes them (GVariant text values, *Sec in seconds
// converted to *USec in microseconds).
func TestSystemdProps(t *testing.T) {
	tests := []struct {
		name string
		ann  map[string]string
		want map[string]any // property -> Go value of the variant
		bad  bool
	}{
		{"none", map[string]string{"other": "x"}, map[string]any{"CollectMode": "inactive-or-failed"}, false},
		{"string", map[string]string{"org.systemd.property.CollectMode": "'inactive'"}, map[string]any{"CollectMode": "inactive"}, false},
		{"bool", map[string]string{"org.systemd.property.SendSIGHUP": "true"}, map[string]any{"SendSIGHUP": true}, false},
		{"sec to usec", map[string]string{"org.systemd.property.TimeoutStopSec": "uint64 5"}, map[string]any{"TimeoutStopUSec": uint64(5000000)}, false},
		{"int sec", map[string]string{"org.systemd.property.RuntimeMaxSec": "int32 2"}, map[string]any{"RuntimeMaxUSec": uint64(2000000)}, false},
		{"float sec", map[string]string{"org.systemd.property.TimeoutStopSec": "1.5"}, map[string]any{"TimeoutStopUSec": uint64(1500000)}, false},
		{"usec kept", map[string]string{"org.systemd.property.TimeoutStopUSec": "uint64 7"}, map[string]any{"TimeoutStopUSec": uint64(7)}, false},
		{"negative sec", map[string]string{"org.systemd.property.TimeoutStopSec": "int32 -1"}, nil, true},
		{"sec not a number", map[string]string{"org.systemd.property.TimeoutStopSec": "'x'"}, nil, true},
		{"bad name", map[string]string{"org.systemd.property.Foo_Bar": "true"}, nil, true},
		{"short name", map[string]string{"org.systemd.property.Ab": "true"}, nil, true},
		{"bad value", map[string]string{"org.systemd.property.CollectMode": "inactive"}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			props, err := systemdProps(tc.ann)
			if tc.bad {
				if !errors.Is(err, ErrInvalidResources) {
					t.Fatalf("got %v, want ErrInvalidResources", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]any{}
			if _, ok := tc.want["CollectMode"]; !ok {
				tc.want["CollectMode"] = "inactive-or-failed"
			}
			for _, p := range props {
				got[p.Name] = p.Value.Value()
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestIsUnitExists(t *testing.T) {
	err := dbus.Error{Name: "org.freedesktop.systemd1.UnitExists", Body: []any{"Unit x.scope already exists."}}
	if !isUnitExists(errors.Join(errors.New("unable to start unit"), err)) {
		t.Error("UnitExists not recognised")
	}
	if isUnitExists(dbus.Error{Name: "org.freedesktop.systemd1.NoSuchUnit"}) || isUnitExists(errors.New("x")) {
		t.Error("other errors taken for UnitExists")
	}
}
