package progress

import (
	"fmt"
	"io"
	"sync"

	"github.com/ocikit/ocikit/distribution"
	digest "github.com/opencontainers/go-digest"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// bars draws a bar per blob in transfer, removed when it is done, under a
// total of every byte started.
type bars struct {
	mu    sync.Mutex
	p     *mpb.Progress
	total *mpb.Bar
	sum   int64
	blobs map[digest.Digest]*blobBar
}

type blobBar struct {
	bar  *mpb.Bar
	size int64
	done int64
}

func newBars(w io.Writer) *bars {
	return &bars{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(40)), blobs: map[digest.Digest]*blobBar{}}
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
		if b.total == nil {
			b.total = b.p.New(0, mpb.BarStyle(), mpb.BarPriority(1<<30),
				mpb.PrependDecorators(decor.Name("total        ")),
				mpb.AppendDecorators(decor.CountersKibiByte("% .1f / % .1f")))
		}
		b.sum += e.Descriptor.Size
		b.total.SetTotal(b.sum, false)
		bar := b.p.New(e.Descriptor.Size, mpb.BarStyle(), mpb.BarRemoveOnComplete(),
			mpb.PrependDecorators(decor.Name(short(d)+" ")),
			mpb.AppendDecorators(decor.CountersKibiByte("% .1f / % .1f")))
		b.blobs[d] = &blobBar{bar: bar, size: e.Descriptor.Size}
	case distribution.PhaseProgress:
		if bb, ok := b.blobs[d]; ok {
			b.advance(bb, e.Bytes)
		}
	default:
		if e.Skipped {
			fmt.Fprintf(b.p, "exists %s (%d bytes)\n", e.Descriptor.Digest, e.Descriptor.Size)
			return
		}
		if bb, ok := b.blobs[d]; ok {
			b.advance(bb, bb.size)
			bb.bar.SetTotal(-1, true)
			delete(b.blobs, d)
		}
	}
}

// advance moves a blob's bar, and the total by as much, to n bytes.
func (b *bars) advance(bb *blobBar, n int64) {
	if n <= bb.done {
		return
	}
	b.total.IncrInt64(n - bb.done)
	bb.done = n
	bb.bar.SetCurrent(n)
}

func (b *bars) Close() {
	b.mu.Lock()
	for d, bb := range b.blobs {
		bb.bar.Abort(true)
		delete(b.blobs, d)
	}
	if b.total != nil {
		b.total.SetTotal(-1, true)
	}
	b.mu.Unlock()
	b.p.Wait()
}
