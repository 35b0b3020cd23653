package runtime

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// errNoContainerDevpts: the container's /dev/pts/ptmx is not the ptmx of a
// devpts instance (no devpts there, or something else in its place).
var errNoContainerDevpts = errors.New("runtime: no devpts ptmx in the container")

// openContainerPty opens a pseudo-terminal in the devpts instance at
// /dev/pts in the root of process pid: the container's own (config-linux.md
// "Default Devices": /dev/ptmx of the container's devpts). An exec'd
// process whose terminal lives there has a name in its /dev/pts, as with
// runc's exec, so tty(1), ttyname(3), sudo or ssh work; a pty of the
// runtime's devpts has none in the container.
func openContainerPty(pid int) (master, slave *os.File, err error) {
	p := "/proc/" + strconv.Itoa(pid) + "/root"
	root, err := unix.Open(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	defer unix.Close(root)
	return openPtyIn(root)
}

// openPtyIn opens a pseudo-terminal in the devpts instance at dev/pts of
// the directory root: a container's root filesystem, seen from the runtime
// (exec) or from the init before pivot_root (create).
//
// The path resolves inside root (RESOLVE_IN_ROOT), is opened O_PATH first
// and reopened for reading and writing only once it is known to be the
// ptmx character device (5:2) of a devpts file system, so a container
// cannot make the runtime open another file.
func openPtyIn(root int) (master, slave *os.File, err error) {
	path, err := unix.Openat2(root, "dev/pts/ptmx", &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, nil, &os.PathError{Op: "openat2", Path: "/dev/pts/ptmx", Err: err}
	}
	defer unix.Close(path)
	var fs unix.Statfs_t
	var st unix.Stat_t
	if err := unix.Fstatfs(path, &fs); err != nil {
		return nil, nil, &os.PathError{Op: "statfs", Path: "/dev/pts/ptmx", Err: err}
	}
	if err := unix.Fstat(path, &st); err != nil {
		return nil, nil, &os.PathError{Op: "stat", Path: "/dev/pts/ptmx", Err: err}
	}
	if fs.Type != unix.DEVPTS_SUPER_MAGIC || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(5, 2) {
		return nil, nil, errNoContainerDevpts
	}
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(path), unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, &os.PathError{Op: "open", Path: "/dev/pts/ptmx", Err: err}
	}
	return newPty(os.NewFile(uintptr(fd), "/dev/ptmx"))
}

// openRuntimePty opens a pseudo-terminal in the devpts of the caller's
// /dev/ptmx: the runtime's, for a container without a devpts of its own.
func openRuntimePty() (master, slave *os.File, err error) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, &os.PathError{Op: "open", Path: "/dev/ptmx", Err: err}
	}
	return newPty(os.NewFile(uintptr(fd), "/dev/ptmx"))
}

// newPty unlocks the pty whose master ptmx is and opens its slave. The
// slave comes from the master (TIOCGPTPEER, Linux 4.13), not from a path
// the container could change; its name is /dev/pts/N as the pty's devpts
// numbers it. On error ptmx is closed.
func newPty(ptmx *os.File) (master, slave *os.File, err error) {
	fd := int(ptmx.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		ptmx.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		ptmx.Close()
		return nil, nil, fmt.Errorf("pty number: %w", err)
	}
	sfd, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		ptmx.Close()
		return nil, nil, fmt.Errorf("open pty slave: %w", errno)
	}
	return ptmx, os.NewFile(sfd, "/dev/pts/"+strconv.Itoa(n)), nil
}
