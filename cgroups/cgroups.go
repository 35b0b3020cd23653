package cgroups

import (
	"log/slog"

	"github.com/ocikit/ocikit/errdefs"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var (
	// ErrNotSupported is returned on operating systems without cgroups.
	ErrNotSupported = errdefs.New(errdefs.ErrUnsupported, "cgroups: not supported on this operating system")
	// ErrSystemdUnavailable is returned by New and Load with
	// WithSystemd(true) when the systemd manager that would create the
	// unit is not reachable: systemd is not the init system, or (rootless)
	// the caller has no user manager's bus.
	ErrSystemdUnavailable = errdefs.New(errdefs.ErrUnsupported, "cgroups: systemd is not running")
	// ErrUnitExists is returned by Apply when the systemd unit of the
	// cgroupsPath exists already (another container's): Destroy then
	// leaves it alone.
	ErrUnitExists = errdefs.New(errdefs.ErrAlreadyExists, "cgroups: systemd unit exists already")
	// ErrInvalidPath is returned for a malformed cgroupsPath.
	ErrInvalidPath = errdefs.New(errdefs.ErrInvalid, "cgroups: invalid cgroupsPath")
	// ErrInvalidResources is returned for resource values the runtime cannot apply.
	ErrInvalidResources = errdefs.New(errdefs.ErrInvalid, "cgroups: invalid resources")
)

// State is what the runtime persists between invocations to find a
// container's cgroups again (Load). It is plain JSON.
type State struct {
	// ID is the container ID.
	ID string `json:"id"`
	// CgroupsPath is linux.cgroupsPath as given, or the default path.
	CgroupsPath string `json:"cgroupsPath"`
	// Systemd is true when the systemd driver manages the cgroup.
	Systemd bool `json:"systemd,omitempty"`
	// Rootless is true when permission errors are tolerated.
	Rootless bool `json:"rootless,omitempty"`
	// Paths maps a cgroup v1 controller name to its absolute directory; on
	// cgroup v2 the single key "" holds the unified directory. In hybrid
	// mode the "" key holds the cgroup2 directory beside the v1 ones.
	Paths map[string]string `json:"paths"`
	// Resources are the limits currently applied (the base Update merges
	// into), without the values that mean "not set" (withoutUnset).
	Resources *specs.LinuxResources `json:"resources,omitempty"`
}

// Option configures New.
type Option func(*options)

type options struct {
	systemd  bool
	rootless bool
	log      *slog.Logger
}

// WithSystemd selects the systemd driver: cgroupsPath is then
// "slice:prefix:name" as for runc --systemd-cgroup.
func WithSystemd(on bool) Option { return func(o *options) { o.systemd = on } }

// WithRootless tolerates permission errors when creating or joining the
// cgroup (a rootless container without delegated cgroups), as runc does.
// Errors when setting limits that were asked for are still reported.
func WithRootless(on bool) Option { return func(o *options) { o.rootless = on } }

// WithLogger sets the logger for warnings (ignored deprecated settings).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

func newOptions(opts []Option) *options {
	o := &options{}
	for _, f := range opts {
		f(o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	return o
}

// Mode is the cgroup layout of the host.
type Mode string

const (
	// Legacy is cgroup v1 only.
	Legacy Mode = "v1"
	// Hybrid is cgroup v1 controllers with a cgroup2 mount beside them
	// (/sys/fs/cgroup/unified), managed as v1.
	Hybrid Mode = "hybrid"
	// Unified is pure cgroup v2.
	Unified Mode = "v2"
)

// DefaultPath is the cgroupsPath used when linux.cgroupsPath is empty.
// For the systemd driver it is runc's with ocikit as the prefix: the scope
// ocikit-ID.scope in the default slice (system.slice, or user.slice of the
// user's manager when rootless), which an empty slice part selects.
func DefaultPath(id string, systemdDriver bool) string {
	if systemdDriver {
		return ":ocikit:" + id
	}
	return "/ocikit/" + id
}
