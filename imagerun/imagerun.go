package imagerun

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ocikit/ocikit/bundle"
	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/convert"
	"github.com/ocikit/ocikit/distribution"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/registry"
	"github.com/ocikit/ocikit/runtime"
	"github.com/ocikit/ocikit/runtime/rootfs"
	"github.com/ocikit/ocikit/snapshot"
)

// ErrVolumeSource: a volume's source does not exist.
var ErrVolumeSource = errdefs.New(errdefs.ErrNotFound, "image run: volume source does not exist")

// Volume is a bind mount of a host path into the container (-v SRC:DST[:ro]).
type Volume struct {
	Source, Destination string
	ReadOnly            bool
}

// Options are image run's choices beyond the image.
type Options struct {
	// ID names the container (default: 16 random hex digits).
	ID string
	// Platform chooses from an image index (default: this host's).
	Platform *v1.Platform
	// Registry configures the client for a docker:// reference
	// (TLS verification, credentials).
	Registry []registry.Option
	// Bundle carries the overrides of the image's configuration
	// (bundle.WithConvertOptions), applied exactly as image unpack does.
	Bundle []bundle.Option
	// Terminal gives the process a terminal (-t).
	Terminal bool
	// ReadOnly makes the root filesystem read-only (--read-only).
	ReadOnly bool
	Volumes  []Volume
	// Tmpfs are destinations of tmpfs mounts.
	Tmpfs []string
	// Resources are added to the configuration's linux.resources.
	Resources *specs.LinuxResources
	// HostNetwork shares the host's network namespace (--net host);
	// otherwise the container gets its own, with loopback only.
	HostNetwork bool
	// Detach returns once the program runs; Remove deletes the container
	// and its directory when it exits in the foreground.
	Detach, Remove bool
	// Reaper is the command (argv, [0] the executable; "--rm" with
	// Remove, "--console-log FILE" with Terminal, and the container's id
	// are added) started in the background for Detach with Remove or
	// Terminal: it keeps the terminal's pty master, given as its
	// descriptor 3 (KeepConsole), waits for the program and with --rm
	// deletes the container (WaitAndDelete; `ocikit image run-wait`).
	Reaper []string
	// SnapshotHelper is the command (argv; "--store DIR DIGEST" is
	// added) that a rootless store's missing snapshots are made by: it is
	// started in a user and mount namespace of its own, where it may mount
	// overlays, and calls PrepareSnapshots (`ocikit image run-prepare`).
	SnapshotHelper []string
	// CopyRootfs makes the root filesystem a copy of the snapshots
	// (snapshot.ApplySnapshots), as where the kernel refuses an overlay,
	// without asking the kernel (OCIKIT_ROOTFS_COPY=1; for tests and for
	// filesystems whose overlay misbehaves).
	CopyRootfs bool
	// Progress receives progress lines (copies, snapshots); nil: none.
	Progress io.Writer
	// Log receives warnings and the fallback notice.
	Log *slog.Logger
}

// Runtime is what Run needs of a runtime: the plain one
// (*runtime.Runtime) or the VM one (*vm.Runtime, which mounts the
// overlay annotation on the host and shares it with its guest).
type Runtime interface {
	Run(ctx context.Context, id, bundle string, o runtime.CreateOptions) (int, error)
	RunDetached(ctx context.Context, id, bundle string, o runtime.CreateOptions) error
	Delete(ctx context.Context, id string, force bool) error
}

// StateDeleter is what WaitAndDelete needs of a runtime (the plain or the
// VM one: in both the state's pid is a host process that lives as long as
// the container's program).
type StateDeleter interface {
	State(ctx context.Context, id string) (*runtime.State, error)
	Delete(ctx context.Context, id string, force bool) error
}

// Runner runs images from a store with a runtime.
type Runner struct {
	Store *snapshot.Store
	// Runtime is the runtime; Root its state root (recorded for GC).
	Runtime Runtime
	Root    string
}

