package runtime

import (
	"io"
	"log/slog"
	"os"
	"strconv"
)

// Runtime manages the containers whose state lives under one root
// directory (runc's --root).
type Runtime struct {
	root     string
	log      *slog.Logger
	systemd  bool
	rootless bool
}

// Option configures a Runtime.
type Option func(*Runtime)

// WithLogger sets the logger for warnings (a failing poststop hook) and
// debug messages.
func WithLogger(l *slog.Logger) Option { return func(r *Runtime) { r.log = l } }

// WithSystemdCgroup makes cgroups be managed through systemd, with
// cgroupsPath in the "slice:prefix:name" form.
func WithSystemdCgroup(on bool) Option { return func(r *Runtime) { r.systemd = on } }

// WithRootless tolerates what an unprivileged user cannot do with
// cgroups, as runc --rootless does: a cgroup that cannot be created or
// joined leaves the container in the caller's cgroup (with a warning).
// Permission errors are fatal otherwise.
func WithRootless(on bool) Option { return func(r *Runtime) { r.rootless = on } }

// New returns a Runtime keeping container state under root.
func New(root string, opts ...Option) *Runtime {
	r := &Runtime{root: root}
	for _, o := range opts {
		o(r)
	}
	if r.log == nil {
		r.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return r
}

// AnnotationRemoveBundle, set to "true" in a configuration's annotations,
// makes delete (also delete --force, and run's delete after the program
// exits) remove the bundle directory after the container: a bundle made for
// one container, as `ocikit image run` makes them. Only the bundle the
// container was created from is ever removed.
const AnnotationRemoveBundle = "org.ocikit.bundle.remove-on-delete"

// CreateOptions are the options of the create operation (runc's flags).
type CreateOptions struct {
	// PidFile, when set, receives the init's pid once created.
	PidFile string
	// ConsoleSocket is the path of a unix socket that receives the pty
	// master when process.terminal is true.
	ConsoleSocket string
	// NoPivot uses MS_MOVE and chroot instead of pivot_root (for a rootfs
	// on a ramdisk).
	NoPivot bool
	// NoNewKeyring keeps the caller's session keyring instead of a new one.
	NoNewKeyring bool
	// PreserveFDs passes this many file descriptors after stderr (3, 4,
	// ...) to the container process. They must be inheritable (not
	// close-on-exec), as those the runtime's caller passed are; every other
	// descriptor is kept from the container.
	PreserveFDs int
	// Config is the configuration file (runc's --config; default the
	// bundle's config.json). Relative paths in it, root.path among them,
	// stay relative to the bundle.
	Config string
	// PidfdSocket is the path of a unix socket that receives a pidfd of
	// the init once created (runc's --pidfd-socket).
	PidfdSocket string
	// Keep leaves a container that Run started in the foreground in
	// place, stopped, when its program exits (runc run --keep); delete
	// removes it.
	Keep bool
	// NoSubreaper makes Run not a child subreaper (runc --no-subreaper).
	// An init that nsenter forks (a new pid or time namespace) is then
	// not Run's child: Run waits for it through a pidfd instead.
	NoSubreaper bool
	// ListenFDs passes this many socket-activation descriptors (3, 4, ...,
	// the preserved ones follow them) to the container process, whose
	// environment gains LISTEN_FDS and LISTEN_PID=1, as runc does when
	// systemd starts it (sd_listen_fds(3)). See SocketActivation.
	ListenFDs int
	// Stdin, Stdout and Stderr are the container's stdio when
	// process.terminal is false (nil: the caller's). They are files because
	// the container keeps them after create returns.
	Stdin, Stdout, Stderr *os.File
}

// SocketActivation is the number of descriptors a socket activation
// passed to this process: LISTEN_FDS when LISTEN_PID is this process
// (sd_listen_fds(3)), 0 otherwise. create and run pass them on as runc.
func SocketActivation() int {
	if os.Getenv("LISTEN_PID") != strconv.Itoa(os.Getpid()) {
		return 0
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func orStd(f, std *os.File) *os.File {
	if f == nil {
		return std
	}
	return f
}
