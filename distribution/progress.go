package distribution

import (
	"io"
	"os"

	"github.com/ocikit/ocikit/content"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Phase is what an Event reports.
type Phase int

const (
	// PhaseDone: a blob is in place at the destination (or was there:
	// Skipped). WithProgress's events.
	PhaseDone Phase = iota
	// PhaseStart: a blob's transfer starts (WithProgressBytes).
	PhaseStart
	// PhaseProgress: Bytes of the blob have been read from the source
	// (WithProgressBytes).
	PhaseProgress
)

// WithProgressBytes calls fn as each blob's transfer starts and as its
// bytes stream (every 1% of the blob, at least every 256 KiB, and at its
// end), for progress bars: Start and Progress events, of the source
// blob's descriptor. fn may be called from several goroutines.
func WithProgressBytes(fn func(Event)) Option { return func(o *options) { o.progressBytes = fn } }

// minStep is the fewest bytes between two Progress events of a blob.
const minStep = 256 << 10

// track announces the transfer of d and returns r counting what is read
// from it, when WithProgressBytes asked for it.
func (c *copier) track(d v1.Descriptor, r io.Reader) io.Reader { return c.trackFrom(d, r, 0) }

// trackFrom is track for a transfer that starts at byte off (a resumed
// download): progress counts from there.
func (c *copier) trackFrom(d v1.Descriptor, r io.Reader, off int64) io.Reader {
	fn := c.o.progressBytes
	if fn == nil {
		return r
	}
	fn(Event{Descriptor: d, Phase: PhaseStart})
	step := d.Size / 100
	if step < minStep {
		step = minStep
	}
	cr := &countingReader{r: r, d: d, fn: fn, step: step, n: off, last: off}
	if vr, ok := r.(content.VerifiedReader); ok {
		// Keep the marker, so the destination still skips a second hash.
		return verifiedCountingReader{cr, vr.Verifies()}
	}
	return cr
}

// verifiedCountingReader counts a content.VerifiedReader and is one itself.
type verifiedCountingReader struct {
	*countingReader
	verifies v1.Descriptor
}

func (r verifiedCountingReader) Verifies() v1.Descriptor { return r.verifies }

type countingReader struct {
	r        io.Reader
	d        v1.Descriptor
	fn       func(Event)
	n, last  int64
	step     int64
	finished bool
}

// BlobFile passes on the source's file (readCloser.BlobFile).
func (cr *countingReader) BlobFile() *os.File {
	if bf, ok := cr.r.(interface{ BlobFile() *os.File }); ok {
		return bf.BlobFile()
	}
	return nil
}

func (cr *countingReader) Read(p []byte) (int, error) {
	n, err := cr.r.Read(p)
	cr.n += int64(n)
	if n > 0 && (cr.n-cr.last >= cr.step || cr.n == cr.d.Size) && !cr.finished {
		cr.last = cr.n
		cr.finished = cr.n == cr.d.Size
		cr.fn(Event{Descriptor: cr.d, Phase: PhaseProgress, Bytes: cr.n})
	}
	return n, err
}

// Source is the digest of the source blob e is about: From for a
// recompressed layer's Done event, else the descriptor's, so that every
// event of one transfer names the same digest.
func (e Event) Source() digest.Digest {
	if e.From != "" {
		return e.From
	}
	return e.Descriptor.Digest
}
