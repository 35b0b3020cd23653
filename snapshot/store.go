package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/internal/fsutil"
	"github.com/ocikit/ocikit/layer"
	"github.com/ocikit/ocikit/layout"
)

var (
	// ErrContainerExists: a container directory of that name is there.
	ErrContainerExists = errdefs.New(errdefs.ErrAlreadyExists, "snapshot: container exists")
	// ErrContainerNotFound: no container directory of that name.
	ErrContainerNotFound = errdefs.New(errdefs.ErrNotFound, "snapshot: no such container")
)

// Names inside a store directory.
const (
	imagesDir     = "images"
	snapshotsDir  = "snapshots"
	containersDir = "containers"
	locksDir      = "locks"
	tmpDir        = "tmp"
	lockFile      = "lock"
	metaFile      = "container.json"
	ctrLockFile   = "lock"
)

// Store is an open store directory.
type Store struct {
	dir      string
	images   *layout.Layout
	log      *slog.Logger
	rootless bool
	// noOverlay: snapshots are made without mounting an overlay
	// (WithoutOverlay); noOverlayOnce says so once.
	noOverlay     bool
	noOverlayOnce sync.Once
}

// Option configures Open.
type Option func(*Store)

// WithLogger sets the logger for debug lines (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) {
		if l != nil {
			s.log = l
		}
	}
}

// WithRootless opens the store of an unprivileged user: layers are
// unpacked as `image unpack --rootless` does (no chown, the image's owners
// in "user.rootlesscontainers" xattrs, layer.WithRootless), and overlays
// are the kernel's unprivileged ones (Linux 5.11), which keep their own
// attributes in the user.overlay.* namespace (the "userxattr" option).
// Making a snapshot of a layer after the first mounts an overlay, which an
// unprivileged process may do only in a user and mount namespace of its
// own: Prepare then runs there (imagerun does so through a helper
// process). The store's filesystem must take user.* xattrs (Open checks).
func WithRootless() Option { return func(s *Store) { s.rootless = true } }

// WithoutOverlay makes the snapshots of layers after the first without
// mounting an overlay, as where the kernel refuses one: the layer package
// writes the overlay diff itself (layer.WithOverlayDiff). For tests, and
// for a filesystem whose overlay misbehaves (OCIKIT_SNAPSHOT_NO_OVERLAY=1
// in ocikit's environment).
func WithoutOverlay() Option { return func(s *Store) { s.noOverlay = true } }

// ErrNoUserXattr: a rootless store's filesystem refuses user.* xattrs.
var ErrNoUserXattr = errdefs.New(errdefs.ErrUnsupported, "snapshot: the store's filesystem has no user xattrs, which a rootless store needs")

// DefaultDir is the store of this user: /var/lib/ocikit for root,
// $XDG_DATA_HOME/ocikit (default ~/.local/share/ocikit) for others.
func DefaultDir() (string, error) {
	if os.Geteuid() == 0 {
		return "/var/lib/ocikit", nil
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "ocikit"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("store: no XDG_DATA_HOME and %w", err)
	}
	return filepath.Join(home, ".local", "share", "ocikit"), nil
}

// Open opens the store in dir, making it (0700: snapshots hold the images'
// setuid files) when it is not there.
func Open(ctx context.Context, dir string, opts ...Option) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", dir, err)
	}
	s := &Store{dir: abs, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(s)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if s.rootless {
		// Before anything is written: a store that cannot hold rootless
		// snapshots stays as it was.
		if err := checkUserXattr(abs); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrNoUserXattr, abs, err)
		}
	}
	for _, d := range []string{filepath.Join(snapshotsDir, "sha256"), containersDir, locksDir, tmpDir} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o700); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	images := filepath.Join(abs, imagesDir)
	if _, err := os.Lstat(filepath.Join(images, v1.ImageLayoutFile)); err != nil {
		// The first use: made under the store's lock, so concurrent
		// first runs do not make (and overwrite) it twice.
		unlock, err := s.Lock(ctx, true)
		if err != nil {
			return nil, err
		}
		if _, err := os.Lstat(filepath.Join(images, v1.ImageLayoutFile)); err != nil {
			_, err = layout.Init(ctx, images)
		}
		unlock()
		if err != nil {
			return nil, fmt.Errorf("store %s: %w", abs, err)
		}
	}
	if s.images, err = layout.Open(ctx, images); err != nil {
		return nil, fmt.Errorf("store %s: %w", abs, err)
	}
	return s, nil
}

