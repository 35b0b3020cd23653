package snapshot

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// CopyTree copies the tree at src into the empty directory dst with
// owners, modes, times, extended attributes (overlayfs's own left out)
// and hard links kept. File contents are reflinked (FICLONE) where the
// filesystem shares extents, else copied with copy_file_range. It is the
// fallback for a filesystem that refuses an overlay.
func CopyTree(src, dst string) error {
	type inode struct{ dev, ino uint64 }
	links := map[inode]string{}
	var dirs []string // set times after their children
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		out := filepath.Join(dst, rel)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return &os.PathError{Op: "lstat", Path: p, Err: err}
		}
		perm := st.Mode & 0o7777
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			if rel != "." {
				if err := unix.Mkdir(out, 0o700); err != nil {
					return &os.PathError{Op: "mkdir", Path: out, Err: err}
				}
			}
			dirs = append(dirs, rel)
		case unix.S_IFREG:
			key := inode{uint64(st.Dev), st.Ino}
			if st.Nlink > 1 {
				if first, ok := links[key]; ok {
					if err := unix.Link(first, out); err != nil {
						return &os.LinkError{Op: "link", Old: first, New: out, Err: err}
					}
					return nil
				}
				links[key] = out
			}
			if err := copyFile(p, out); err != nil {
				return err
			}
		case unix.S_IFLNK:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(target, out); err != nil {
				return err
			}
		default:
			if err := unix.Mknod(out, st.Mode, int(st.Rdev)); err != nil {
				return &os.PathError{Op: "mknod", Path: out, Err: err}
			}
		}
		if err := unix.Lchown(out, int(st.Uid), int(st.Gid)); err != nil {
			return &os.PathError{Op: "chown", Path: out, Err: err}
		}
		if err := copyXattrs(p, out); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			if err := unix.Chmod(out, perm); err != nil {
				return &os.PathError{Op: "chmod", Path: out, Err: err}
			}
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return unix.UtimesNanoAt(unix.AT_FDCWD, out, []unix.Timespec{st.Atim, st.Mtim}, unix.AT_SYMLINK_NOFOLLOW)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("copy root filesystem: %w", err)
	}
	slices.Reverse(dirs)
	for _, rel := range dirs {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(src, rel), &st); err == nil {
			unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(dst, rel), []unix.Timespec{st.Atim, st.Mtim}, unix.AT_SYMLINK_NOFOLLOW)
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if unix.IoctlFileClone(int(out.Fd()), int(in.Fd())) != nil {
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return fmt.Errorf("copy %s: %w", src, err)
		}
	}
	return out.Close()
}

// copyXattrs copies the extended attributes of src to dst, overlayfs's
// own (trusted.overlay.*, user.overlay.*) left out.
func copyXattrs(src, dst string) error {
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(src, buf)
	if err != nil {
		if err == unix.ENOTSUP {
			return nil
		}
		return &os.PathError{Op: "listxattr", Path: src, Err: err}
	}
	for _, name := range strings.Split(string(buf[:n]), "\x00") {
		if name == "" || strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.") {
			continue
		}
		val := make([]byte, 64<<10)
		m, err := unix.Lgetxattr(src, name, val)
		if err != nil {
			continue
		}
		if err := unix.Lsetxattr(dst, name, val[:m], 0); err != nil && err != unix.ENOTSUP {
			return &os.PathError{Op: "setxattr", Path: dst, Err: err}
		}
	}
	return nil
}
