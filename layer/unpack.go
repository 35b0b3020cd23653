package layer

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/ocikit/ocikit/errdefs"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Errors of the unpack side. Callers test them with errors.Is; the returned
// errors wrap them with the layer digest and the path concerned.
var (
	ErrUnsupportedMediaType = errdefs.New(errdefs.ErrUnsupported, "layer: unsupported media type")
	ErrDiffIDMismatch       = errdefs.New(errdefs.ErrDigestMismatch, "layer: diff_id mismatch")
	ErrDigestMismatch       = errdefs.New(errdefs.ErrDigestMismatch, "layer: blob digest mismatch")
	ErrSizeMismatch         = errdefs.New(errdefs.ErrDigestMismatch, "layer: blob size mismatch")
	ErrInvalidDigest        = errdefs.New(errdefs.ErrInvalid, "layer: invalid digest")
	ErrUnsafePath           = errdefs.New(errdefs.ErrInvalid, "layer: unsafe path")
	ErrInvalidRootFS        = errdefs.New(errdefs.ErrInvalid, "layer: invalid config rootfs")
	ErrRootfsNotEmpty       = errdefs.New(errdefs.ErrFailedPrecondition, "layer: target exists and is not an empty directory")
	ErrUnsupportedEntry     = errdefs.New(errdefs.ErrUnsupported, "layer: unsupported tar entry type")
)

// BlobOpener opens a blob for reading. *layout.Layout satisfies it. Unpack
// verifies what it reads against the descriptor itself, so an opener need
// not (but may) verify.
type BlobOpener interface {
	OpenBlob(ctx context.Context, desc v1.Descriptor) (io.ReadCloser, error)
}

// Option configures Unpack and Apply.
type Option func(*options)

type options struct {
	rootless bool
	log      *slog.Logger
	// noOpenat2 makes path resolution use filepath-securejoin even where
	// the kernel has openat2 (tests cover both paths with it).
	noOpenat2 bool
	// lowers: the root is an overlay upper directory (WithOverlayDiff).
	lowers []string
	// xattrWhiteouts makes WithOverlayDiff's whiteouts xattr ones, as
	// where the filesystem refuses whiteout devices (for tests).
	xattrWhiteouts bool
}

// WithRootless unpacks as an unprivileged user would: no chown (the wanted
// owner is recorded in the "user.rootlesscontainers" xattr unless it is
// root), no device nodes (skipped with a log line), xattrs the kernel refuses
// are skipped with a log line, and directories stay owner-accessible while
// unpacking, their modes restored at the end.
func WithRootless() Option { return func(o *options) { o.rootless = true } }

// WithOverlayDiff applies a layer as the upper directory of an overlay
// whose lower directories are lowers (bottom first, overlayfs upper
// directories themselves), writing what the kernel writes there when the
// layer is applied through the mounted overlay, without mounting it: a
// whiteout is an overlayfs whiteout (a 0:0 character device) where a
// lower directory has the name, an opaque whiteout the opaque xattr
// (trusted.overlay.opaque, or user.overlay.opaque WithRootless, as an
// unprivileged "userxattr" overlay reads it), a lower directory that gets
// new entries is copied up (its owner, mode, xattrs and times), and a
// hard link to a file of a lower directory links to a copy of it in the
// upper one. Symlinks on the way to an entry are followed through the
// merged view, as if its root were "/"; the lower directories are only
// read. The image's own xattrs of overlayfs's namespace are escaped
// (NS.overlay.NAME), as Linux 6.7's overlayfs stores them.
func WithOverlayDiff(lowers []string) Option {
	return func(o *options) { o.lowers = lowers }
}

// WithLogger sets the logger for warnings (skipped devices, refused xattrs)
// and debug lines. The default discards.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