// Run runs the image ref names (a transport reference as `image copy`
// takes) as a new container: what the store lacks is copied in, the
// missing snapshots are made, the container's directory gets an empty
// root, an upper and a work directory and config.json (bundle.Config with
// o's overrides), whose annotation rootfs.AnnotationOverlay makes the
// runtime mount the overlay inside the container's mount namespace. It
// returns the container's id and, in the foreground, the program's exit
// status.
func (r *Runner) Run(ctx context.Context, ref string, o Options) (id string, code int, err error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	pr := progress{w: o.Progress}
	t0 := time.Now()
	sref, err := distribution.ParseReference(ref)
	if err != nil {
		return "", -1, err
	}
	for _, v := range o.Volumes {
		if _, err := os.Stat(v.Source); err != nil {
			return "", -1, fmt.Errorf("%w: %s: %w", ErrVolumeSource, v.Source, err)
		}
	}
	src, closeSrc, err := distribution.OpenSource(ctx, sref, o.Registry...)
	if err != nil {
		return "", -1, err
	}
	defer closeSrc()
	name := sref.Name()
	if name == "" {
		if name, err = distribution.DefaultName(ctx, src); err != nil {
			return "", -1, err
		}
	}
	var ropts []content.ResolveOption
	var copts []distribution.Option
	if o.Platform != nil {
		ropts = append(ropts, content.WithPlatform(*o.Platform))
		copts = append(copts, distribution.WithPlatform(*o.Platform))
	}
	img, err := src.Resolve(ctx, name, ropts...)
	if err != nil {
		return "", -1, fmt.Errorf("image %s: %w", ref, err)
	}
	pre, err := bundle.Precheck(img, o.Bundle...)
	if err != nil {
		return "", -1, fmt.Errorf("image %s: %w", ref, err)
	}
	if len(pre.Process.Args) == 0 {
		return "", -1, fmt.Errorf("image %s: %w: neither Entrypoint nor Cmd is set; give one after -- or with --entrypoint", ref, convert.ErrNoCommand)
	}

	o.Log.Debug("image resolved", "image", img.Descriptor.Digest, "elapsed", time.Since(t0))
	unlock, err := r.Store.Lock(ctx, false)
	if err != nil {
		return "", -1, err
	}
	c, spec, err := r.prepare(ctx, src, name, img, copts, o, pr)
	unlock()
	if err != nil {
		return "", -1, err
	}
	defer c.Release()
	id = filepath.Base(c.Dir)
	o.Log.Debug("container prepared", "container", id, "elapsed", time.Since(t0))
	// Not synced: the directory lives no longer than the container, and
	// a crash leaves it to GC.
	if err := os.WriteFile(filepath.Join(c.Dir, bundle.ConfigFile), spec, 0o600); err != nil {
		r.Store.RemoveContainer(id)
		return "", -1, err
	}
	// From here the runtime owns the container; deleting it removes the
	// directory (runtime.AnnotationRemoveBundle).
	gone := func() {
		if err := r.Store.RemoveContainer(id); err != nil && !errors.Is(err, snapshot.ErrContainerNotFound) {
			o.Log.Warn("remove container directory", "container", id, "error", err)
		}
	}
	if o.Detach {
		if err := r.runDetached(ctx, id, c.Dir, o); err != nil {
			gone()
			return "", -1, fmt.Errorf("run %s: %w", id, err)
		}
		return id, 0, nil
	}
	code, err = r.Runtime.Run(ctx, id, c.Dir, runtime.CreateOptions{Keep: !o.Remove})
	if err != nil {
		gone()
		return id, -1, fmt.Errorf("run %s: %w", id, err)
	}
	return id, code, nil
}

