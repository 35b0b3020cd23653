package runtime

import (
	"encoding/json"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestStateMarshalJSON: State's hand-written encoding is byte for byte
// what encoding/json writes for a struct of runc's fields in runc's
// order, escaping (HTML characters, U+2028, invalid UTF-8) included.
func TestStateMarshalJSON(t *testing.T) {
	ref := func(s State) ([]byte, error) {
		return json.Marshal(struct {
			Version     string               `json:"ociVersion"`
			ID          string               `json:"id"`
			Pid         int                  `json:"pid"`
			Status      specs.ContainerState `json:"status"`
			Bundle      string               `json:"bundle"`
			Rootfs      string               `json:"rootfs"`
			Created     time.Time            `json:"created"`
			Annotations map[string]string    `json:"annotations,omitempty"`
			Owner       string               `json:"owner"`
		}{s.Version, s.ID, s.Pid, s.Status, s.Bundle, s.Rootfs, s.Created, s.Annotations, s.Owner})
	}
	created := time.Date(2026, 12, 5, 10, 30, 59, 581450789, time.UTC)
	for _, tc := range []struct {
		name string
		s    State
	}{
		{"zero", State{}},
		{"running", State{State: specs.State{Version: specs.Version, ID: "c1", Status: specs.StateRunning, Pid: 4242, Bundle: "/b"},
			Rootfs: "/b/rootfs", Created: created}},
		{"stopped, pid 0", State{State: specs.State{Version: specs.Version, ID: "c", Status: specs.StateStopped}, Created: created}},
		{"annotations", State{State: specs.State{ID: "c", Annotations: map[string]string{"z": "1", "a": "<&>", "m": ""}}, Owner: "alice"}},
		{"empty annotations", State{State: specs.State{ID: "c", Annotations: map[string]string{}}}},
		{"escapes", State{State: specs.State{ID: "a\"b\\c", Bundle: "/x<y>&z\u2028\u2029\t\n\x01", Pid: -1},
			Rootfs: "bad\xffutf8 é 日本", Owner: "#1000", Created: created.In(time.FixedZone("X", 3600))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := ref(tc.s)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tc.s.MarshalJSON()
			if err != nil || string(got) != string(want) {
				t.Errorf("MarshalJSON:\n%s (%v)\nwant\n%s", got, err, want)
			}
			// As a field and through an Encoder (the state command).
			if got, err := json.Marshal(struct{ S State }{tc.s}); err != nil || string(got) != `{"S":`+string(want)+`}` {
				t.Errorf("as a field: %s (%v)", got, err)
			}
		})
	}
	if _, err := (State{Created: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}).MarshalJSON(); err == nil {
		t.Error("a year past 9999 encoded without error, as encoding/json refuses it")
	}
}
