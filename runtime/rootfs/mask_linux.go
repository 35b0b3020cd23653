package rootfs

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Masked paths, read-only paths and /dev/console are mounted on files of
// the container's root that the container's image (or, through shared
// mounts, another container) controls. Bound by path name, a symbolic link
// there, or at /dev/null, or at /dev, would redirect the mount: /dev/null
// a link to /proc/sys/kernel/core_pattern turns the mask of /proc/kcore
// into a writable view of the host's core_pattern (CVE-2025-31133); a
// /dev/console link puts the terminal over another file (CVE-2025-52565).
// So each source and target is opened as a handle (no symbolic link
// anywhere on the way), checked to be what the kind of mount expects, and
// the mount is made on the handle itself (open_tree and move_mount; mount
// through /proc/self/fd on kernels without them).

// errSymlink is returned for a masked, read-only or console path that is,
// or passes through, a symbolic link.
var errSymlink = errors.New("is or passes through a symbolic link")

// openNoSymlinks opens p (a container path) below dir as an O_PATH handle,
// refusing symbolic links in every component: openat2(RESOLVE_IN_ROOT |
// RESOLVE_NO_SYMLINKS), or a walk with O_NOFOLLOW on kernels before 5.6.
func openNoSymlinks(dir *os.File, p string) (*os.File, error) {
	p = containerPath(p)
	// Not O_NOFOLLOW: with O_PATH it would open a trailing link itself;
	// RESOLVE_NO_SYMLINKS fails on it with ELOOP instead.
	how := &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	for range 16 {
		fd, err := unix.Openat2(int(dir.Fd()), p, how)
		switch {
		case err == nil:
			f := os.NewFile(uintptr(fd), p)
			if typ, _, err := fileType(f); err != nil || typ == unix.S_IFLNK {
				f.Close()
				return nil, &os.PathError{Op: "open", Path: p, Err: errSymlink}
			}
			return f, nil
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOSYS):
			return walkNoSymlinks(dir, p)
		case errors.Is(err, unix.ELOOP):
			return nil, &os.PathError{Op: "open", Path: p, Err: errSymlink}
		default:
			return nil, &os.PathError{Op: "openat2", Path: p, Err: err}
		}
	}
	return nil, &os.PathError{Op: "openat2", Path: p, Err: unix.EAGAIN}
}

// walkNoSymlinks is openNoSymlinks one component at a time (p is clean and
// absolute, so it has no ".." to climb out with).
func walkNoSymlinks(dir *os.File, p string) (*os.File, error) {
	fd, err := unix.Openat(int(dir.Fd()), ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: "/", Err: err}
	}
	for _, c := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		if c == "" {
			continue
		}
		next, err := unix.Openat(fd, c, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: p, Err: err}
		}
		var st unix.Stat_t
		if err := unix.Fstat(next, &st); err != nil {
			unix.Close(next)
			return nil, &os.PathError{Op: "stat", Path: p, Err: err}
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			unix.Close(next)
			return nil, &os.PathError{Op: "open", Path: p, Err: errSymlink}
		}
		fd = next
	}
	return os.NewFile(uintptr(fd), p), nil
}

// fileType is the S_IFMT type and the device number of the file f holds.
func fileType(f *os.File) (uint32, uint64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return 0, 0, &os.PathError{Op: "stat", Path: f.Name(), Err: err}
	}
	return st.Mode & unix.S_IFMT, st.Rdev, nil
}

