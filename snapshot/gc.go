package snapshot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocikit/ocikit/internal/fsutil"
	"github.com/ocikit/ocikit/layout"
)

// GCReport says what GC removed (or, dry, would remove).
type GCReport struct {
	// Containers are the directories of containers that are gone.
	Containers []string
	// Snapshots are the chains no image and no container uses.
	Snapshots []digest.Digest
	// Kept counts the snapshots left.
	Kept int
	// Images is the image layout's own GC.
	Images *layout.GCReport
	// DryRun: nothing was removed; the report says what would be.
	DryRun bool
}

// Print writes the report as `image gc --store` shows it: a line for each
// container directory and snapshot removed (or, on a dry run, that would
// be), then one line of totals.
func (r *GCReport) Print(w io.Writer) error {
	verb := layout.GCVerb(r.DryRun)
	for _, c := range r.Containers {
		if _, err := fmt.Fprintf(w, "%s container directory %s\n", verb, c); err != nil {
			return err
		}
	}
	for _, c := range r.Snapshots {
		if _, err := fmt.Fprintf(w, "%s snapshot %s\n", verb, c); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "%s %d container directories, %d snapshots and %d blobs (%d bytes); kept %d snapshots\n",
		verb, len(r.Containers), len(r.Snapshots), len(r.Images.Removed), r.Images.RemovedBytes, r.Kept)
	return err
}

// GC removes, under the store's exclusive lock: the directories of
// containers the runtime no longer has (ContainerMeta.Live) and no process
// holds (NewContainer's hold); the snapshots that neither an image tagged
// in the store nor a remaining container uses; leftovers of makers that
// died (temporary directories, lock files); and the layout's unreferenced
// blobs. A snapshot is renamed away before it is removed, so a removal cut
// short never leaves a half snapshot under its name.
func (s *Store) GC(ctx context.Context, dryRun bool) (*GCReport, error) {
	unlock, err := s.Lock(ctx, true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	rep := &GCReport{DryRun: dryRun}
	used := map[digest.Digest]bool{}

	entries, err := os.ReadDir(filepath.Join(s.dir, containersDir))
	if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	for _, e := range entries {
		meta, keep := s.containerInUse(e.Name())
		if keep {
			for _, c := range meta.Snapshots {
				used[c] = true
			}
			continue
		}
		rep.Containers = append(rep.Containers, e.Name())
		if !dryRun {
			if err := s.RemoveContainer(e.Name()); err != nil {
				return nil, fmt.Errorf("gc: %w", err)
			}
		}
	}

	if err := s.imageChains(ctx, used); err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	snaps, err := os.ReadDir(filepath.Join(s.dir, snapshotsDir, "sha256"))
	if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	for _, e := range snaps {
		c := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		if used[c] {
			rep.Kept++
			continue
		}
		rep.Snapshots = append(rep.Snapshots, c)
		if dryRun {
			continue
		}
		tmp, err := os.MkdirTemp(filepath.Join(s.dir, tmpDir), "gc-")
		if err != nil {
			return nil, fmt.Errorf("gc: %w", err)
		}
		if err := os.Rename(filepath.Join(s.dir, snapshotsDir, "sha256", e.Name()), filepath.Join(tmp, "s")); err != nil {
			return nil, fmt.Errorf("gc: %w", err)
		}
	}
	if !dryRun {
		// Nobody makes a snapshot or waits for a lock now (makers hold
		// the store's lock shared): what is here is left by the dead.
		for _, d := range []string{tmpDir, locksDir} {
			left, _ := os.ReadDir(filepath.Join(s.dir, d))
			for _, e := range left {
				if err := removeAll(filepath.Join(s.dir, d, e.Name())); err != nil {
					return nil, fmt.Errorf("gc: %w", err)
				}
			}
		}
	}
	var opts []layout.GCOption
	if dryRun {
		opts = append(opts, layout.GCDryRun())
	}
	if rep.Images, err = s.images.GC(ctx, opts...); err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	return rep, nil
}

// containerInUse reads a container directory's record and says whether
// it must stay: a process holds it (it is being set up or run), or the
// runtime still has the container.
func (s *Store) containerInUse(id string) (ContainerMeta, bool) {
	dir := filepath.Join(s.dir, containersDir, id)
	var meta ContainerMeta
	data, merr := os.ReadFile(filepath.Join(dir, metaFile))
	if merr == nil {
		merr = json.Unmarshal(data, &meta)
	}
	if lf, err := os.Open(filepath.Join(dir, ctrLockFile)); err == nil {
		free, lerr := fsutil.TryLock(lf)
		lf.Close()
		if lerr != nil || !free {
			return meta, true
		}
	}
	return meta, merr == nil && meta.Live()
}

// imageChains marks the chains of every image tagged in the store.
func (s *Store) imageChains(ctx context.Context, used map[digest.Digest]bool) error {
	idx, err := s.images.Index(ctx)
	if err != nil {
		return err
	}
	var walk func(d v1.Descriptor, depth int) error
	walk = func(d v1.Descriptor, depth int) error {
		switch {
		case depth > 8:
			return nil
		case layout.IsIndex(d.MediaType):
			data, err := s.images.ReadBlob(ctx, d)
			if err != nil {
				return err
			}
			child, err := layout.ParseIndex(data)
			if err != nil {
				return err
			}
			for _, c := range child.Manifests {
				if err := walk(c, depth+1); err != nil {
					return err
				}
			}
		case layout.IsManifest(d.MediaType):
			data, err := s.images.ReadBlob(ctx, d)
			if err != nil {
				return err
			}
			m, err := layout.ParseManifest(data)
			if err != nil {
				return err
			}
			cfg, err := s.images.ReadBlob(ctx, m.Config)
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			var img v1.Image
			if json.Unmarshal(cfg, &img) != nil {
				return nil // not an image config: no snapshots
			}
			for _, c := range ChainIDs(img.RootFS.DiffIDs) {
				used[c] = true
			}
		}
		return nil
	}
	for _, d := range idx.Manifests {
		if err := walk(d, 0); err != nil {
			return err
		}
	}
	return nil
}
