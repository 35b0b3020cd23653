package convert

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ocikit/ocikit/errdefs"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ocikit/ocikit/runtime/defaults"
)

var (
	// ErrNoCommand: neither the image nor the caller gives a command, and
	// runtime-spec requires at least one entry in process.args.
	ErrNoCommand = errdefs.New(errdefs.ErrInvalid, "convert: no command")
	// ErrInvalidEnv: an environment override is not KEY=VALUE.
	ErrInvalidEnv = errdefs.New(errdefs.ErrInvalid, "convert: invalid environment variable")
	// ErrInvalidCwd: a working directory override is not absolute.
	ErrInvalidCwd = errdefs.New(errdefs.ErrInvalid, "convert: invalid working directory")
	// ErrUnsupportedOS: the image is built for an OS other than Linux.
	ErrUnsupportedOS = errdefs.New(errdefs.ErrUnsupported, "convert: unsupported image os")
)

// Annotation keys set from the image configuration (conversion.md
// "Annotation Fields" and "Config.ExposedPorts").
const (
	AnnotationOS           = "org.opencontainers.image.os"
	AnnotationArchitecture = "org.opencontainers.image.architecture"
	AnnotationVariant      = "org.opencontainers.image.variant"
	AnnotationOSVersion    = "org.opencontainers.image.os.version"
	AnnotationOSFeatures   = "org.opencontainers.image.os.features"
	AnnotationAuthor       = "org.opencontainers.image.author"
	AnnotationCreated      = "org.opencontainers.image.created"
	AnnotationStopSignal   = "org.opencontainers.image.stopSignal"
	AnnotationExposedPorts = "org.opencontainers.image.exposedPorts"
)

// Option adds an externally provided input to the conversion. conversion.md
// treats such inputs as modifications of the image configuration, so they
// are applied before the configuration is converted.
type Option func(*options)

type options struct {
	args, entrypoint       []string
	argsSet, entrypointSet bool
	env                    []string
	cwd                    string
	user                   *string
	volumes                bool
	rootless               bool
	allowNoCommand         bool
}

// WithArgs replaces the image's Cmd, as `docker run IMAGE ARGS...` does:
// the Entrypoint stays and args follow it.
func WithArgs(args ...string) Option {
	return func(o *options) { o.args, o.argsSet = slices.Clone(args), true }
}

// WithEntrypoint replaces the image's Entrypoint and, as Docker does, drops
// its Cmd (default arguments of the old entrypoint) unless WithArgs is
// also given. An empty entrypoint clears it.
func WithEntrypoint(entrypoint ...string) Option {
	return func(o *options) { o.entrypoint, o.entrypointSet = slices.Clone(entrypoint), true }
}

// WithEnv sets environment variables (KEY=VALUE) over the image's Env: an
// existing KEY is replaced in place, a new one appended.
func WithEnv(env ...string) Option {
	return func(o *options) { o.env = append(o.env, env...) }
}

// WithCwd replaces the image's WorkingDir; dir must be absolute.
func WithCwd(dir string) Option {
	return func(o *options) { o.cwd = dir }
}

// WithUser replaces the image's User (same syntax: user, uid, user:group,
// uid:gid, user:gid or uid:group).
func WithUser(user string) Option {
	return func(o *options) { o.user = &user }
}

// WithVolumesAsMounts turns each of the image's Volumes into a tmpfs mount.
//
// conversion.md leaves the kind of mount implementation-defined; it asks
// only that application data in these paths is not written to the root
// filesystem and not included in an image repacked from the container.
// A tmpfs meets both without leaving state on the host, needs no source
// directory (so the bundle stays relocatable and works rootless) and is
// never seen by repack. Its price: data lives as long as the container,
// and the image's own files at that path are hidden, not copied in (the
// MAY "seed the contents" is not done). The tmpfs is owned by the process
// user so a non-root process can write to it. For persistent data, add a
// bind mount to config.json instead.
func WithVolumesAsMounts() Option {
	return func(o *options) { o.volumes = true }
}

