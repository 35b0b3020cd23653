package bundle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"syscall"

	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/internal/fsutil"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/convert"
	"github.com/ocikit/ocikit/layer"
	"github.com/ocikit/ocikit/layout"
	"github.com/ocikit/ocikit/repack"
)

var (
	// ErrNotEmpty: the target directory exists and is not empty (or is not
	// a directory). Unpack never writes into existing content.
	ErrNotEmpty = errdefs.New(errdefs.ErrFailedPrecondition, "bundle: target exists and is not an empty directory")
	// ErrNotImage: the manifest's config is not an image configuration (an
	// artifact), so there is no root filesystem or process to unpack.
	ErrNotImage = errdefs.New(errdefs.ErrInvalid, "bundle: not a container image")
)

// ConfigFile is the name of the runtime configuration in a bundle
// (runtime-spec bundle.md).
const ConfigFile = "config.json"

// RootfsDir is the root filesystem's directory in a bundle; config.json's
// root.path names it relative to the bundle ("SHOULD be the conventional
// rootfs", runtime-spec config.md).
const RootfsDir = "rootfs"

// Permissions of what Unpack creates. The bundle directory is private to
// its owner, as umoci makes it: the root filesystem below it holds the
// image's setuid binaries and device nodes, which host users must not
// reach. config.json is 0644 as `runc spec` writes it; inside the 0700
// directory the environment values it may carry stay private anyway.
const (
	dirMode    = 0o700
	configMode = 0o644
)

// Option configures Unpack.
type Option func(*options)

type options struct {
	rootless   bool
	rootfsOnly bool
	convert    []convert.Option
	log        *slog.Logger
	tag        string
}

// WithRootless unpacks as an unprivileged user can (layer.WithRootless) and
// makes config.json runnable by one (convert.WithRootless).
func WithRootless() Option { return func(o *options) { o.rootless = true } }

// WithRootfsOnly makes dir the root filesystem itself: the layers are
// unpacked into it and no config.json or repack snapshot is written.
func WithRootfsOnly() Option { return func(o *options) { o.rootfsOnly = true } }

// WithConvertOptions passes the caller's overrides (convert.WithArgs,
// WithEntrypoint, WithEnv, WithCwd, WithUser) and WithVolumesAsMounts to
// the conversion of the image configuration.
func WithConvertOptions(opts ...convert.Option) Option {
	return func(o *options) { o.convert = append(o.convert, opts...) }
}

// WithLogger sets the logger for warnings and debug lines (default:
// discard).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

// WithTag records the tag the image was resolved from as the source's
// org.opencontainers.image.ref.name, so `ocikit image repack` moves that
// tag by default.
func WithTag(tag string) Option { return func(o *options) { o.tag = tag } }

// Unpack extracts img, reading its layers from p, into a runtime bundle at dir (runtime-spec
// bundle.md): dir/rootfs holds the image's layers applied in order
// (layer.Unpack) and dir/config.json the converted image configuration
// (convert.RuntimeSpec, with users resolved in the new rootfs). It then
// records a snapshot of the rootfs for a later repack (repack.Record),
// naming p's directory when p is a content.LocalStore (an OCI layout), so
// that a repack without DIR finds it.
//
// dir must not exist (its parent must) or be an empty directory. Unpack
// either succeeds or leaves dir as it found it: a directory it created is
// removed, an empty one it was given is emptied again.
//
// Overrides and options that cannot succeed (no command, a malformed
// environment variable, a relative working directory, an OS other than
// Linux) are rejected before anything is written; only user and group
// names must wait for the rootfs.
func Unpack(ctx context.Context, p content.Provider, img *content.Image, dir string, opts ...Option) (err error) {
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	if mt := img.Manifest.Config.MediaType; mt != v1.MediaTypeImageConfig && mt != layout.MediaTypeDockerConfig {
		return fmt.Errorf("%w: manifest %s has config media type %q", ErrNotImage, img.Descriptor.Digest, mt)
	}
	layerOpts := []layer.Option{layer.WithLogger(o.log)}
	if o.rootless {
		layerOpts = append(layerOpts, layer.WithRootless())
	}
	if !o.rootfsOnly {
		spec, err := Precheck(img, opts...)
		if err != nil {
			return err
		}
		if len(spec.Process.Args) == 0 {
			o.log.Warn("image has neither Entrypoint nor Cmd: config.json has no process.args; set them (or unpack with -- ARGS) before running it")
		}
	}
	existed, err := checkTarget(dir)
	if err != nil {
		return err
	}
	if o.rootfsOnly {
		return unpackRootfs(ctx, p, img, dir, existed, layerOpts, o.log)
	}

	if !existed {
		if err := os.Mkdir(dir, dirMode); err != nil {
			return fmt.Errorf("create bundle: %w", err)
		}
	}
	defer func() {
		if err == nil {
			return
		}
		if rerr := clean(dir, !existed); rerr != nil {
			o.log.Warn("could not remove partial bundle", "bundle", dir, "error", rerr)
		}
	}()

	rootfs := filepath.Join(dir, RootfsDir)
	if err := layer.Unpack(ctx, p, img.Manifest, img.Config, rootfs, layerOpts...); err != nil {
		return fmt.Errorf("unpack %s: %w", dir, err)
	}
	o.log.Debug("unpacked root filesystem", "image", img.Descriptor.Digest, "rootfs", rootfs)
	spec, err := Config(img, rootfs, opts...)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		return fmt.Errorf("encode %s: %w", ConfigFile, err)
	}
	if err := writeFile(filepath.Join(dir, ConfigFile), append(data, '\n'), configMode); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	source := img.Descriptor
	if o.tag != "" {
		source.Annotations = maps.Clone(source.Annotations)
		if source.Annotations == nil {
			source.Annotations = map[string]string{}
		}
		source.Annotations[v1.AnnotationRefName] = o.tag
	}
	layoutDir := ""
	if ls, ok := p.(content.LocalStore); ok {
		layoutDir = ls.Dir()
	}
	return repack.Record(ctx, dir, layoutDir, source)
}

