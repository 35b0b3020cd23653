package progress

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/distribution"
	"github.com/ocikit/ocikit/errdefs"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// events is a copy's stream: a layer transferred (and recompressed), a
// config skipped.
func events() []distribution.Event {
	layer := v1.Descriptor{MediaType: v1.MediaTypeImageLayerGzip, Digest: digest.FromString("layer"), Size: 3 << 20}
	out := v1.Descriptor{MediaType: v1.MediaTypeImageLayerZstd, Digest: digest.FromString("zstd"), Size: 2 << 20}
	cfg := v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Digest: digest.FromString("config"), Size: 100}
	return []distribution.Event{
		{Descriptor: cfg, Skipped: true},
		{Descriptor: layer, Phase: distribution.PhaseStart},
		{Descriptor: layer, Phase: distribution.PhaseProgress, Bytes: 1 << 20},
		{Descriptor: layer, Phase: distribution.PhaseProgress, Bytes: 3 << 20},
		{Descriptor: out, Bytes: out.Size, From: layer.Digest},
	}
}

func TestJSON(t *testing.T) {
	var buf bytes.Buffer
	r, err := New(JSON, &buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events() {
		r.Event(e)
	}
	r.Close()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	want := []string{"skipped", "start", "progress", "progress", "done"}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, l := range lines {
		var rec Record
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			t.Fatalf("line %d %q: %v", i, l, err)
		}
		if rec.Event != want[i] || rec.Digest == "" || rec.Size == 0 {
			t.Fatalf("line %d = %+v, want event %s", i, rec, want[i])
		}
	}
	var last Record
	json.Unmarshal([]byte(lines[4]), &last)
	if last.From != string(digest.FromString("layer")) || last.Bytes != 2<<20 {
		t.Fatalf("done of a recompressed layer = %+v", last)
	}
}

func TestPlain(t *testing.T) {
	var buf bytes.Buffer
	r, err := New(Plain, &buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events() {
		r.Event(e)
	}
	r.Close()
	want := "exists " + string(digest.FromString("config")) + " (100 bytes)\ncopied " + string(digest.FromString("zstd")) + " (2097152 bytes)\n"
	if buf.String() != want {
		t.Fatalf("plain output %q, want %q", buf.String(), want)
	}
}

func TestModes(t *testing.T) {
	if r, err := New(None, os.Stderr); r != nil || err != nil {
		t.Fatalf("none = %v, %v", r, err)
	}
	// auto on something that is not a terminal: plain.
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if r, err := New(Auto, f); err != nil {
		t.Fatal(err)
	} else if _, ok := r.(*plain); !ok {
		t.Fatalf("auto on a file = %T, want plain", r)
	}
	if _, err := New("bars", f); !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("unknown mode: %v", err)
	}
}

// TestBars drives the bars (the terminal's rendering itself is mpb's):
// every event of a transfer, and Close with a transfer left unfinished,
// must return.
func TestBars(t *testing.T) {
	var buf bytes.Buffer
	b := newBars(&buf)
	for _, e := range events() {
		b.Event(e)
	}
	b.Event(distribution.Event{Descriptor: v1.Descriptor{Digest: digest.FromString("unfinished"), Size: 10}, Phase: distribution.PhaseStart})
	b.Close()
	if b.total == nil || b.total.Current() != 3<<20 {
		t.Fatalf("total bar at %d", b.total.Current())
	}
	if len(b.blobs) != 0 {
		t.Fatalf("bars left: %d", len(b.blobs))
	}
}
