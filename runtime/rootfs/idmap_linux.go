package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/ocikit/ocikit/internal/osthread"
	"github.com/ocikit/ocikit/internal/userns"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// OpenMountSource opens the source of the bind mount spec.Mounts[i] for a
// container's init that asked for it (Options.OpenSource): with the
// caller's privileges, in the mount namespace mntns (the init's, so the
// source is looked up where the init would look, after the mounts before
// it). For an idmapped mount (idmap, ridmap, or uidMappings) it is a
// detached copy of the source with the mount's idmapping applied, else an
// O_PATH handle on the source. The caller owns the file. Errors do not name
// the mount: the init reporting them does.
//
// A bind source may lie where only the host's root can look it up, and an
// idmapped mount of a host filesystem needs CAP_SYS_ADMIN in the user
// namespace that owns the filesystem (mount_setattr(2)): a container in a
// user namespace cannot do either itself.
func OpenMountSource(spec *specs.Spec, bundle string, i int, mntns *os.File) (*os.File, error) {
	if spec == nil || i < 0 || i >= len(spec.Mounts) {
		return nil, fmt.Errorf("rootfs: no mount %d in the config", i)
	}
	m := &spec.Mounts[i]
	o, err := parseMount(m)
	if err != nil {
		return nil, err
	}
	s := &setup{spec: spec, bundle: bundle}
	if err := s.check(m, o); err != nil {
		return nil, err
	}
	if !o.bind() {
		return nil, errors.New("not a bind mount")
	}
	src, err := filepath.Abs(s.sourcePath(m))
	if err != nil {
		return nil, err
	}
	var ns *os.File
	if o.idmap || o.ridmap {
		if ns, err = idmapNS(spec, m); err != nil {
			return nil, err
		}
		defer ns.Close()
	}
	return inMountNS(mntns, func() (*os.File, error) {
		if ns != nil {
			return openIDMapped(ns, o, src)
		}
		fd, err := unix.Open(src, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: src, Err: err}
		}
		return os.NewFile(uintptr(fd), src), nil
	})
}

// inMountNS runs fn on a thread of its own that has joined the mount
// namespace mntns (osthread.Run: never unlocked, never the main thread):
// it ends with fn, its file system attributes and namespace with it.
func inMountNS(mntns *os.File, fn func() (*os.File, error)) (f *os.File, err error) {
	osthread.Run(func() {
		// setns(2) into a mount namespace needs a file system context
		// (root, cwd) no other thread shares.
		if err = unix.Unshare(unix.CLONE_FS); err != nil {
			err = os.NewSyscallError("unshare", err)
			return
		}
		if err = unix.Setns(int(mntns.Fd()), unix.CLONE_NEWNS); err != nil {
			err = os.NewSyscallError("setns mount namespace", err)
			return
		}
		f, err = fn()
	})
	return f, err
}

// idmapNS returns a user namespace holding the mount's uidMappings and
// gidMappings, or the container's when the mount has none (config.md
// "idmap").
func idmapNS(spec *specs.Spec, m *specs.Mount) (*os.File, error) {
	uids, gids := m.UIDMappings, m.GIDMappings
	if uids == nil && spec.Linux != nil {
		uids, gids = spec.Linux.UIDMappings, spec.Linux.GIDMappings
	}
	if err := ownProc(); err != nil {
		return nil, err
	}
	ns, err := userns.New(uids, gids)
	if err != nil {
		return nil, fmt.Errorf("user namespace for idmap: %w", err)
	}
	return ns, nil
}

// openIDMapped clones the source tree (open_tree OPEN_TREE_CLONE, with its
// submounts for rbind) and applies the idmapping of the user namespace ns
// (MOUNT_ATTR_IDMAP, to the whole tree for ridmap).
func openIDMapped(ns *os.File, o *mountOpts, src string) (*os.File, error) {
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	if o.rec() {
		flags |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, src, flags)
	if err != nil {
		return nil, &os.PathError{Op: "open_tree", Path: src, Err: err}
	}
	tree := os.NewFile(uintptr(fd), src)
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(ns.Fd())}
	var rec uint
	if o.ridmap {
		rec = unix.AT_RECURSIVE
	}
	if err := mountSetattr(tree, rec, &attr, src); err != nil {
		tree.Close()
		return nil, err
	}
	return tree, nil
}

// moveMount attaches a detached mount at the target.
func moveMount(tree *os.File, t *target) error {
	err := unix.MoveMount(int(tree.Fd()), "", int(t.fd.Fd()), "",
		unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
	if err != nil {
		return &os.PathError{Op: "move_mount", Path: t.name, Err: err}
	}
	return nil
}

// ownProc makes sure /proc shows the caller's PID namespace: the helper's
// uid_map is written through /proc/<pid> with the pid clone returned, in
// the caller's namespace. In a container's init (a new PID namespace whose
// /proc is still the host's before pivot_root) a procfs of its own is
// mounted over /proc; that only touches the init's mount namespace, whose
// old root goes away with pivot_root.
func ownProc() error {
	self, err := os.Readlink("/proc/self")
	if err == nil && self == strconv.Itoa(os.Getpid()) {
		return nil
	}
	if err := mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "", "/proc"); err != nil {
		return fmt.Errorf("mount a procfs of this PID namespace: %w", err)
	}
	return nil
}
