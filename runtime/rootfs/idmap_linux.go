package rootfs

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// OpenIDMappedMounts prepares, in the caller's mount and user namespaces,
// a detached idmapped copy of the source of every mount of spec that asks
// for one (idmap, ridmap, or uidMappings), keyed by index into
// spec.Mounts, for Options.MountFds.
//
// An idmapped mount of a host filesystem needs CAP_SYS_ADMIN in the user
// namespace that owns the filesystem (mount_setattr(2)), so a container in a
// user namespace must have them made by the runtime outside it; Prepare
// moves them into place. The caller owns the files until it hands them to
// Prepare.
func OpenIDMappedMounts(spec *specs.Spec, bundle string) (map[int]*os.File, error) {
	out := map[int]*os.File{}
	closeAll := func() {
		for _, f := range out {
			f.Close()
		}
	}
	s := &setup{spec: spec, bundle: bundle}
	for i := range spec.Mounts {
		m := &spec.Mounts[i]
		o, err := parseMount(m)
		if err != nil {
			closeAll()
			return nil, mountErr(m, "", err)
		}
		if !o.idmap && !o.ridmap && m.UIDMappings == nil {
			continue
		}
		if err := s.check(m, o); err != nil {
			closeAll()
			return nil, mountErr(m, "", err)
		}
		f, err := openIDMapped(spec, m, o, s.sourcePath(m))
		if err != nil {
			closeAll()
			return nil, mountErr(m, "", err)
		}
		out[i] = f
	}
	return out, nil
}

// openIDMapped clones the source tree (open_tree OPEN_TREE_CLONE, with its
// submounts for rbind) and applies the mount's idmapping (MOUNT_ATTR_IDMAP,
// to the whole tree for ridmap) with a user namespace holding the mount's
// uidMappings/gidMappings, or the container's when the mount has none
// (config.md "idmap").
func openIDMapped(spec *specs.Spec, m *specs.Mount, o *mountOpts, src string) (*os.File, error) {
	uids, gids := m.UIDMappings, m.GIDMappings
	if uids == nil && spec.Linux != nil {
		uids, gids = spec.Linux.UIDMappings, spec.Linux.GIDMappings
	}
	ns, err := userNS(uids, gids)
	if err != nil {
		return nil, fmt.Errorf("user namespace for idmap: %w", err)
	}
	defer ns.Close()
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

// userNS returns a handle on a new user namespace with the given mappings.
// A user namespace lives as long as a process or a handle holds it, and Go
// cannot unshare one in a multi-threaded process, so a helper is started
// in it: this executable, traced so that it stops at its first instruction
// after execve (ptrace(2) PTRACE_TRACEME) and never runs; its namespace is
// opened and it is killed.
func userNS(uids, gids []specs.LinuxIDMapping) (*os.File, error) {
	if len(uids) == 0 || len(gids) == 0 {
		return nil, fmt.Errorf("no uid or gid mappings")
	}
	if err := ownProc(); err != nil {
		return nil, err
	}
	// The tracer is the thread that started the helper.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// /proc/self/exe, not os.Executable: the runtime's init runs from a
	// detached mount or a memfd, whose paths cannot be executed.
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{"ocikit-userns-helper"}
	cmd.Env = []string{}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  unix.CLONE_NEWUSER,
		UidMappings: idMaps(uids),
		GidMappings: idMaps(gids),
		Ptrace:      true,
		Pdeathsig:   syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	ns, err := os.Open("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/ns/user")
	if err != nil {
		return nil, err
	}
	return ns, nil
}

func idMaps(m []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(m))
	for i, e := range m {
		out[i] = syscall.SysProcIDMap{ContainerID: int(e.ContainerID), HostID: int(e.HostID), Size: int(e.Size)}
	}
	return out
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
