package layout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ocikit/ocikit/internal/fsutil"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// GCReport says what GC removed (or, with GCDryRun, would remove).
type GCReport struct {
	DryRun       bool
	Kept         int             // referenced blobs present
	Removed      []digest.Digest // unreferenced blobs
	RemovedBytes int64
	TempFiles    []string // stale temporary files, relative to the layout
	TempBytes    int64
}

// Verb names what the GC did, for a report: "removed", or "would remove"
// on a dry run.
func (r *GCReport) Verb() string { return GCVerb(r.DryRun) }

// GCVerb is GCReport.Verb for a GC that is (or is not) a dry run.
func GCVerb(dryRun bool) string {
	if dryRun {
		return "would remove"
	}
	return "removed"
}

// Print writes the report as `image gc` shows it: on a dry run, a line
// for each blob and temporary file it would remove; then one line of
// totals.
func (r *GCReport) Print(w io.Writer) error {
	verb := r.Verb()
	if r.DryRun {
		for _, d := range r.Removed {
			if _, err := fmt.Fprintf(w, "%s blob %s\n", verb, d); err != nil {
				return err
			}
		}
		for _, f := range r.TempFiles {
			if _, err := fmt.Fprintf(w, "%s temporary file %s\n", verb, f); err != nil {
				return err
			}
		}
	}
	_, err := fmt.Fprintf(w, "%s %d blobs (%d bytes) and %d temporary files (%d bytes); kept %d blobs\n",
		verb, len(r.Removed), r.RemovedBytes, len(r.TempFiles), r.TempBytes, r.Kept)
	return err
}

// GCOption adjusts GC.
type GCOption func(*gcOptions)

type gcOptions struct {
	dryRun bool
	grace  time.Duration
}

// GCDryRun makes GC report what it would remove without removing anything.
func GCDryRun() GCOption { return func(o *gcOptions) { o.dryRun = true } }

// GCGracePeriod makes GC keep unreferenced blobs modified less than d ago.
// A writer that stores blobs and then tags them (repack, image new) is
// not protected by the lock between the two steps; a grace period longer
// than such a write lets GC run alongside writers.
func GCGracePeriod(d time.Duration) GCOption { return func(o *gcOptions) { o.grace = d } }