// WithoutCommand lets the conversion succeed when neither the image nor
// the caller gives a command: process.args is left empty for the caller
// to set before running (umoci unpacks such images too, with a warning;
// base images built by umoci or buildah often have none).
func WithoutCommand() Option {
	return func(o *options) { o.allowNoCommand = true }
}

// WithRootless makes the configuration runnable by an unprivileged user
// (defaults.ToRootless: a user namespace mapping the caller to root). The
// process gets no supplementary groups: that namespace cannot hold them.
func WithRootless() Option {
	return func(o *options) { o.rootless = true }
}

// RuntimeSpec converts an image configuration into a runtime-spec
// configuration (image-spec conversion.md), starting from defaults.Spec().
// rootfs is the image's extracted root filesystem: Config.User names are
// resolved through its /etc/passwd and /etc/group. With rootfs empty only
// numeric users can be resolved.
//
// The implementation-defined parts: process.terminal is false (the
// process's stdio are the caller's), root is "rootfs" and writable (as
// umoci does), PATH is added when the image sets none, HOME is added from
// /etc/passwd when neither the image nor the caller sets it (both as
// Docker does), and a missing WorkingDir is "/". A relative WorkingDir in
// the image is taken relative to "/", as Docker's builder does, because
// runtime-spec requires an absolute process.cwd.
func RuntimeSpec(img v1.Image, rootfs string, opts ...Option) (*specs.Spec, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if img.OS != "" && img.OS != "linux" {
		return nil, fmt.Errorf("%w %q: want linux", ErrUnsupportedOS, img.OS)
	}
	ic := img.Config
	spec := defaults.Spec()
	spec.Root = &specs.Root{Path: "rootfs", Readonly: false}
	p := spec.Process
	p.Terminal = false

	// conversion.md "Verbatim Fields" note 2: args = Entrypoint + Cmd.
	entrypoint, cmd := ic.Entrypoint, ic.Cmd
	if o.entrypointSet {
		entrypoint, cmd = o.entrypoint, nil
	}
	if o.argsSet {
		cmd = o.args
	}
	p.Args = append(slices.Clone(entrypoint), cmd...)
	if len(p.Args) == 0 && !o.allowNoCommand {
		return nil, fmt.Errorf("%w: neither Entrypoint nor Cmd is set", ErrNoCommand)
	}

	p.Cwd = "/"
	if ic.WorkingDir != "" {
		p.Cwd = ic.WorkingDir
		if !path.IsAbs(p.Cwd) {
			p.Cwd = path.Join("/", p.Cwd)
		}
	}
	if o.cwd != "" {
		if !path.IsAbs(o.cwd) {
			return nil, fmt.Errorf("%w %q: must be absolute", ErrInvalidCwd, o.cwd)
		}
		p.Cwd = o.cwd
	}

	userSpec := ic.User
	if o.user != nil {
		userSpec = *o.user
	}
	var eu ExecUser
	var err error
	if rootfs == "" {
		eu, err = ResolveUser(userSpec, nil, nil)
	} else {
		eu, err = LookupUser(rootfs, userSpec)
	}
	if err != nil {
		return nil, err
	}
	p.User = eu.User

	env, err := mergeEnv(ic.Env, o.env)
	if err != nil {
		return nil, err
	}
	// conversion.md note 1: added entries never shadow the image's.
	if !hasEnv(env, "PATH") {
		env = append(env, defaultEnv("PATH"))
	}
	if eu.Home != "" && !hasEnv(env, "HOME") {
		env = append(env, "HOME="+eu.Home)
	}
	p.Env = env

	spec.Annotations = annotations(img)
	if o.volumes {
		spec.Mounts = append(spec.Mounts, volumeMounts(ic.Volumes, spec.Mounts, eu.User)...)
	}
	if o.rootless {
		defaults.ToRootless(spec)
		// The rootless user namespace maps the caller alone, and an
		// unprivileged runtime must deny setgroups(2) in it
		// (user_namespaces(7)): supplementary groups would make the
		// container fail to start, so there are none.
		p.User.AdditionalGids = nil
	}
	return spec, nil
}