func buildOptions(opts []Option) options {
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Unpack applies manifest.Layers in order to build the root filesystem at
// rootfs, which must not exist or be an empty directory. Each layer blob is
// checked against its descriptor (digest and size) and its uncompressed
// stream against config.RootFS.DiffIDs, both while the layer is applied.
// The tree is built in a temporary sibling directory and renamed onto rootfs
// only when everything succeeded: on failure rootfs is left as it was.
func Unpack(ctx context.Context, blobs BlobOpener, manifest v1.Manifest, config v1.Image, rootfs string, opts ...Option) error {
	o := buildOptions(opts)
	if err := checkUnpackInput(manifest, config); err != nil {
		return err
	}
	target, err := filepath.Abs(rootfs)
	if err != nil {
		return fmt.Errorf("rootfs %s: %w", rootfs, err)
	}
	if err := checkTargetEmpty(target); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(target), "."+filepath.Base(target)+".unpack-")
	if err != nil {
		return fmt.Errorf("create temporary rootfs: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			removeTree(tmp)
		}
	}()
	// MkdirTemp made it 0700; a root filesystem is 0755 unless a layer has
	// an entry for "/" that says otherwise.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	a, err := newApplier(tmp, o)
	if err != nil {
		return err
	}
	defer a.close()
	for i, desc := range manifest.Layers {
		start := time.Now()
		if err := unpackLayer(ctx, blobs, a, desc, config.RootFS.DiffIDs[i]); err != nil {
			return fmt.Errorf("layer %s: %w", desc.Digest, err)
		}
		o.log.Debug("applied layer", "digest", desc.Digest, "mediaType", desc.MediaType, "size", desc.Size, "duration", time.Since(start))
	}
	if err := a.finish(); err != nil {
		return err
	}
	a.close()
	// rename(2) replaces an empty directory; checkTargetEmpty made sure
	// that is all there may be.
	if err := renameDir(tmp, target); err != nil {
		return fmt.Errorf("move rootfs into place: %w", err)
	}
	ok = true
	return nil
}

// checkUnpackInput validates, before anything is created, what Unpack will
// use as a media type or digest (containers/image CVE-2024-3727: a digest is
// never trusted as a path component before it is validated).
func checkUnpackInput(manifest v1.Manifest, config v1.Image) error {
	if config.RootFS.Type != "layers" {
		return fmt.Errorf("%w: type %q, want \"layers\"", ErrInvalidRootFS, config.RootFS.Type)
	}
	if len(config.RootFS.DiffIDs) != len(manifest.Layers) {
		return fmt.Errorf("%w: %d diff_ids for %d layers", ErrInvalidRootFS, len(config.RootFS.DiffIDs), len(manifest.Layers))
	}
	for i, desc := range manifest.Layers {
		if err := desc.Digest.Validate(); err != nil {
			return fmt.Errorf("layer %d: %w %q: %v", i, ErrInvalidDigest, desc.Digest, err)
		}
		if _, err := decompressorFor(desc.MediaType); err != nil {
			return fmt.Errorf("layer %s: %w", desc.Digest, err)
		}
		if desc.Size < 0 {
			return fmt.Errorf("layer %s: %w: negative size %d", desc.Digest, ErrSizeMismatch, desc.Size)
		}
		if err := config.RootFS.DiffIDs[i].Validate(); err != nil {
			return fmt.Errorf("layer %s: diff_id: %w %q: %v", desc.Digest, ErrInvalidDigest, config.RootFS.DiffIDs[i], err)
		}
	}
	return nil
}

func checkTargetEmpty(target string) error {
	f, err := os.Open(target)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("rootfs: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("rootfs: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: %s", ErrRootfsNotEmpty, target)
	}
	names, err := f.Readdirnames(1)
	if err != nil && err != io.EOF {
		return fmt.Errorf("rootfs: %w", err)
	}
	if len(names) > 0 {
		return fmt.Errorf("%w: %s", ErrRootfsNotEmpty, target)
	}
	return nil
}

