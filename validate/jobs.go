package validate

import (
	"path/filepath"
	"runtime"
	"sync"

	"github.com/klauspost/compress/gzip"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// A blobJob is an opaque blob (a layer, or content of a media type this
// validator does not parse) met during the walk. Reading and hashing such
// blobs is most of the work on real images, so it is done after the walk,
// one blob per CPU at a time; the problems found are then put back where
// the walk met the descriptor, so the report reads in walk order.
type blobJob struct {
	l        loc
	d        v1.Descriptor
	r        role
	contents bool          // decompress and check the tar stream (WithLayerContents)
	want     digest.Digest // the config's diff_id for this layer, if known
	slot     int           // len(Report.Problems) when queued
	out      []Problem
}

// queue records an opaque blob to check; nil when its digest cannot name a
// file (already reported).
func (w *walker) queue(l loc, d v1.Descriptor, r role) *blobJob {
	if !checkable(d.Digest) {
		return nil
	}
	j := &blobJob{l: l, d: d, r: r, slot: len(w.r.Problems)}
	w.jobs = append(w.jobs, j)
	return j
}

// queueUnreferenced queues the blobs present in blobs/ that neither the
// walk read nor a job names (WithAllBlobs).
func (w *walker) queueUnreferenced(present []digest.Digest) {
	queued := map[digest.Digest]bool{}
	for _, j := range w.jobs {
		queued[j.d.Digest] = true
	}
	for _, d := range present {
		if b := w.blobs[d]; (b != nil && b.checked) || queued[d] {
			continue
		}
		queued[d] = true
		w.queue(rootLoc(blobFile(d)), v1.Descriptor{Digest: d}, roleUnreferenced)
	}
}

// blobWork is one distinct blob to read for the queued jobs.
type blobWork struct {
	d        digest.Digest
	path     string
	contents bool
	alg      digest.Algorithm
	read     blobRead
	layer    *layerContents
}

// runJobs reads the queued blobs in parallel, then checks each job in
// queue order and splices its problems into the report.
func (w *walker) runJobs() {
	if len(w.jobs) == 0 {
		return
	}
	byDigest := map[digest.Digest]*blobWork{}
	var work []*blobWork
	for _, j := range w.jobs {
		b := w.blobs[j.d.Digest]
		needContents := j.contents && wantCompression(j.d.MediaType) != ""
		if b != nil && b.checked && (!needContents || b.layer != nil || !b.exists || !b.digestOK) {
			continue
		}
		wk := byDigest[j.d.Digest]
		if wk == nil {
			wk = &blobWork{d: j.d.Digest, path: filepath.Join(w.dir, filepath.FromSlash(blobFile(j.d.Digest)))}
			byDigest[j.d.Digest] = wk
			work = append(work, wk)
		}
		if needContents && !wk.contents {
			wk.contents, wk.alg = true, diffIDAlgorithm(j.want)
		}
	}
	if len(work) > 0 {
		n := min(runtime.GOMAXPROCS(0), len(work))
		ch := make(chan *blobWork)
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 256<<10)
				var gz *gzip.Reader
				for wk := range ch {
					if w.ctx.Err() != nil {
						continue
					}
					wk.read = readBlob(wk.path, wk.d, false, buf)
					if wk.contents && wk.read.hashed && wk.read.digestOK && !wk.read.unverifiable {
						wk.layer = readLayerContents(wk.path, wk.alg, &gz, buf)
					}
				}
			}()
		}
		for _, wk := range work {
			ch <- wk
		}
		close(ch)
		wg.Wait()
		if w.ctx.Err() != nil {
			return
		}
		for _, wk := range work {
			b := w.blobs[wk.d]
			if b == nil {
				b = &blobState{}
				w.blobs[wk.d] = b
			}
			if !b.checked {
				w.store(b, wk.d, wk.read)
			}
			if wk.layer != nil && b.layer == nil {
				b.layer = wk.layer
			}
		}
	}
	for _, j := range w.jobs {
		mark := len(w.r.Problems)
		w.finishJob(j)
		j.out = append([]Problem(nil), w.r.Problems[mark:]...)
		w.r.Problems = w.r.Problems[:mark]
	}
	// Splice: the jobs were queued in walk order, so their slots ascend.
	old := w.r.Problems
	merged := make([]Problem, 0, len(old))
	ji := 0
	for i := 0; i <= len(old); i++ {
		for ji < len(w.jobs) && w.jobs[ji].slot == i {
			merged = append(merged, w.jobs[ji].out...)
			ji++
		}
		if i < len(old) {
			merged = append(merged, old[i])
		}
	}
	w.r.Problems = merged
	w.jobs = nil
}

// finishJob reports on one queued blob, now read.
func (w *walker) finishJob(j *blobJob) {
	b := w.blob(j.d.Digest, false) // already read: returns the state
	if j.r == roleUnreferenced {
		file := blobFile(j.d.Digest)
		switch {
		case b.readErr != nil && !b.reported:
			b.reported = true
			w.errorf(j.l, file, clauseLayoutBlobs, "cannot read blob: %v", b.readErr)
		case b.exists && !b.digestOK && !b.reported:
			b.reported = true
			w.errorf(j.l, file, clauseLayoutBlobs, "content of %s does not match its digest", file)
		}
		return
	}
	if _, ok := w.blobProblems(j.l, j.d, j.r, b); !ok {
		return
	}
	if j.r != roleLayer {
		return
	}
	w.r.Checked.Layers++
	w.checkLayerContent(j.l, blobFile(j.d.Digest), j.d, b)
	if j.contents {
		w.checkLayer(j.l, j.d, j.want)
	}
}