// Config is the runtime configuration Unpack writes for img, whose root
// filesystem is at rootfs (read for Config.User's names and HOME): the
// image configuration converted by convert.RuntimeSpec with the options'
// overrides (WithConvertOptions, WithRootless). `ocikit image run` calls
// it too, so both paths give a container the same process. An image
// without a command converts with empty process.args (convert.WithoutCommand):
// only running needs one.
func Config(img *content.Image, rootfs string, opts ...Option) (*specs.Spec, error) {
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	if mt := img.Manifest.Config.MediaType; mt != v1.MediaTypeImageConfig && mt != layout.MediaTypeDockerConfig {
		return nil, fmt.Errorf("%w: manifest %s has config media type %q", ErrNotImage, img.Descriptor.Digest, mt)
	}
	convOpts := append(o.convert[:len(o.convert):len(o.convert)], convert.WithoutCommand())
	if o.rootless {
		convOpts = append(convOpts, convert.WithRootless())
	}
	spec, err := convert.RuntimeSpec(img.Config, rootfs, convOpts...)
	if err != nil {
		return nil, err
	}
	if u := spec.Process.User; rootfs != "" && o.rootless && (u.UID != 0 || u.GID != 0) {
		// The rootless user namespace maps only the caller, as 0:0.
		o.log.Warn("rootless bundle: the process user is not mapped in the user namespace (only 0:0 is); use --user 0:0 or add uid/gid mappings to config.json",
			"uid", u.UID, "gid", u.GID)
	}
	return spec, nil
}

// Precheck is Config without a root filesystem, with the user taken as
// 0: everything but user and group names is checked before anything is
// unpacked.
func Precheck(img *content.Image, opts ...Option) (*specs.Spec, error) {
	return Config(img, "", append(opts[:len(opts):len(opts)], WithConvertOptions(convert.WithUser("0")))...)
}

// unpackRootfs unpacks img's layers into dir itself. layer.Unpack leaves
// its target as it was on failure; an existing empty dir is replaced by
// rename(2), which (unlike os.Rename) accepts an empty directory as the
// new name, so the swap is atomic.
func unpackRootfs(ctx context.Context, p content.Provider, img *content.Image, dir string, existed bool, opts []layer.Option, log *slog.Logger) error {
	target := dir
	if existed {
		tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".rootfs-")
		if err != nil {
			return fmt.Errorf("create temporary rootfs: %w", err)
		}
		if err := os.Remove(tmp); err != nil { // layer.Unpack creates it
			return fmt.Errorf("create temporary rootfs: %w", err)
		}
		target = tmp
	}
	if err := layer.Unpack(ctx, p, img.Manifest, img.Config, target, opts...); err != nil {
		return fmt.Errorf("unpack %s: %w", dir, err)
	}
	if target != dir {
		if err := syscall.Rename(target, dir); err != nil {
			if rerr := removeAll(target); rerr != nil {
				log.Warn("could not remove temporary rootfs", "path", target, "error", rerr)
			}
			return fmt.Errorf("move rootfs into place: %w", &os.LinkError{Op: "rename", Old: target, New: dir, Err: err})
		}
	}
	log.Debug("unpacked root filesystem", "image", img.Descriptor.Digest, "rootfs", dir)
	return nil
}

// checkTarget reports whether dir exists as an empty directory; a missing
// dir is fine, anything else is ErrNotEmpty.
func checkTarget(dir string) (existed bool, err error) {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("bundle: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("bundle: %w", err)
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("%w: %s", ErrNotEmpty, dir)
	}
	names, err := f.Readdirnames(1)
	if err != nil && err != io.EOF {
		return false, fmt.Errorf("bundle: %w", err)
	}
	if len(names) > 0 {
		return false, fmt.Errorf("%w: %s", ErrNotEmpty, dir)
	}
	return true, nil
}

// writeFile writes data to name atomically and durably (never seen
// half-written).
func writeFile(name string, data []byte, mode os.FileMode) error {
	if err := fsutil.WriteFile(name, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(name), err)
	}
	return nil
}

// clean undoes a failed Unpack: it removes dir when Unpack created it, and
// otherwise everything inside it (dir was empty before). Directories an
// image made read-only are made writable first, since an unprivileged
// caller could not remove their entries otherwise.
func clean(dir string, removeDir bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		errs = append(errs, removeAll(filepath.Join(dir, e.Name())))
	}
	if removeDir {
		errs = append(errs, os.Remove(dir))
	}
	return errors.Join(errs...)
}

func removeAll(p string) error {
	if err := os.RemoveAll(p); err == nil {
		return nil
	}
	_ = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(path, 0o700)
		}
		return nil
	})
	return os.RemoveAll(p)
}
