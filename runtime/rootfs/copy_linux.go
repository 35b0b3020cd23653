package rootfs

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// copyTree copies the contents of the directory src into dst (an O_PATH
// handle on the new tmpfs) for tmpcopyup: directories, regular files,
// symbolic links, device nodes and fifos, with their mode, owner and
// times. The tmpfs's root itself keeps what its mount gave it (mode= from
// the options, else the directory's mode, keepDirMode; owned by root or
// uid=/gid=), as runc and crun leave it: copying src's mode over it would
// undo a mode= the caller asked for (podman's --tmpfs DIR:mode=1770), and
// neither peer copies the owner. Everything is opened relative to the
// handles, never through a path, so nothing in src can lead the copy
// elsewhere.
func copyTree(src, dst *os.File) error {
	d, err := reopenDir(dst)
	if err != nil {
		return err
	}
	defer d.Close()
	return copyDir(src, d)
}

func copyDir(src, dst *os.File) error {
	names, err := src.Readdirnames(-1)
	if err != nil {
		return err
	}
	sfd, dfd := int(src.Fd()), int(dst.Fd())
	for _, n := range names {
		var st unix.Stat_t
		if err := unix.Fstatat(sfd, n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return &os.PathError{Op: "stat", Path: n, Err: err}
		}
		if err := copyEntry(sfd, dfd, n, &st); err != nil {
			return err
		}
		if err := copyMeta(dfd, n, &st); err != nil {
			return err
		}
	}
	return nil
}

func copyEntry(sfd, dfd int, n string, st *unix.Stat_t) error {
	perm := st.Mode & 0o7777
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := unix.Mkdirat(dfd, n, perm); err != nil {
			return &os.PathError{Op: "mkdir", Path: n, Err: err}
		}
		s, err := openDirAt(sfd, n)
		if err != nil {
			return err
		}
		defer s.Close()
		d, err := openDirAt(dfd, n)
		if err != nil {
			return err
		}
		defer d.Close()
		return copyDir(s, d)
	case unix.S_IFREG:
		in, err := unix.Openat(sfd, n, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return &os.PathError{Op: "open", Path: n, Err: err}
		}
		fi := os.NewFile(uintptr(in), n)
		defer fi.Close()
		out, err := unix.Openat(dfd, n, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
		if err != nil {
			return &os.PathError{Op: "create", Path: n, Err: err}
		}
		fo := os.NewFile(uintptr(out), n)
		_, err = io.Copy(fo, fi)
		if cerr := fo.Close(); err == nil {
			err = cerr
		}
		return err
	case unix.S_IFLNK:
		buf := make([]byte, unix.PathMax)
		k, err := unix.Readlinkat(sfd, n, buf)
		if err != nil {
			return &os.PathError{Op: "readlink", Path: n, Err: err}
		}
		if err := unix.Symlinkat(string(buf[:k]), dfd, n); err != nil {
			return &os.PathError{Op: "symlink", Path: n, Err: err}
		}
		return nil
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO, unix.S_IFSOCK:
		if err := unix.Mknodat(dfd, n, st.Mode, int(st.Rdev)); err != nil {
			return &os.PathError{Op: "mknod", Path: n, Err: err}
		}
		return nil
	}
	return &os.PathError{Op: "copy", Path: n, Err: errors.New("unknown file type")}
}

func openDirAt(dirfd int, n string) (*os.File, error) {
	fd, err := unix.Openat(dirfd, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: n, Err: err}
	}
	return os.NewFile(uintptr(fd), n), nil
}

// copyMeta sets owner, mode and times of the entry n in dirfd.
func copyMeta(dirfd int, n string, st *unix.Stat_t) error {
	if err := unix.Fchownat(dirfd, n, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "chown", Path: n, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		if err := unix.Fchmodat(dirfd, n, st.Mode&0o7777, 0); err != nil {
			return &os.PathError{Op: "chmod", Path: n, Err: err}
		}
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(dirfd, n, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimes", Path: n, Err: err}
	}
	return nil
}