// annotations builds the implicit annotations of conversion.md, then lays
// Config.Labels over them: labels MUST take precedence.
func annotations(img v1.Image) map[string]string {
	a := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			a[k] = v
		}
	}
	set(AnnotationOS, img.OS)
	set(AnnotationArchitecture, img.Architecture)
	set(AnnotationVariant, img.Variant)
	set(AnnotationOSVersion, img.OSVersion)
	set(AnnotationOSFeatures, strings.Join(img.OSFeatures, ","))
	set(AnnotationAuthor, img.Author)
	if img.Created != nil {
		set(AnnotationCreated, img.Created.Format(time.RFC3339Nano))
	}
	set(AnnotationStopSignal, img.Config.StopSignal)
	if len(img.Config.ExposedPorts) > 0 {
		ports := make([]string, 0, len(img.Config.ExposedPorts))
		for p := range img.Config.ExposedPorts {
			ports = append(ports, p)
		}
		slices.Sort(ports)
		set(AnnotationExposedPorts, strings.Join(ports, ","))
	}
	for k, v := range img.Config.Labels {
		if k != "" { // runtime-spec: keys MUST NOT be empty
			a[k] = v
		}
	}
	if len(a) == 0 {
		return nil
	}
	return a
}

// mergeEnv applies overrides (KEY=VALUE) to the image's Env, which is
// copied verbatim (conversion.md "Verbatim Fields").
func mergeEnv(image, overrides []string) ([]string, error) {
	env := slices.Clone(image)
	for _, kv := range overrides {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsRune(kv, 0) {
			return nil, fmt.Errorf("%w %s: want KEY=VALUE", ErrInvalidEnv, strconv.Quote(kv))
		}
		// Replace the first KEY in place and drop later duplicates, so
		// the process sees the override whichever entry it looks up.
		replaced := false
		out := env[:0]
		for _, e := range env {
			if ek, _, _ := strings.Cut(e, "="); ek == k {
				if replaced {
					continue
				}
				e, replaced = kv, true
			}
			out = append(out, e)
		}
		env = out
		if !replaced {
			env = append(env, kv)
		}
	}
	return env, nil
}

func hasEnv(env []string, key string) bool {
	for _, e := range env {
		if k, _, _ := strings.Cut(e, "="); k == key {
			return true
		}
	}
	return false
}

func defaultEnv(key string) string {
	for _, e := range defaults.Spec().Process.Env {
		if k, _, _ := strings.Cut(e, "="); k == key {
			return e
		}
	}
	return ""
}

// volumeMounts returns a tmpfs mount per volume (see WithVolumesAsMounts),
// sorted so a parent directory is mounted before its children. Volumes at
// a path the configuration already mounts are skipped.
func volumeMounts(volumes map[string]struct{}, existing []specs.Mount, user specs.User) []specs.Mount {
	taken := map[string]bool{}
	for _, m := range existing {
		taken[path.Clean(m.Destination)] = true
	}
	var dests []string
	for v := range volumes {
		d := path.Join("/", v)
		if d == "/" || taken[d] {
			continue
		}
		taken[d] = true
		dests = append(dests, d)
	}
	slices.Sort(dests)
	mounts := make([]specs.Mount, 0, len(dests))
	for _, d := range dests {
		opts := []string{"rw", "nosuid", "nodev", "mode=755"}
		if user.UID != 0 {
			opts = append(opts, "uid="+strconv.FormatUint(uint64(user.UID), 10))
		}
		if user.GID != 0 {
			opts = append(opts, "gid="+strconv.FormatUint(uint64(user.GID), 10))
		}
		mounts = append(mounts, specs.Mount{Destination: d, Type: "tmpfs", Source: "tmpfs", Options: opts})
	}
	return mounts
}
