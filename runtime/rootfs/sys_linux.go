package rootfs

import (
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// fdPath names the file behind an O_PATH handle for system calls that only
// take paths (mount(2)); the kernel follows the magic link to the very file
// the handle holds, so the path cannot be redirected by a symbolic link.
func fdPath(f *os.File) string { return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())) }

// mount is mount(2) reporting errors as *os.PathError on name, the path the
// user knows (the container destination), not the /proc/self/fd path used.
func mount(source, target, fstype string, flags uintptr, data, name string) error {
	for {
		err := unix.Mount(source, target, fstype, flags, data)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "mount", Path: name, Err: err}
		}
		return nil
	}
}

// statfsFlags are the per-mount flags of a mount as MS_* flags, read with
// statfs(2) so a bind remount keeps what it must keep: in a user namespace
// the flags of a mount inherited from a more privileged mount namespace are
// locked and a remount that clears them fails with EPERM (mount(2),
// mount_namespaces(7) "locked mounts").
func statfsFlags(path string) (uintptr, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	var out uintptr
	for _, f := range []struct {
		st int64
		ms uintptr
	}{
		{unix.ST_RDONLY, unix.MS_RDONLY},
		{unix.ST_NOSUID, unix.MS_NOSUID},
		{unix.ST_NODEV, unix.MS_NODEV},
		{unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME},
		{unix.ST_NODIRATIME, unix.MS_NODIRATIME},
		{unix.ST_RELATIME, unix.MS_RELATIME},
		{stNoSymfollow, unix.MS_NOSYMFOLLOW},
	} {
		if st.Flags&f.st != 0 {
			out |= f.ms
		}
	}
	return out, nil
}

// bindRemountFlags are the flags a MS_BIND|MS_REMOUNT call sets on a mount;
// every other flag is ignored for bind mounts.
const bindRemountFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC |
	atimeFlags | unix.MS_NODIRATIME | unix.MS_NOSYMFOLLOW

// remountBind changes the per-mount flags of the mount at target: set and
// clear are applied to the mount's current flags, so flags the caller did
// not mention (and locked ones) are kept.
func remountBind(target string, set, clear uintptr, name string) error {
	cur, err := statfsFlags(target)
	if err != nil {
		return err
	}
	if set&atimeFlags != 0 || clear&atimeFlags != 0 {
		cur &^= atimeFlags
	}
	flags := (cur&^clear | set) & bindRemountFlags
	return mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|flags, "", name)
}

// lockableFlags are the per-mount flags the kernel locks on the mounts a
// less privileged mount namespace inherits (mount_namespaces(7) "locked
// mounts"): a remount must keep them, the atime mode as it is.
const lockableFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC |
	atimeFlags | unix.MS_NODIRATIME

// setBindFlags gives a new bind mount exactly the per-mount flags its
// options name: a flag not named (read-only, nosuid, nodev, noexec) is not
// carried over from the source, as with runc. The atime mode is kept when
// the options name none (the kernel's default for a remount). When the
// remount is refused because the mount's flags are locked (a bind in a
// user namespace of a mount the parent namespace made ro or nosuid), it is
// retried keeping them, as runc does, unless the options clear a locked
// flag or name another atime mode: that mount cannot be made as asked.
func setBindFlags(target string, set, clear uintptr, name string) error {
	flags := set & bindRemountFlags
	err := mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|flags, "", name)
	if err == nil || !errors.Is(err, unix.EPERM) {
		return err
	}
	cur, serr := statfsFlags(target)
	if serr != nil {
		return err
	}
	locked := cur & lockableFlags
	if locked&clear != 0 {
		return err
	}
	if flags&atimeFlags != 0 {
		// statfs(2) has no flag for strictatime: it is neither of the others.
		curAtime := cur & atimeFlags
		if curAtime == 0 {
			curAtime = unix.MS_STRICTATIME
		}
		if flags&atimeFlags != curAtime {
			return err
		}
		locked &^= atimeFlags
	}
	return mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|flags|locked, "", name)
}

// mountSetattr is mount_setattr(2) on the mount an O_PATH handle is on.
func mountSetattr(f *os.File, flags uint, attr *unix.MountAttr, name string) error {
	err := unix.MountSetattr(int(f.Fd()), "", unix.AT_EMPTY_PATH|flags, attr)
	if err != nil {
		return &os.PathError{Op: "mount_setattr", Path: name, Err: err}
	}
	return nil
}

// stNoSymfollow is ST_NOSYMFOLLOW of statfs(2) (Linux 5.10), missing from
// x/sys/unix.
const stNoSymfollow = 0x2000
