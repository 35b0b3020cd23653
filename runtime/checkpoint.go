package runtime

import "os"

// CgroupsMode is how CRIU handles the container's cgroups
// (--manage-cgroups-mode, criu's own modes): "soft" (CRIU's default)
// restores a cgroup's properties only when CRIU created it, "full" always,
// "strict" also fails when a cgroup it would create exists, "ignore"
// neither dumps nor restores them. Empty is CRIU's default.
type CgroupsMode string

// CRIUOptions are the flags checkpoint and restore share (runc's).
type CRIUOptions struct {
	// ImagePath is the directory of the checkpoint images (created by
	// checkpoint).
	ImagePath string
	// WorkPath is where CRIU writes its log (dump.log, restore.log) and
	// temporary files; default ImagePath.
	WorkPath string
	// TCPEstablished, ExtUnixSk, ShellJob and FileLocks allow what CRIU
	// refuses by default: established TCP connections, unix sockets
	// connected outside the container, a session leader whose terminal
	// is outside, file locks.
	TCPEstablished bool
	ExtUnixSk      bool
	ShellJob       bool
	FileLocks      bool
	// ManageCgroupsMode is soft, full, strict or ignore (empty: soft).
	ManageCgroupsMode CgroupsMode
}

// CheckpointOptions are the options of checkpoint (runc's flags).
type CheckpointOptions struct {
	CRIUOptions
	// ParentPath is the directory of a previous (pre-)dump, relative to
	// ImagePath as CRIU reads it: only the memory changed since goes into
	// this one.
	ParentPath string
	// LeaveRunning keeps the container running after the dump; without
	// it the container is stopped and deleted, as with runc.
	LeaveRunning bool
	// PreDump dumps only the memory, with the container left running,
	// for a later dump with ParentPath.
	PreDump bool
	// EmptyNs lists the namespaces (types) whose contents are not dumped:
	// restore gets them empty (network, for a fresh network namespace).
	// CRIU knows only network.
	EmptyNs []string
	// AutoDedup punches the pages a dump takes over from its parent out
	// of the parent's images.
	AutoDedup bool
	// PageServer is ADDRESS:PORT of a CRIU page server. Without LazyPages
	// the dump sends the memory there (`criu page-server` on the
	// destination) instead of writing it to the images.
	PageServer string
	// LazyPages (runc's --lazy-pages) dumps everything but the memory and
	// then serves the memory itself at PageServer, where the destination's
	// `criu lazy-pages --page-server` daemon fetches it as the restored
	// processes touch it (restore with LazyPages). The container stays
	// frozen, and Checkpoint does not return, until every page has gone;
	// then it is stopped and deleted as after any dump. Needs userfaultfd
	// on the restoring side.
	LazyPages bool
	// StatusFd, with LazyPages, receives one zero byte once the images
	// are written and the page server listens (CRIU's status-ready), and
	// is closed then: the caller may copy the images and start the
	// restore. Checkpoint does not close it otherwise.
	StatusFd *os.File
}

// RestoreOptions are the options of restore besides those of create
// (--bundle, --pid-file, --console-socket, --no-pivot).
type RestoreOptions struct {
	CRIUOptions
	// Detach returns once the container runs; without it restore waits
	// for the program in the foreground (as `run`) and deletes the
	// container when it exits.
	Detach bool
	// NoSubreaper: the foreground restore is not a child subreaper.
	NoSubreaper bool
	// AutoDedup punches the restored pages out of the images.
	AutoDedup bool
	// EmptyNs lists the namespaces (types) restored empty (runc's
	// --empty-ns): the restored processes get a new namespace of that
	// type whose contents (for network: links, addresses, routes,
	// firewall rules) are not restored, for the caller to configure, for
	// instance from a prestart or createRuntime hook. CRIU knows only
	// network.
	EmptyNs []string
	// LazyPages restores the memory on demand (userfaultfd) from a `criu
	// lazy-pages` daemon the caller started on the images (serving its
	// work directory, the restore's work path), which fetches it from the
	// page server of a checkpoint with LazyPages or reads it from the
	// images of an ordinary dump.
	LazyPages bool
	// LsmProfile (TYPE:NAME) and LsmMountContext replace the dumped LSM
	// profile and mount context.
	LsmProfile      string
	LsmMountContext string
}

// CriuConfigAnnotation names a CRIU configuration file for the
// container's checkpoint and restore (runc's annotation); an empty value
// reads none. Without it CRIU reads /etc/criu/ocikit.conf when it exists.
const CriuConfigAnnotation = "org.criu.config"