// runDetached starts the container and returns. With a terminal the
// runtime sends the pty master to a console socket (runc's detached
// terminal) and the Reaper keeps it (KeepConsole: `image run-wait
// --console-log`), logging the output to console.log in the container's
// directory; with Remove the Reaper deletes the container once its
// program exits (WaitAndDelete).
func (r *Runner) runDetached(ctx context.Context, id, dir string, o Options) error {
	var copts runtime.CreateOptions
	var cs *consoleSocket
	if o.Terminal {
		if len(o.Reaper) == 0 {
			return fmt.Errorf("-d with -t: %w: no process to keep the terminal (Options.Reaper)", errdefs.ErrInvalid)
		}
		var err error
		if cs, err = newConsoleSocket(); err != nil {
			return err
		}
		defer cs.Close()
		copts.ConsoleSocket = cs.path
	}
	if err := r.Runtime.RunDetached(ctx, id, dir, copts); err != nil {
		return err
	}
	argv := slices.Clone(o.Reaper)
	if o.Remove {
		argv = append(argv, "--rm")
	}
	if cs == nil {
		if o.Remove && len(argv) > 0 {
			if err := startReaper(append(argv, id), nil); err != nil {
				o.Log.Warn("--rm: cannot wait for the container in the background; delete it when done", "container", id, "error", err)
			}
		}
		return nil
	}
	master, err := cs.master()
	if err == nil {
		err = startReaper(append(argv, "--console-log", filepath.Join(dir, ConsoleLog), id), master)
		master.Close()
	}
	if err != nil {
		// Without its terminal's master the program would be hung up.
		r.Runtime.Delete(ctx, id, true)
		return err
	}
	return nil
}

// ConsoleLog is the file in a container's directory that the output of a
// program started detached with a terminal goes to.
const ConsoleLog = "console.log"

// prepare puts the image and its snapshots in the store and makes the
// container's directory; it returns the encoded config.json.
func (r *Runner) prepare(ctx context.Context, src content.ImageSource, name string, img *content.Image, copts []distribution.Option, o Options, pr progress) (*snapshot.Container, []byte, error) {
	s := r.Store
	tag := snapshot.ImageTag(img.Descriptor.Digest)
	if d, err := s.Images().Lookup(ctx, tag); err != nil || d.Digest != img.Descriptor.Digest {
		copts = append(copts, distribution.WithProgress(pr.copied))
		rep, err := distribution.Copy(ctx, src, name, s.Images(), tag, copts...)
		if err != nil {
			return nil, nil, fmt.Errorf("copy into store: %w", err)
		}
		if rep.Descriptor.Digest != img.Descriptor.Digest {
			return nil, nil, fmt.Errorf("copy into store: got %s, resolved %s: %w", rep.Descriptor.Digest, img.Descriptor.Digest, errdefs.ErrDigestMismatch)
		}
	}
	if s.Rootless() && (s.Missing(img) || !probed(s)) {
		if err := runHelper(ctx, o.SnapshotHelper, s.Dir(), img.Descriptor.Digest, o.Progress); err != nil {
			return nil, nil, err
		}
	}
	lowers, _, err := s.Prepare(ctx, s.Images(), img, pr.snapshot)
	if err != nil {
		return nil, nil, err
	}
	id := o.ID
	if id == "" {
		id = randomID()
	}
	root, err := filepath.Abs(r.Root) // GC runs from anywhere
	if err != nil {
		return nil, nil, err
	}
	c, err := s.NewContainer(snapshot.ContainerMeta{ID: id, Root: root, Image: img.Descriptor.Digest,
		Snapshots: snapshot.ChainIDs(img.Config.RootFS.DiffIDs)})
	if err != nil {
		return nil, nil, err
	}
	data, err := r.configure(img, c, lowers, o)
	if err != nil {
		c.Release()
		s.RemoveContainer(id)
		return nil, nil, err
	}
	return c, data, nil
}