// GC removes the blobs not reachable from index.json and the temporary
// files of writers that died. Reachability follows every descriptor: the
// entries of index.json, the manifests of nested indexes, each manifest's
// config, layers and subject, each index's subject. It holds the layout's
// exclusive lock throughout, so no index.json update interleaves and no
// blob being written (its temporary file is locked by its writer) is taken.
// Removals are not fsynced: after a crash a removed blob may reappear,
// which is harmless (the next GC removes it again).
//
// A manifest or index that is referenced but cannot be read and checked
// (missing, corrupt, unsupported digest) stops GC before anything is
// removed: what it references is unknown, so nothing can be proven
// unreferenced. Referenced configs and layers may be missing
// (image-layout.md lets blobs live in an external store); descriptors of
// unknown media types are kept and, when their blob is a JSON manifest or
// index, followed.
func (l *Layout) GC(ctx context.Context, opts ...GCOption) (*GCReport, error) {
	var o gcOptions
	for _, opt := range opts {
		opt(&o)
	}
	unlock, err := l.lock(ctx, true)
	if err != nil {
		return nil, err
	}
	defer unlock()

	if err := l.checkMarker(); err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	marked, err := l.mark(ctx)
	if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	rep := &GCReport{DryRun: o.dryRun}
	now := time.Now()
	err = l.walkBlobs(ctx, func(d digest.Digest, e fs.DirEntry) error {
		if marked[d] {
			rep.Kept++
			return nil
		}
		info, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if o.grace > 0 && now.Sub(info.ModTime()) < o.grace {
			return nil
		}
		if !o.dryRun {
			if err := os.Remove(l.blobPath(d)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove blob: %w", err)
			}
		}
		rep.Removed = append(rep.Removed, d)
		rep.RemovedBytes += info.Size()
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("gc: %w", err)
	}
	for _, dir := range []string{filepath.Join(l.dir, blobsDir), l.dir} {
		if err := l.sweepTemp(dir, o.dryRun, rep); err != nil {
			return rep, fmt.Errorf("gc: %w", err)
		}
	}
	return rep, nil
}

// mark returns the set of digests reachable from index.json.
func (l *Layout) mark(ctx context.Context) (map[digest.Digest]bool, error) {
	idx, err := l.Index(ctx)
	if err != nil {
		return nil, err
	}
	marked := map[digest.Digest]bool{}
	type item struct {
		desc v1.Descriptor
		from string // where the descriptor was found, for errors
	}
	var queue []item
	push := func(from string, ds ...v1.Descriptor) {
		for _, d := range ds {
			queue = append(queue, item{d, from})
		}
	}
	push(indexFile, idx.Manifests...)
	if idx.Subject != nil {
		push(indexFile, *idx.Subject)
	}
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		it := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		d := it.desc
		if marked[d.Digest] {
			continue
		}
		marked[d.Digest] = true
		known := IsIndex(d.MediaType) || IsManifest(d.MediaType)
		var data []byte
		if known {
			data, err = l.ReadBlob(ctx, d)
			if err != nil {
				return nil, fmt.Errorf("%s references %s %s: %w", it.from, kindOf(d.MediaType), d.Digest, err)
			}
		} else {
			// Unknown media type: follow it only if it is a stored JSON
			// manifest or index; otherwise it is a leaf.
			data = l.readIfJSONDocument(ctx, d)
			if data == nil {
				continue
			}
		}
		from := kindOf(d.MediaType) + " " + string(d.Digest)
		mt := d.MediaType
		if !known {
			mt = sniff(data)
		}
		switch {
		case IsIndex(mt):
			child, err := ParseIndex(data)
			if err != nil {
				if !known {
					continue
				}
				return nil, fmt.Errorf("%s: %w", from, err)
			}
			push(from, child.Manifests...)
			if child.Subject != nil {
				push(from, *child.Subject)
			}
		case IsManifest(mt):
			m, err := ParseManifest(data)
			if err != nil {
				if !known {
					continue
				}
				return nil, fmt.Errorf("%s: %w", from, err)
			}
			push(from, m.Config)
			push(from, m.Layers...)
			if m.Subject != nil {
				push(from, *m.Subject)
			}
		}
	}
	return marked, nil
}

func (l *Layout) readIfJSONDocument(ctx context.Context, d v1.Descriptor) []byte {
	if CheckDigest(d.Digest) != nil || d.Size <= 0 || d.Size > MaxJSONSize {
		return nil
	}
	if !strings.Contains(d.MediaType, "json") {
		return nil
	}
	data, err := l.ReadBlob(ctx, d)
	if err != nil {
		return nil
	}
	return data
}

func kindOf(mediaType string) string {
	switch {
	case IsIndex(mediaType):
		return "index"
	case IsManifest(mediaType):
		return "manifest"
	}
	return "blob"
}

// sweepTemp removes this package's temporary files in dir that no writer
// holds locked (the caller holds the layout's exclusive lock, so none can
// be in creation).
func (l *Layout) sweepTemp(dir string, dryRun bool, rep *GCReport) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tmpPrefix) || !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		f, err := os.Open(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return err
		}
		free, err := fsutil.TryLock(f)
		var size int64
		if st, serr := f.Stat(); serr == nil {
			size = st.Size()
		}
		if err == nil && free && !dryRun {
			err = os.Remove(path)
		}
		f.Close()
		if err != nil {
			return err
		}
		if !free {
			continue
		}
		rel, _ := filepath.Rel(l.dir, path)
		rep.TempFiles = append(rep.TempFiles, rel)
		rep.TempBytes += size
	}
	return nil
}
