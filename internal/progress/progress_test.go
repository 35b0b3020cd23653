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

// TestBars drives the bars through a transfer and a transfer left
// unfinished, and reads the screen they leave: each drawing goes back up
// over the one before, so the last one (after the last cursor-up) is what
// the terminal shows.
func TestBars(t *testing.T) {
	var buf bytes.Buffer
	b := newBars(&buf, 200)
	for _, e := range events() {
		b.Event(e)
	}
	unfinished := digest.FromString("unfinished")
	b.Event(distribution.Event{Descriptor: v1.Descriptor{Digest: unfinished, Size: 10}, Phase: distribution.PhaseStart})
	if !strings.Contains(screen(buf.String()), short(unfinished)+" ") {
		t.Fatalf("no bar for the transfer in progress: %q", buf.String())
	}
	b.Close()
	out := buf.String()
	if !strings.Contains(out, "exists "+string(digest.FromString("config"))+" (100 bytes)\n") {
		t.Errorf("no line for the skipped config: %q", out)
	}
	want := "\x1b[2Ktotal        [" + strings.Repeat("=", barWidth-1) + ">] 3.0 MiB / 3.0 MiB\n\x1b[J"
	if got := screen(out); got != want {
		t.Fatalf("last drawing %q, want the total alone, %q", got, want)
	}
	if len(b.blobs) != 0 || len(b.order) != 0 {
		t.Fatalf("bars left: %d", len(b.blobs))
	}
}

// screen is the last drawing of the bars' output.
func screen(out string) string {
	if i := strings.LastIndex(out, "\x1b["); i >= 0 {
		if j := strings.LastIndex(out[:i], "A"); j >= 0 && strings.LastIndex(out[:j], "\x1b[") >= 0 {
			return out[j+1:]
		}
	}
	return out
}

func TestBarLines(t *testing.T) {
	tests := []struct {
		cols       int
		done, size int64
		want       string
	}{
		{200, 0, 0, "x            [>" + strings.Repeat(" ", barWidth-1) + "] 0 B / 0 B"},
		{200, 512, 1024, "x            [" + strings.Repeat("=", barWidth/2) + ">" + strings.Repeat(" ", barWidth/2-1) + "] 512 B / 1.0 KiB"},
		{200, 3 << 30, 3 << 30, "x            [" + strings.Repeat("=", barWidth) + "] 3.0 GiB / 3.0 GiB"},
		{20, 1, 2, "x            [====="}, // cut to the width less one: no wrap
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		(&bars{cols: tt.cols}).line(&buf, "x", tt.done, tt.size)
		if want := "\x1b[2K" + tt.want + "\n"; buf.String() != want {
			t.Errorf("line(%d/%d, %d cols) = %q, want %q", tt.done, tt.size, tt.cols, buf.String(), want)
		}
	}
}