// Dir is the store's absolute directory.
func (s *Store) Dir() string { return s.dir }

// Rootless says whether the store was opened WithRootless.
func (s *Store) Rootless() bool { return s.rootless }

// Images is the store's image layout.
func (s *Store) Images() *layout.Layout { return s.images }

// Lock takes the store's lock: shared while a container is prepared
// (snapshots made, container directory written), exclusive for GC.
func (s *Store) Lock(ctx context.Context, exclusive bool) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(s.dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store lock: %w", err)
	}
	if err := fsutil.Lock(ctx, f, exclusive); err != nil {
		f.Close()
		return nil, fmt.Errorf("store lock: %w", err)
	}
	return func() { f.Close() }, nil
}

// ImageTag is the tag an image has in the store's layout: its manifest
// digest, written "ALGORITHM-HEX" (a tag cannot hold "sha256:" and stay
// distinct from a digest reference).
func ImageTag(d digest.Digest) string { return d.Algorithm().String() + "-" + d.Encoded() }

// ChainIDs returns the ChainID of each layer chain of an image, bottom
// first (image-spec config.md "Layer ChainID": ChainID(L0) = DiffID(L0),
// ChainID(L0|...|Ln) = Digest(ChainID(L0|...|Ln-1) + " " + DiffID(Ln))).
func ChainIDs(diffIDs []digest.Digest) []digest.Digest {
	out := make([]digest.Digest, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			out[i] = d
			continue
		}
		sum := sha256.Sum256([]byte(string(out[i-1]) + " " + string(d)))
		out[i] = digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(sum[:]))
	}
	return out
}

// SnapshotDir is where the snapshot of chain lives once committed: the
// layer tree in fs/ (an overlayfs lower directory) and, in users/, the
// /etc/passwd and /etc/group of the whole chain merged, as a tiny root
// filesystem for convert.LookupUser (UsersDir).
func (s *Store) SnapshotDir(chain digest.Digest) string {
	return filepath.Join(s.dir, snapshotsDir, "sha256", chain.Encoded())
}

// UsersDir is the users/ root of the snapshot whose tree is lower (one of
// Prepare's results): resolving the image's users there needs no mount.
func UsersDir(lower string) string { return filepath.Join(filepath.Dir(lower), "users") }

// Progress reports a snapshot being made (before) and done (after).
type Progress func(layerDesc v1.Descriptor, chain digest.Digest, done bool)

// Prepare makes sure every snapshot of img's layer chains is in the store,
// making the missing ones from img's layers (read from p, usually
// s.Images()), and returns their directories, bottom first. It returns how
// many it made.
func (s *Store) Prepare(ctx context.Context, p layer.BlobOpener, img *content.Image, progress Progress) ([]string, int, error) {
	diffIDs := img.Config.RootFS.DiffIDs
	if img.Config.RootFS.Type != "layers" || len(diffIDs) != len(img.Manifest.Layers) {
		return nil, 0, fmt.Errorf("image %s: %w: %d diff_ids for %d layers", img.Descriptor.Digest, layer.ErrInvalidRootFS, len(diffIDs), len(img.Manifest.Layers))
	}
	for _, d := range diffIDs {
		if err := d.Validate(); err != nil || d.Algorithm() != digest.SHA256 {
			return nil, 0, fmt.Errorf("image %s: diff_id %q: %w", img.Descriptor.Digest, clip(string(d)), layer.ErrInvalidDigest)
		}
	}
	chains := ChainIDs(diffIDs)
	dirs := make([]string, len(chains))
	made := 0
	for i, c := range chains {
		dirs[i] = filepath.Join(s.SnapshotDir(c), "fs")
		if _, err := os.Lstat(s.SnapshotDir(c)); err == nil {
			continue
		}
		ok, err := s.makeSnapshot(ctx, p, img.Manifest.Layers[i], diffIDs[i], c, dirs[:i], progress)
		if err != nil {
			return nil, made, err
		}
		if ok {
			made++
		}
	}
	return dirs, made, nil
}

