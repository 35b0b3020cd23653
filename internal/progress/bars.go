package progress

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/ocikit/ocikit/distribution"
	digest "github.com/opencontainers/go-digest"
)

// bars draws a bar per blob in transfer, removed when it is done, above a
// total of every byte started, redrawn in place (cursor up, erase) at
// most every redrawEvery and at every start and end of a blob. Lines
// about skipped blobs are printed above the bars.
//
// It is drawn by hand with three ANSI sequences rather than by a progress
// library: the one used before (mpb) brought four dependencies whose
// package initialisation (a regular expression, width tables) ran in
// every ocikit process, the container runtime's included.
type bars struct {
	mu    sync.Mutex
	w     io.Writer
	cols  int // the terminal's width: longer lines are cut, wrapping would break the redraw
	blobs map[digest.Digest]*blobBar
	order []digest.Digest // bars in the order their blobs started
	sum   int64           // bytes of every blob started
	done  int64           // bytes transferred
	total bool            // the total is drawn (a blob has started)
	lines int             // lines drawn last, to go back up over
	drawn time.Time
}

type blobBar struct {
	size int64
	done int64
}

// redrawEvery limits redraws for progress events.
const redrawEvery = 100 * time.Millisecond

// barWidth is the bar's cells between its brackets.
const barWidth = 38

func newBars(w io.Writer, cols int) *bars {
	return &bars{w: w, cols: cols, blobs: map[digest.Digest]*blobBar{}}
}

func short(d digest.Digest) string {
	if e := d.Encoded(); len(e) > 12 {
		return e[:12]
	}
	return string(d)
}

func (b *bars) Event(e distribution.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d := e.Source()
	switch e.Phase {
	case distribution.PhaseStart:
		if _, ok := b.blobs[d]; ok {
			return
		}
		b.total = true
		b.sum += e.Descriptor.Size
		b.blobs[d] = &blobBar{size: e.Descriptor.Size}
		b.order = append(b.order, d)
		b.draw("")
	case distribution.PhaseProgress:
		if bb, ok := b.blobs[d]; ok {
			b.advance(bb, e.Bytes)
			if time.Since(b.drawn) >= redrawEvery {
				b.draw("")
			}
		}
	default:
		if e.Skipped {
			b.draw(fmt.Sprintf("exists %s (%d bytes)", e.Descriptor.Digest, e.Descriptor.Size))
			return
		}
		if bb, ok := b.blobs[d]; ok {
			b.advance(bb, bb.size)
			b.remove(d)
			b.draw("")
		}
	}
}

// advance moves a blob's bar, and the total by as much, to n bytes.
func (b *bars) advance(bb *blobBar, n int64) {
	if n <= bb.done {
		return
	}
	b.done += n - bb.done
	bb.done = n
}

func (b *bars) remove(d digest.Digest) {
	delete(b.blobs, d)
	for i, o := range b.order {
		if o == d {
			b.order = append(b.order[:i], b.order[i+1:]...)
			break
		}
	}
}

// draw goes back up over the last drawing, prints msg (when not empty) as
// a line that stays, then the bars and the total, and erases what is
// left below of a longer drawing.
func (b *bars) draw(msg string) {
	var buf bytes.Buffer
	if b.lines > 0 {
		fmt.Fprintf(&buf, "\x1b[%dA", b.lines)
	}
	b.lines = 0
	if msg != "" {
		buf.WriteString("\x1b[2K" + msg + "\n")
	}
	for _, d := range b.order {
		bb := b.blobs[d]
		b.line(&buf, short(d), bb.done, bb.size)
	}
	if b.total {
		b.line(&buf, "total", b.done, b.sum)
	}
	buf.WriteString("\x1b[J")
	b.w.Write(buf.Bytes())
	b.drawn = time.Now()
}

// line writes one bar: name, the bar, transferred and total sizes.
func (b *bars) line(buf *bytes.Buffer, name string, done, size int64) {
	filled := 0
	if size > 0 {
		filled = int(min(done, size) * barWidth / size)
	}
	bar := strings.Repeat("=", filled)
	if filled < barWidth {
		bar += ">" + strings.Repeat(" ", barWidth-filled-1)
	}
	s := fmt.Sprintf("%-12s [%s] %s / %s", name, bar, kib(done), kib(size))
	if b.cols > 1 && len(s) >= b.cols {
		s = s[:b.cols-1]
	}
	buf.WriteString("\x1b[2K" + s + "\n")
	b.lines++
}

// kib prints a size in binary units, as "1.5 MiB".
func kib(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	f, u := float64(n), 0
	for f >= 1024 && u < len(units)-1 {
		f /= 1024
		u++
	}
	if u == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", f, units[u])
}

// Close draws the bars a last time, without the transfers that did not
// end; the total stays as the last line.
func (b *bars) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.order) > 0 {
		b.remove(b.order[0])
	}
	if b.lines > 0 || b.total {
		b.draw("")
	}
}