// unpackLayer streams one blob through digest verification, decompression
// and diff_id hashing into the applier.
func unpackLayer(ctx context.Context, blobs BlobOpener, a *applier, desc v1.Descriptor, diffID digest.Digest) error {
	rc, err := blobs.OpenBlob(ctx, desc)
	if err != nil {
		return fmt.Errorf("open blob: %w", err)
	}
	defer rc.Close()
	blobHash := desc.Digest.Algorithm().Hash()
	counted := &hashingReader{r: rc, h: blobHash}
	var applyErr error
	dec, err := Decompress(desc.MediaType, counted)
	if err != nil {
		applyErr = err
	} else {
		pipe := newHashPipe(dec, diffID.Algorithm().Hash())
		applyErr = a.applyLayer(ctx, pipe)
		if applyErr == nil {
			// The tar reader stops at the end-of-archive marker; what
			// follows (zero padding) is part of the diff_id too.
			if _, err := io.Copy(io.Discard, pipe); err != nil {
				applyErr = fmt.Errorf("decompress: %w", err)
			}
		}
		pipe.Close()
		if err := dec.Close(); err != nil && applyErr == nil {
			applyErr = fmt.Errorf("decompress: %w", err)
		}
		if applyErr == nil {
			if got := digest.NewDigest(diffID.Algorithm(), pipe.h); got != diffID {
				applyErr = fmt.Errorf("%w: uncompressed content is %s, config says %s", ErrDiffIDMismatch, got, diffID)
			}
		}
	}
	if applyErr != nil && ctx.Err() != nil {
		return applyErr
	}
	// Read the blob to its end and check it, also when the layer failed:
	// a blob that is not what the descriptor says explains any failure
	// (garbage tar headers, a bad checksum) better than its symptom.
	var blobErr error
	if _, err := io.Copy(io.Discard, counted); err != nil {
		blobErr = fmt.Errorf("read blob: %w", err)
	} else if counted.n != desc.Size {
		blobErr = fmt.Errorf("%w: read %d bytes, descriptor says %d", ErrSizeMismatch, counted.n, desc.Size)
	} else if got := digest.NewDigest(desc.Digest.Algorithm(), blobHash); got != desc.Digest {
		blobErr = fmt.Errorf("%w: content is %s", ErrDigestMismatch, got)
	}
	switch {
	case blobErr != nil && applyErr != nil:
		return fmt.Errorf("%w (which made it fail with: %v)", blobErr, applyErr)
	case blobErr != nil:
		return blobErr
	}
	return applyErr
}

// hashingReader hashes and counts what is read through it.
type hashingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (r *hashingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.h.Write(p[:n])
		r.n += int64(n)
	}
	return n, err
}

// Apply applies one uncompressed layer tar onto the existing tree at root,
// with the changeset semantics of layer.md (whiteouts hide what is already
// in root). Nothing outside root is touched. Unlike Unpack it changes root
// in place: a failure can leave the layer partly applied.
func Apply(ctx context.Context, root string, tarStream io.Reader, opts ...Option) error {
	o := buildOptions(opts)
	a, err := newApplier(root, o)
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.applyLayer(ctx, tarStream); err != nil {
		return err
	}
	return a.finish()
}

// ApplyBlob applies one layer blob onto the existing tree at root, as one
// step of Unpack: the compressed blob is checked against desc (digest and
// size) and the uncompressed stream against diffID while it is applied.
// Like Apply it changes root in place, so a failure can leave the layer
// partly applied; callers build into a directory they discard on error
// (the snapshot store applies into a temporary overlay upper directory).
func ApplyBlob(ctx context.Context, blobs BlobOpener, desc v1.Descriptor, diffID digest.Digest, root string, opts ...Option) error {
	o := buildOptions(opts)
	if err := checkUnpackInput(v1.Manifest{Layers: []v1.Descriptor{desc}},
		v1.Image{RootFS: v1.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}}}); err != nil {
		return err
	}
	a, err := newApplier(root, o)
	if err != nil {
		return err
	}
	defer a.close()
	if err := unpackLayer(ctx, blobs, a, desc, diffID); err != nil {
		return fmt.Errorf("layer %s: %w", desc.Digest, err)
	}
	return a.finish()
}

// cleanName turns a tar entry name into a path relative to the root: ""
// for the root itself, otherwise a clean slash-separated path without "."
// or ".." components. A leading "/" is dropped (the name is taken relative
// to the root); a name that climbs above the root is refused.
func cleanName(name string) (string, error) {
	if strings.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("%w: %q contains NUL", ErrUnsafePath, name)
	}
	p := path.Clean(strings.TrimLeft(name, "/"))
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", fmt.Errorf("%w: %q leaves the root", ErrUnsafePath, name)
	}
	if p == "." {
		return "", nil
	}
	return p, nil
}

// splitRel splits a clean relative path into its parent ("" for the root)
// and base name.
func splitRel(rel string) (string, string) {
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return "", rel
	}
	return rel[:i], rel[i+1:]
}

func joinRel(dir, base string) string {
	if dir == "" {
		return base
	}
	return dir + "/" + base
}