// makeSnapshot makes the snapshot of chain under its lock, unless another
// process made it meanwhile (then it reports false).
func (s *Store) makeSnapshot(ctx context.Context, p layer.BlobOpener, desc v1.Descriptor, diffID, chain digest.Digest, parents []string, progress Progress) (bool, error) {
	lf, err := os.OpenFile(filepath.Join(s.dir, locksDir, chain.Encoded()), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return false, fmt.Errorf("snapshot lock: %w", err)
	}
	defer lf.Close()
	if err := fsutil.Lock(ctx, lf, true); err != nil {
		return false, fmt.Errorf("snapshot lock: %w", err)
	}
	final := s.SnapshotDir(chain)
	if _, err := os.Lstat(final); err == nil {
		return false, nil
	}
	if progress != nil {
		progress(desc, chain, false)
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.dir, tmpDir), "snapshot-"+chain.Encoded()[:12]+"-")
	if err != nil {
		return false, fmt.Errorf("snapshot: %w", err)
	}
	defer removeAll(tmp)
	upper := filepath.Join(tmp, "fs")
	if err := os.Mkdir(upper, 0o755); err != nil {
		return false, fmt.Errorf("snapshot: %w", err)
	}
	if err := s.applyLayer(ctx, p, desc, diffID, upper, filepath.Join(tmp, "work"), parents, filepath.Join(tmp, "users")); err != nil {
		return false, fmt.Errorf("snapshot of layer %s: %w", desc.Digest, err)
	}
	for _, d := range []string{"work", "empty"} {
		if err := removeAll(filepath.Join(tmp, d)); err != nil {
			return false, fmt.Errorf("snapshot: %w", err)
		}
	}
	if err := os.Chmod(tmp, 0o700); err != nil {
		return false, fmt.Errorf("snapshot: %w", err)
	}
	if err := commitDir(tmp, final); err != nil {
		return false, fmt.Errorf("snapshot of layer %s: %w", desc.Digest, err)
	}
	s.log.Debug("snapshot made", "chain", chain, "layer", desc.Digest)
	if progress != nil {
		progress(desc, chain, true)
	}
	return true, nil
}

// Missing reports whether a snapshot of img's layer chains is not in the
// store yet.
func (s *Store) Missing(img *content.Image) bool {
	for _, c := range ChainIDs(img.Config.RootFS.DiffIDs) {
		if _, err := os.Lstat(s.SnapshotDir(c)); err != nil {
			return true
		}
	}
	return false
}

// ProbeOverlay mounts, detached, an overlay of lowers with an upper and a
// work directory of its own in the store's filesystem, as a container's
// would be, and unmounts it: a refusal by the kernel is ErrOverlay.
func (s *Store) ProbeOverlay(lowers []string) error {
	tmp, err := os.MkdirTemp(filepath.Join(s.dir, tmpDir), "probe-")
	if err != nil {
		return fmt.Errorf("overlay probe: %w", err)
	}
	defer removeAll(tmp)
	upper, work := filepath.Join(tmp, "upper"), filepath.Join(tmp, "work")
	for _, d := range []string{upper, work} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return fmt.Errorf("overlay probe: %w", err)
		}
	}
	m, err := s.MountOverlay(lowers, upper, work)
	if err != nil {
		return err
	}
	return m.Close()
}

