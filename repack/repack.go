package repack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/internal/fsutil"

	"github.com/ocikit/ocikit/layer"
	"github.com/ocikit/ocikit/mutate"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Sentinel errors.
var (
	// ErrNoSnapshot: the bundle has no snapshot file, so it was not unpacked
	// by ocikit (or the file was removed).
	ErrNoSnapshot = errdefs.New(errdefs.ErrNotFound, "repack: bundle has no snapshot")
	// ErrSourceGone: the image the bundle was unpacked from is no longer in
	// the layout, so there is nothing to append a layer to.
	ErrSourceGone = errdefs.New(errdefs.ErrNotFound, "repack: source image is gone")
	// ErrNoTag: no tag was given and the source had none.
	ErrNoTag = errdefs.New(errdefs.ErrInvalid, "repack: no tag to move")
)

// Option configures Repack.
type Option func(*options)

type options struct {
	compression layer.Compression
	epoch       *time.Time
	history     v1.History
	rootless    bool
}

// WithRootless repacks a bundle unpacked rootless: owners come from the
// "user.rootlesscontainers" xattrs, else root (layer.WithRootlessOwners).
func WithRootless() Option {
	return func(o *options) { o.rootless = true }
}

// WithCompression sets the new layer's compression (default gzip).
func WithCompression(c layer.Compression) Option {
	return func(o *options) { o.compression = c }
}

// WithSourceDateEpoch makes the result reproducible: layer mtimes are
// clamped to t, and t is the "created" time of the config and history.
func WithSourceDateEpoch(t time.Time) Option {
	return func(o *options) { t := t.UTC(); o.epoch = &t }
}

// WithHistory sets the history entry's created_by, comment and author
// (default created_by "ocikit image repack").
func WithHistory(h v1.History) Option {
	return func(o *options) { o.history = h }
}

// Result describes a repack.
type Result struct {
	Manifest v1.Descriptor // the new image's manifest, now tagged
	Changes  []layer.Change
}

// Store is where Repack finds the bundle's source image (by digest) and
// stores the new one. *layout.Layout is one.
type Store interface {
	content.Resolver
	mutate.Store
}

// Repack appends to the bundle's source image one layer holding what
// changed in BUNDLE/rootfs since the snapshot (see Diff), stores the new
// config and manifest in s, and points tag at it; an empty tag means the
// tag the bundle was unpacked from. The snapshot is then re-recorded
// against the new image, so a later repack holds only later changes; it
// names s's directory when s is a content.LocalStore (an OCI layout).
func Repack(ctx context.Context, bundleDir string, s Store, tag string, opts ...Option) (*Result, error) {
	o := &options{compression: layer.Gzip, history: v1.History{CreatedBy: "ocikit image repack"}}
	for _, f := range opts {
		f(o)
	}
	snap, err := Load(bundleDir)
	if err != nil {
		return nil, err
	}
	if tag == "" {
		tag = snap.Source.Annotations[v1.AnnotationRefName]
		if tag == "" {
			return nil, fmt.Errorf("%w: the source of %s had no tag; name one (DIR:TAG)", ErrNoTag, bundleDir)
		}
	}
	layoutDir := ""
	if ls, ok := s.(content.LocalStore); ok {
		layoutDir = ls.Dir()
	}
	base, err := s.Resolve(ctx, string(snap.Source.Digest))
	if errors.Is(err, errdefs.ErrNotFound) {
		where := layoutDir
		if where == "" {
			where = "the store"
		}
		return nil, fmt.Errorf("%w: %s was unpacked from %s, which is not in %s (garbage collected?)", ErrSourceGone, bundleDir, snap.Source.Digest, where)
	}
	if err != nil {
		return nil, fmt.Errorf("source image of %s: %w", bundleDir, err)
	}
	rootfs := rootfsOf(bundleDir)
	changes, now, err := Diff(ctx, rootfs, snap.Entries)
	if err != nil {
		return nil, fmt.Errorf("diff %s: %w", rootfs, err)
	}
	var genOpts []layer.GenerateOption
	if o.rootless {
		genOpts = append(genOpts, layer.WithRootlessOwners())
	}
	mopts := []mutate.Option{mutate.WithCompression(o.compression), mutate.WithHistory(o.history)}
	if o.epoch != nil {
		genOpts = append(genOpts, layer.WithSourceDateEpoch(*o.epoch))
		mopts = append(mopts, mutate.WithCreated(*o.epoch))
	}
	gen := func(ctx context.Context, w io.Writer) error {
		return layer.Generate(ctx, w, rootfs, changes, genOpts...)
	}
	desc, err := mutate.AppendLayer(ctx, s, tag, base.Manifest, base.Config, gen, mopts...)
	if err != nil {
		return nil, err
	}
	source := desc
	source.Annotations = map[string]string{v1.AnnotationRefName: tag}
	abs := ""
	if layoutDir != "" {
		abs, err = filepath.Abs(layoutDir)
	}
	if err == nil {
		err = record(bundleDir, &Snapshot{Layout: abs, Source: source, Entries: now})
	}
	if err != nil {
		return nil, fmt.Errorf("image %s stored, but %w", desc.Digest, err)
	}
	return &Result{Manifest: desc, Changes: changes}, nil
}

// rootfsOf is the root filesystem of a bundle (runtime-spec bundle.md; image
// unpack always uses "rootfs").
func rootfsOf(bundleDir string) string { return filepath.Join(bundleDir, "rootfs") }

func writeSnapshot(bundleDir string, s *Snapshot) error {
	data, err := s.MarshalBinary()
	if err != nil {
		return err
	}
	if err := fsutil.WriteFile(filepath.Join(bundleDir, SnapshotFile), data, 0o600); err != nil {
		return fmt.Errorf("record snapshot: %w", err)
	}
	return nil
}

// Load reads BUNDLE/ocikit-snapshot.
func Load(bundleDir string) (*Snapshot, error) {
	data, err := os.ReadFile(filepath.Join(bundleDir, SnapshotFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s (was it unpacked by ocikit image unpack?)", ErrNoSnapshot, bundleDir)
	}
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	var s Snapshot
	if err := s.UnmarshalBinary(data); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(bundleDir, SnapshotFile), err)
	}
	return &s, nil
}