// openDevNull opens the container's /dev/null and checks that it is the
// null device (character device 1:3), not a link, a file or another device.
func openDevNull(root *os.File) (*os.File, error) {
	f, err := openNoSymlinks(root, "/dev/null")
	if err != nil {
		return nil, err
	}
	typ, rdev, err := fileType(f)
	if err == nil && (typ != unix.S_IFCHR || unix.Major(rdev) != 1 || unix.Minor(rdev) != 3) {
		err = &os.PathError{Op: "mask with", Path: "/dev/null", Err: errors.New("not the null device (character device 1:3)")}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// bindHandle bind-mounts the file src holds onto the file dst holds (a
// recursive bind with rec), then applies attr (MOUNT_ATTR_RDONLY …) to the
// new mount alone. name is the container path for messages. With attr, top
// opens dst's path again once the bind is there, for kernels before 5.2
// (bindHandleLegacy).
func bindHandle(src, dst *os.File, rec bool, attr uint64, name string, top func() (*os.File, error)) error {
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC | unix.AT_EMPTY_PATH)
	if rec {
		flags |= unix.AT_RECURSIVE
	}
	tree, err := unix.OpenTree(int(src.Fd()), "", flags)
	if errors.Is(err, unix.ENOSYS) {
		return bindHandleLegacy(src, dst, rec, attr, name, top)
	}
	if err != nil {
		return &os.PathError{Op: "open_tree", Path: name, Err: err}
	}
	t := os.NewFile(uintptr(tree), name)
	defer t.Close()
	if attr != 0 {
		if err := mountSetattr(t, 0, &unix.MountAttr{Attr_set: attr}, name); err != nil {
			return err
		}
	}
	return moveMountOnto(t, dst, name)
}

// moveMountOnto attaches the detached mount tree onto the file dst holds.
func moveMountOnto(tree, dst *os.File, name string) error {
	err := unix.MoveMount(int(tree.Fd()), "", int(dst.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
	if err != nil {
		return &os.PathError{Op: "move_mount", Path: name, Err: err}
	}
	return nil
}

// bindHandleLegacy is bindHandle through /proc/self/fd for kernels before
// 5.2 (no open_tree): the magic links name the very files the handles hold.
func bindHandleLegacy(src, dst *os.File, rec bool, attr uint64, name string, top func() (*os.File, error)) error {
	flags := uintptr(unix.MS_BIND)
	if rec {
		flags |= unix.MS_REC
	}
	if err := mount(fdPath(src), fdPath(dst), "", flags, "", name); err != nil {
		return err
	}
	if attr&unix.MOUNT_ATTR_RDONLY == 0 {
		return nil
	}
	// dst still holds the file under the new mount, and so does its
	// magic link: the remount reaches the new mount on top of it through
	// a lookup of the path again, which crosses into it.
	f, err := top()
	if err != nil {
		return err
	}
	defer f.Close()
	return remountBind(fdPath(f), unix.MS_RDONLY, 0, name)
}

// tmpfsHandle mounts an empty read-only tmpfs (with the SELinux context
// label, when set) on the directory dst holds.
func tmpfsHandle(dst *os.File, label, name string) error {
	const flags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	fs, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if errors.Is(err, unix.ENOSYS) {
		return mount("tmpfs", fdPath(dst), "tmpfs", flags, withLabel("", "tmpfs", label), name)
	}
	if err != nil {
		return &os.PathError{Op: "fsopen", Path: name, Err: err}
	}
	defer unix.Close(fs)
	if label != "" {
		if err := unix.FsconfigSetString(fs, "context", label); err != nil {
			return &os.PathError{Op: "fsconfig", Path: name, Err: err}
		}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return &os.PathError{Op: "fsconfig", Path: name, Err: err}
	}
	mfd, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return &os.PathError{Op: "fsmount", Path: name, Err: err}
	}
	m := os.NewFile(uintptr(mfd), name)
	defer m.Close()
	return moveMountOnto(m, dst, name)
}

// maskPath covers p (config-linux.md "Masked Paths") inside root (the
// container's root, after pivot_root): the null device over a file, an
// empty read-only tmpfs over a directory. A missing path is nothing to
// mask; a symbolic link on the way is refused.
func maskPath(root *os.File, p, label string) error {
	dst, err := openNoSymlinks(root, p)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	defer dst.Close()
	typ, _, err := fileType(dst)
	if err != nil {
		return err
	}
	if typ == unix.S_IFDIR {
		return tmpfsHandle(dst, label, p)
	}
	null, err := openDevNull(root)
	if err != nil {
		return err
	}
	defer null.Close()
	return bindHandle(null, dst, false, 0, p, nil)
}

// readonlyPath binds p onto itself and makes the bind read-only
// (config-linux.md "Readonly Paths"); a missing path is skipped, a
// symbolic link on the way refused.
func readonlyPath(root *os.File, p string) error {
	dst, err := openNoSymlinks(root, p)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	defer dst.Close()
	return bindHandle(dst, dst, true, unix.MOUNT_ATTR_RDONLY, p, func() (*os.File, error) { return openNoSymlinks(root, p) })
}

// ptySlaveMajors are the device majors of Unix98 pty slaves
// (Documentation/admin-guide/devices.txt: 136-143).
func ptySlave(rdev uint64) bool { m := unix.Major(rdev); return m >= 136 && m <= 143 }

// BindConsole binds the pty slave onto /dev/console (config-linux.md
// "Default Devices") of the root filesystem Prepare left as the working
// directory. It comes between Prepare and Finish: the terminal is a pty of
// the container's own devpts (runc opens it there too), which exists only
// once Prepare has mounted it. The source must be a pty slave, the target
// a file or character device reached without symbolic links (created as an
// empty file when missing): an image whose /dev/console is a link must not
// put the terminal over another file (CVE-2025-52565).
func BindConsole(slave *os.File) error {
	fail := func(err error) error { return fmt.Errorf("console: %w", err) }
	if typ, rdev, err := fileType(slave); err != nil {
		return fail(err)
	} else if typ != unix.S_IFCHR || !ptySlave(rdev) {
		return fail(fmt.Errorf("%s is not a pty", slave.Name()))
	}
	root, err := os.OpenFile(".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(fmt.Errorf("open root: %w", err))
	}
	defer root.Close()
	dst, err := openNoSymlinks(root, "/dev/console")
	if errors.Is(err, unix.ENOENT) {
		var dev *os.File
		if dev, err = openNoSymlinks(root, "/dev"); err != nil {
			return fail(err)
		}
		fd, cerr := unix.Openat(int(dev.Fd()), "console", unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_RDONLY|unix.O_CLOEXEC, 0o644)
		dev.Close()
		if cerr != nil && !errors.Is(cerr, unix.EEXIST) {
			return fail(&os.PathError{Op: "create", Path: "/dev/console", Err: cerr})
		}
		if cerr == nil {
			unix.Close(fd)
		}
		dst, err = openNoSymlinks(root, "/dev/console")
	}
	if err != nil {
		return fail(err)
	}
	defer dst.Close()
	if typ, _, err := fileType(dst); err != nil {
		return fail(err)
	} else if typ != unix.S_IFREG && typ != unix.S_IFCHR {
		return fail(errors.New("/dev/console is neither a file nor a character device"))
	}
	if err := bindHandle(slave, dst, false, 0, "/dev/console", nil); err != nil {
		return fail(err)
	}
	return nil
}
