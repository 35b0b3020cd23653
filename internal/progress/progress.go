// Package progress renders the events of an image copy
// (distribution.Event) for ocikit image copy's --progress: bars on a
// terminal (a bar per blob being transferred and a total), one line per
// blob otherwise, or one JSON object per event for scripts. A Reporter is safe for concurrent use: a copy may transfer
// several blobs at once.
package progress

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/ocikit/ocikit/distribution"
	"github.com/ocikit/ocikit/errdefs"
)

// Modes of --progress.
const (
	Auto  = "auto"  // Bars on a terminal, else Plain
	Plain = "plain" // one line per blob when it is done
	JSON  = "json"  // one JSON object per event
	None  = "none"
)

// Reporter renders a copy's events; pass Event to both
// distribution.WithProgress and distribution.WithProgressBytes. Close
// finishes the rendering (bars of transfers that did not end are dropped).
type Reporter interface {
	Event(distribution.Event)
	Close()
}

// New returns the Reporter of mode writing to w (nil for None). Auto
// draws bars when w is a terminal.
func New(mode string, w io.Writer) (Reporter, error) {
	switch mode {
	case None:
		return nil, nil
	case Plain:
		return &plain{w: w}, nil
	case JSON:
		return &jsonLines{enc: json.NewEncoder(w)}, nil
	case Auto, "":
		if f, ok := w.(*os.File); ok {
			if cols, ok := terminalWidth(f); ok {
				return newBars(w, cols), nil
			}
		}
		return &plain{w: w}, nil
	}
	return nil, fmt.Errorf("progress %q: want auto, plain, json or none: %w", mode, errdefs.ErrInvalid)
}

// plain prints one line per blob when it is done: what `image copy`
// printed before --progress.
type plain struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *plain) Event(e distribution.Event) {
	if e.Phase != distribution.PhaseDone {
		return
	}
	verb := "copied"
	if e.Skipped {
		verb = "exists"
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%s %s (%d bytes)\n", verb, e.Descriptor.Digest, e.Descriptor.Size)
}

func (p *plain) Close() {}

// Record is one line of --progress json.
type Record struct {
	// Event is start, progress, done or skipped.
	Event     string `json:"event"`
	Digest    string `json:"digest"`
	MediaType string `json:"mediaType,omitempty"`
	// Size of the blob; Bytes transferred so far (progress) or in all
	// (done).
	Size  int64 `json:"size"`
	Bytes int64 `json:"bytes"`
	// From: the source blob a recompressed layer was made from (done).
	From string `json:"from,omitempty"`
}

type jsonLines struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (j *jsonLines) Event(e distribution.Event) {
	r := Record{Digest: string(e.Descriptor.Digest), MediaType: e.Descriptor.MediaType, Size: e.Descriptor.Size, Bytes: e.Bytes, From: string(e.From)}
	switch {
	case e.Phase == distribution.PhaseStart:
		r.Event = "start"
	case e.Phase == distribution.PhaseProgress:
		r.Event = "progress"
	case e.Skipped:
		r.Event = "skipped"
	default:
		r.Event = "done"
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	_ = j.enc.Encode(r) // one object and a newline
}

func (j *jsonLines) Close() {}