// configure builds the container's configuration: the image's, through the
// merged root filesystem, with o's changes.
func (r *Runner) configure(img *content.Image, c *snapshot.Container, lowers []string, o Options) ([]byte, error) {
	view := c.Rootfs
	overlay := ""
	if len(lowers) > 0 {
		// The image's users, merged through the chain when the snapshot
		// was made: no mount needed to read them.
		view = snapshot.UsersDir(lowers[len(lowers)-1])
		if err := snapshot.CopyRootAttrs(lowers[len(lowers)-1], c.Upper); err != nil {
			return nil, err
		}
		var err error
		switch {
		case o.CopyRootfs:
		case r.Store.Rootless():
			// The helper probed, in a user namespace.
			err = probeResult(r.Store)
		default:
			err = probeOverlay(r.Store, lowers)
		}
		switch {
		case o.CopyRootfs:
			if err := snapshot.ApplySnapshots(lowers, c.Rootfs); err != nil {
				return nil, err
			}
		case err == nil:
			overlay = r.Store.OverlayOptions(lowers, c.Upper, c.Work)
		case errors.Is(err, snapshot.ErrOverlay):
			if err := r.copyFallback(lowers, c, o.Log, err); err != nil {
				return nil, err
			}
		default:
			return nil, err
		}
	}
	bopts := o.Bundle
	if r.Store.Rootless() {
		// As `image unpack --rootless`: the caller is root of a user
		// namespace of its own.
		bopts = append(slices.Clip(bopts), bundle.WithRootless())
	}
	spec, err := bundle.Config(img, view, bopts...)
	if err != nil {
		return nil, err
	}
	id := filepath.Base(c.Dir)
	spec.Root = &specs.Root{Path: bundle.RootfsDir, Readonly: o.ReadOnly}
	spec.Hostname = id
	if len(id) > 12 {
		spec.Hostname = id[:12]
	}
	// As podman and docker: HOSTNAME names the container, unless the
	// image sets it.
	if !hasEnv(spec.Process.Env, "HOSTNAME") {
		spec.Process.Env = append(spec.Process.Env, "HOSTNAME="+spec.Hostname)
	}
	spec.Process.Terminal = o.Terminal
	// As podman (with or without -t): TERM=xterm unless the image sets it.
	if !hasEnv(spec.Process.Env, "TERM") {
		spec.Process.Env = append(spec.Process.Env, "TERM=xterm")
	}
	for _, v := range o.Volumes {
		src, err := filepath.Abs(v.Source)
		if err != nil {
			return nil, err
		}
		opts := []string{"rbind"}
		if v.ReadOnly {
			opts = append(opts, "ro")
		}
		spec.Mounts = append(spec.Mounts, specs.Mount{Destination: v.Destination, Type: "bind", Source: src, Options: opts})
	}
	for _, d := range o.Tmpfs {
		spec.Mounts = append(spec.Mounts, specs.Mount{Destination: d, Type: "tmpfs", Source: "tmpfs", Options: []string{"rw", "nosuid", "nodev", "mode=1777"}})
	}
	if res := o.Resources; res != nil {
		if spec.Linux.Resources == nil {
			spec.Linux.Resources = &specs.LinuxResources{}
		}
		devices := spec.Linux.Resources.Devices
		*spec.Linux.Resources = *res
		spec.Linux.Resources.Devices = append(devices, res.Devices...)
	}
	isNet := func(n specs.LinuxNamespace) bool { return n.Type == specs.NetworkNamespace }
	switch {
	case o.HostNetwork:
		spec.Linux.Namespaces = slices.DeleteFunc(spec.Linux.Namespaces, isNet)
	case !slices.ContainsFunc(spec.Linux.Namespaces, isNet):
		// Rootless conversion shares the host's network; --net none is
		// a namespace of the container's own (its user namespace owns it).
		spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	}
	if spec.Annotations == nil {
		spec.Annotations = map[string]string{}
	}
	if overlay != "" {
		spec.Annotations[rootfs.AnnotationOverlay] = overlay
	}
	// Deleting the container removes its directory, upper layer and all.
	spec.Annotations[runtime.AnnotationRemoveBundle] = "true"
	data, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// The store's record of its overlay probe: the kernel took the overlay
// (markerOK), or refused it (markerFailed, holding why; a rootless
// store's helper writes it), and the copy notice was given
// (markerRefused).
const (
	markerOK      = "overlay-ok"
	markerFailed  = "overlay-probe-failed"
	markerRefused = "overlay-refused"
)

// probeOverlay makes an overlay of lowers once, detached, the first time
// a store is used, to learn whether the kernel takes overlays there
// before the runtime tries (a failure in the container's mount namespace
// could not fall back); the answer is kept in the store. Unmounting costs
// milliseconds (an RCU grace period), which later runs save.
func probeOverlay(s *snapshot.Store, lowers []string) error {
	marker := filepath.Join(s.Dir(), markerOK)
	if _, err := os.Lstat(marker); err == nil {
		return nil
	}
	if err := s.ProbeOverlay(lowers); err != nil {
		return err
	}
	return os.WriteFile(marker, nil, 0o600)
}

// probed says whether the store's overlay probe has an answer.
func probed(s *snapshot.Store) bool {
	for _, m := range []string{markerOK, markerFailed} {
		if _, err := os.Lstat(filepath.Join(s.Dir(), m)); err == nil {
			return true
		}
	}
	return false
}

// probeResult is the answer a helper's probe recorded: nil, or
// ErrOverlay with the kernel's reason.
func probeResult(s *snapshot.Store) error {
	if _, err := os.Lstat(filepath.Join(s.Dir(), markerOK)); err == nil {
		return nil
	}
	why, err := os.ReadFile(filepath.Join(s.Dir(), markerFailed))
	if err != nil {
		return fmt.Errorf("overlay probe: %w", err)
	}
	return fmt.Errorf("%w: %s", snapshot.ErrOverlay, strings.TrimSpace(string(why)))
}

// PrepareSnapshots makes the missing snapshots of the image dgst names
// in s (whose blobs are there) and probes whether the kernel takes the
// store's overlays, recording the answer: what SnapshotHelper runs, in a
// user and mount namespace of its own, for a rootless store. Progress
// lines go to w.
func PrepareSnapshots(ctx context.Context, s *snapshot.Store, dgst digest.Digest, w io.Writer) error {
	img, err := s.Images().Resolve(ctx, snapshot.ImageTag(dgst))
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	lowers, _, err := s.Prepare(ctx, s.Images(), img, progress{w: w}.snapshot)
	if err != nil {
		return err
	}
	if probed(s) || len(lowers) == 0 {
		return nil
	}
	err = probeOverlay(s, lowers)
	if errors.Is(err, snapshot.ErrOverlay) {
		return os.WriteFile(filepath.Join(s.Dir(), markerFailed), []byte(err.Error()+"\n"), 0o600)
	}
	return err
}

// copyFallback fills the container's rootfs with a copy of the merged
// snapshots (reflinked where the filesystem can) when the kernel refuses
// the overlay; the notice is given once per store.
func (r *Runner) copyFallback(lowers []string, c *snapshot.Container, log *slog.Logger, why error) error {
	marker := filepath.Join(r.Store.Dir(), markerRefused)
	if _, err := os.Lstat(marker); err != nil {
		log.Warn("overlay mount refused: container root filesystems are copies (reflinked where the filesystem can)", "store", r.Store.Dir(), "error", why)
		os.WriteFile(marker, []byte(why.Error()+"\n"), 0o600)
	}
	return snapshot.ApplySnapshots(lowers, c.Rootfs)
}

func hasEnv(env []string, key string) bool {
	for _, e := range env {
		if k, _, _ := strings.Cut(e, "="); k == key {
			return true
		}
	}
	return false
}

func randomID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// progress prints one line per blob copied and per snapshot made.
type progress struct{ w io.Writer }

func (p progress) copied(e distribution.Event) {
	if p.w == nil {
		return
	}
	if e.Skipped {
		fmt.Fprintf(p.w, "blob %s: in the store\n", short(e.Descriptor.Digest))
		return
	}
	fmt.Fprintf(p.w, "blob %s: copied (%d bytes)\n", short(e.Descriptor.Digest), e.Descriptor.Size)
}

func (p progress) snapshot(desc v1.Descriptor, chain digest.Digest, done bool) {
	if p.w == nil || done {
		return
	}
	fmt.Fprintf(p.w, "layer %s: unpacking (snapshot %s)\n", short(desc.Digest), short(chain))
}

func short(d digest.Digest) string {
	if e := d.Encoded(); len(e) > 12 {
		return d.Algorithm().String() + ":" + e[:12]
	}
	return string(d)
}

// startReaper starts argv in a session of its own with no stdio and
// console, when not nil, as its descriptor 3, and does not wait for it.
func startReaper(argv []string, console *os.File) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if console != nil {
		cmd.ExtraFiles = []*os.File{console}
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	return cmd.Process.Release()
}