// ContainerMeta is what a container directory records for GC.
type ContainerMeta struct {
	// ID is the runtime's container id, Root the runtime's state root
	// (--root): the container lives while Root/ID exists.
	ID   string `json:"id"`
	Root string `json:"root"`
	// Image is the manifest digest, Snapshots the snapshot chains the
	// container's root filesystem stacks, bottom first.
	Image     digest.Digest   `json:"image"`
	Snapshots []digest.Digest `json:"snapshots"`
}

// Live reports whether the runtime still has the container.
func (m ContainerMeta) Live() bool {
	if m.Root == "" || m.ID == "" {
		return false
	}
	_, err := os.Lstat(filepath.Join(m.Root, m.ID))
	return err == nil
}

// Container is a container's directory in the store.
type Container struct {
	// Dir is the directory (the runtime bundle); Rootfs its empty
	// rootfs/ (root.path), Upper and Work the overlay's directories.
	Dir, Rootfs, Upper, Work string
	lock                     *os.File
}

// Release drops the hold NewContainer took: from then on GC judges the
// directory by ContainerMeta.Live alone.
func (c *Container) Release() {
	if c.lock != nil {
		c.lock.Close()
		c.lock = nil
	}
}

// NewContainer makes the directory of container meta.ID, recording meta,
// and holds it (GC leaves it alone) until Release or the process's end.
func (s *Store) NewContainer(meta ContainerMeta) (*Container, error) {
	if meta.ID == "" || strings.ContainsAny(meta.ID, "/\x00") || meta.ID == "." || meta.ID == ".." {
		return nil, fmt.Errorf("container id %q: %w", clip(meta.ID), errdefs.ErrInvalid)
	}
	dir := filepath.Join(s.dir, containersDir, meta.ID)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%w: %s", ErrContainerExists, meta.ID)
		}
		return nil, fmt.Errorf("container directory: %w", err)
	}
	c := &Container{Dir: dir, Rootfs: filepath.Join(dir, "rootfs"), Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "work")}
	err := func() error {
		lf, err := os.OpenFile(filepath.Join(dir, ctrLockFile), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return err
		}
		c.lock = lf
		if err := fsutil.Lock(context.Background(), lf, false); err != nil {
			return err
		}
		for _, d := range []string{c.Rootfs, c.Upper, c.Work} {
			if err := os.Mkdir(d, 0o755); err != nil {
				return err
			}
		}
		data, err := json.Marshal(meta)
		if err != nil {
			return err
		}
		// Not synced: a container directory is as transient as the
		// container; one a crash leaves is GC's.
		return os.WriteFile(filepath.Join(dir, metaFile), data, 0o600)
	}()
	if err != nil {
		c.Release()
		removeAll(dir)
		return nil, fmt.Errorf("container directory: %w", err)
	}
	return c, nil
}

// RemoveContainer removes the directory of container id (its upper layer
// with it). The overlay was mounted only in the container's mount
// namespace, so nothing is mounted there once the container is gone.
func (s *Store) RemoveContainer(id string) error {
	if id == "" || strings.ContainsAny(id, "/\x00") || id == "." || id == ".." {
		return fmt.Errorf("container id %q: %w", clip(id), errdefs.ErrInvalid)
	}
	dir := filepath.Join(s.dir, containersDir, id)
	if _, err := os.Lstat(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %s", ErrContainerNotFound, id)
		}
		return err
	}
	// Renamed aside first: a removal cut short leaves no half directory
	// under the container's name.
	tmp, err := os.MkdirTemp(filepath.Join(s.dir, tmpDir), "container-")
	if err != nil {
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	dest := filepath.Join(tmp, "c")
	if err := os.Rename(dir, dest); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	return removeAll(tmp)
}

func clip(s string) string {
	if len(s) > 140 {
		return s[:140] + "..."
	}
	return s
}
