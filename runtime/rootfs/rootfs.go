package rootfs

import (
	"log/slog"
	"os"
	"path"

	"github.com/ocikit/ocikit/errdefs"
)

// ErrNotSupported is returned on platforms without Linux mount namespaces.
var ErrNotSupported = errdefs.New(errdefs.ErrUnsupported, "rootfs: not supported on this platform")

// AnnotationOverlay, in a configuration's annotations, makes Prepare
// mount the root filesystem as an overlay (the value is the overlayfs
// option string: lowerdir=...,upperdir=...,workdir=...) onto root.path
// instead of binding root.path onto itself. The mount is made inside the
// container's own mount namespace, so it vanishes with the container's
// last process: nothing is left mounted on the host whatever becomes of
// the runtime (`ocikit image run` uses it). It needs a mount namespace.
const AnnotationOverlay = "org.ocikit.rootfs.overlay"

// Options tunes Prepare and Finish. The zero value is a container that uses
// pivot_root.
type Options struct {
	// NoPivot moves the root with MS_MOVE and chroot instead of pivot_root
	// (--no-pivot, for a root on a ramfs where pivot_root fails).
	NoPivot bool
	// NoMountNS says the process shares the runtime's mount namespace (the
	// config has none: config-linux.md "Namespaces", a type not listed is
	// inherited). Prepare then leaves the propagation of the host's mounts
	// alone and mounts only under the root filesystem, where the host sees
	// the mounts (the runtime removes them on delete, see UnmountUnder);
	// Finish chroots into the root instead of pivot_root and ignores
	// rootfsPropagation and NoPivot.
	NoMountNS bool
	// Logger receives debug messages; nil discards them.
	Logger *slog.Logger
	// UserNS says the process is in a user namespace other than the initial
	// one. When false, Prepare also detects it from /proc/self/uid_map.
	// In a user namespace device nodes are bind-mounted from the host (mknod
	// is not allowed) and sysfs, when it cannot be mounted, is /sys rbound.
	UserNS bool
	// CgroupPaths maps a cgroup v1 controller (as in cgroups.Manager
	// GetPaths: "cpu", "memory", "name=systemd", ...) to the absolute host
	// directory of the container's cgroup; the key "" is the cgroup v2
	// (unified) directory. Mounts of type cgroup bind these directories. When
	// nil the process's own cgroups (/proc/self/cgroup) are used.
	CgroupPaths map[string]string
	// Hierarchies, when set, are the cgroup hierarchies mounted under
	// /sys/fs/cgroup in the process's mount namespace (Hierarchies), read
	// beforehand by a runtime whose init has a new mount namespace (a copy
	// of its own): a cgroup mount on a v1 or hybrid host then reads no
	// mount table. Nil: read when needed.
	Hierarchies []Hierarchy
	// OpenSource, when set, asks the runtime for the source of
	// spec.Mounts[i], opened with the runtime's own privileges outside the
	// container's user namespace (OpenMountSource). Prepare asks, when it
	// comes to that mount, for every idmapped mount and for a bind source
	// it cannot reach itself; the file returned is Prepare's to close.
	OpenSource func(i int) (*os.File, error)
	// BeforeCgroupMount, when set, runs once, just before the first mount
	// of type cgroup or cgroup2: a process that joins its cgroup and
	// unshares its cgroup namespace late does it there, so that a cgroup2
	// mount is rooted at the container's cgroup while the mounts before it
	// happen, and are charged, outside.
	BeforeCgroupMount func() error
	// OpenProc, when set, returns a filesystem context (fsopen(2)) of
	// type proc for a mount of type proc: a procfs shows the pid namespace
	// of the process that opened its context, so a runtime that mounts a
	// container's root filesystem from outside its pid namespace has the
	// container's init open it. Prepare configures it with the mount's
	// options, creates it and moves it into place. The file is Prepare's
	// to close.
	OpenProc func() (*os.File, error)
}

func (o Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// containerPath makes dest absolute and clean; relative destinations are
// relative to "/" (config.md "Mounts": deprecated but allowed).
func containerPath(dest string) string { return path.Clean("/" + dest) }

// Hierarchy is a cgroup filesystem mounted on the host under /sys/fs/cgroup.
type Hierarchy struct {
	Mountpoint  string   // /sys/fs/cgroup/cpu,cpuacct
	Root        string   // the mount's root within the hierarchy (mountinfo field 4)
	Controllers []string // cpu, cpuacct, name=systemd; none for cgroup2
}
