package runtime

import "github.com/ocikit/ocikit/cgroups"

// Event is one event of a container as `runc events` prints it, one JSON
// object a line: {"type":"stats","id":ID,"data":{...}} or
// {"type":"oom","id":ID}.
type Event struct {
	// Type is "stats" or "oom".
	Type string `json:"type"`
	ID   string `json:"id"`
	// Data holds the statistics of a "stats" event.
	Data *cgroups.Stats `json:"data,omitempty"`
}
