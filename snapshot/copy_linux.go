package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// ApplySnapshots fills the directory dst (empty but for what an earlier
// call put there) with the root filesystem the overlay of lowers (bottom
// first) shows, without mounting anything: each snapshot is applied in
// order as overlayfs merges it. A whiteout (a 0:0 character device, or
// an empty file with an overlay.whiteout xattr) removes what the layers below put at its path; an opaque directory
// (trusted.overlay.opaque or user.overlay.opaque "y") drops their
// contents; an entry over an existing one replaces it unless both are
// directories, whose attributes then are the upper one's. Owners, modes,
// times, extended attributes (overlayfs's own left out, the ones it
// escaped unescaped) and hard links are kept. File contents are reflinked
// (FICLONE) where the filesystem shares extents, else copied with
// copy_file_range. It is the fallback for a filesystem that refuses an
// overlay.
//
// Directories get their modes and times last, after every layer: an
// unprivileged caller must still be able to write into a directory whose
// final mode is read-only.
func ApplySnapshots(lowers []string, dst string) error {
	a := &applier{dst: dst, dirs: map[string]dirMeta{}}
	for _, l := range lowers {
		if err := a.apply(l); err != nil {
			return fmt.Errorf("copy root filesystem: %w", err)
		}
	}
	if err := a.finish(); err != nil {
		return fmt.Errorf("copy root filesystem: %w", err)
	}
	return nil
}

// dirMeta is what a directory gets once every layer is applied.
type dirMeta struct {
	mode       uint32
	atim, mtim unix.Timespec
}

type applier struct {
	dst  string
	dirs map[string]dirMeta // by path relative to dst
}

func (a *applier) apply(src string) error {
	type inode struct{ dev, ino uint64 }
	links := map[inode]string{}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		out := filepath.Join(a.dst, rel)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return &os.PathError{Op: "lstat", Path: p, Err: err}
		}
		typ := st.Mode & unix.S_IFMT
		var cur unix.Stat_t
		curErr := unix.Lstat(out, &cur)
		exists := curErr == nil
		if curErr != nil && curErr != unix.ENOENT {
			return &os.PathError{Op: "lstat", Path: out, Err: curErr}
		}
		if (typ == unix.S_IFCHR && st.Rdev == 0) || (typ == unix.S_IFREG && st.Size == 0 && xattrWhiteout(p)) {
			// A whiteout: what is below is gone, and so is the whiteout.
			if exists {
				return a.remove(rel)
			}
			return nil
		}
		if typ == unix.S_IFDIR {
			switch {
			case exists && cur.Mode&unix.S_IFMT == unix.S_IFDIR:
				if rel != "." && opaque(p) {
					if err := a.clearDir(rel); err != nil {
						return err
					}
				}
				if err := dropXattrs(out); err != nil {
					return err
				}
			case exists:
				if err := a.remove(rel); err != nil {
					return err
				}
				fallthrough
			default:
				if err := unix.Mkdir(out, 0o700); err != nil {
					return &os.PathError{Op: "mkdir", Path: out, Err: err}
				}
			}
			a.dirs[rel] = dirMeta{mode: st.Mode & 0o7777, atim: st.Atim, mtim: st.Mtim}
			return setOwnerXattrs(p, out, &st)
		}
		if exists {
			if err := a.remove(rel); err != nil {
				return err
			}
		}
		switch typ {
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
		if err := setOwnerXattrs(p, out, &st); err != nil {
			return err
		}
		if typ != unix.S_IFLNK {
			if err := unix.Chmod(out, st.Mode&0o7777); err != nil {
				return &os.PathError{Op: "chmod", Path: out, Err: err}
			}
		}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, out, []unix.Timespec{st.Atim, st.Mtim}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return &os.PathError{Op: "utimes", Path: out, Err: err}
		}
		return nil
	})
}

// remove removes rel (a tree) from dst and forgets its directories.
func (a *applier) remove(rel string) error {
	if fi, err := os.Lstat(filepath.Join(a.dst, rel)); err == nil && fi.IsDir() {
		for d := range a.dirs {
			if d == rel || strings.HasPrefix(d, rel+"/") {
				delete(a.dirs, d)
			}
		}
	}
	// Every directory of the copy is 0700 until finish: removable.
	return os.RemoveAll(filepath.Join(a.dst, rel))
}

// clearDir removes the contents of rel (an opaque directory hides them).
func (a *applier) clearDir(rel string) error {
	entries, err := os.ReadDir(filepath.Join(a.dst, rel))
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := a.remove(filepath.Join(rel, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// finish gives the directories their modes and times, deepest first (a
// time set on a directory would move when its children change).
func (a *applier) finish() error {
	rels := make([]string, 0, len(a.dirs))
	for r := range a.dirs {
		rels = append(rels, r)
	}
	slices.SortFunc(rels, func(x, y string) int { return strings.Count(y, "/") - strings.Count(x, "/") })
	// "." has no slash but must come last.
	rels = slices.DeleteFunc(rels, func(r string) bool { return r == "." })
	if _, ok := a.dirs["."]; ok {
		rels = append(rels, ".")
	}
	for _, r := range rels {
		m := a.dirs[r]
		out := filepath.Join(a.dst, r)
		if err := unix.Chmod(out, m.mode); err != nil {
			return &os.PathError{Op: "chmod", Path: out, Err: err}
		}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, out, []unix.Timespec{m.atim, m.mtim}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return &os.PathError{Op: "utimes", Path: out, Err: err}
		}
	}
	return nil
}

// opaque reports whether overlayfs takes the directory p as opaque.
func opaque(p string) bool {
	buf := make([]byte, 8)
	for _, name := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		if n, err := unix.Lgetxattr(p, name, buf); err == nil && string(buf[:n]) == "y" {
			return true
		}
	}
	return false
}

// xattrWhiteout reports whether the empty file p is a whiteout as
// overlayfs reads them in a lower directory (Linux 6.7) and as the layer
// package writes them where a filesystem refuses whiteout devices
// (layer.WithOverlayDiff): one with the overlay.whiteout xattr.
func xattrWhiteout(p string) bool {
	for _, name := range []string{"trusted.overlay.whiteout", "user.overlay.whiteout"} {
		if _, err := unix.Lgetxattr(p, name, nil); err == nil {
			return true
		}
	}
	return false
}

// setOwnerXattrs gives out the owner and extended attributes of src (st):
// chown first, as it clears security.capability.
func setOwnerXattrs(src, out string, st *unix.Stat_t) error {
	if err := unix.Lchown(out, int(st.Uid), int(st.Gid)); err != nil {
		return &os.PathError{Op: "chown", Path: out, Err: err}
	}
	return copyXattrs(src, out)
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

// overlayXattr says what overlayfs shows of an extended attribute name of
// a layer directory: its own (trusted.overlay.*, user.overlay.*) nothing;
// the image's own attributes of those names, which it stored escaped
// (trusted.overlay.overlay.*, Linux 6.7), unescaped.
func overlayXattr(name string) (string, bool) {
	for _, p := range []string{"trusted.overlay.", "user.overlay."} {
		if rest, ok := strings.CutPrefix(name, p); ok {
			if esc, ok := strings.CutPrefix(rest, "overlay."); ok {
				return p + esc, true
			}
			return "", false
		}
	}
	return name, true
}

func listXattrs(p string) ([]string, error) {
	sz, err := unix.Llistxattr(p, nil)
	if err != nil || sz == 0 {
		return nil, err
	}
	buf := make([]byte, sz)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, name := range bytes.Split(buf[:n], []byte{0}) {
		if len(name) > 0 {
			names = append(names, string(name))
		}
	}
	return names, nil
}

// copyXattrs copies the extended attributes of src to dst as overlayfs
// shows them (overlayXattr).
func copyXattrs(src, dst string) error {
	names, err := listXattrs(src)
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			return nil
		}
		return &os.PathError{Op: "listxattr", Path: src, Err: err}
	}
	for _, name := range names {
		shown, ok := overlayXattr(name)
		if !ok {
			continue
		}
		sz, err := unix.Lgetxattr(src, name, nil)
		if err != nil {
			continue // unreadable here (trusted.* to an unprivileged user)
		}
		val := make([]byte, sz)
		m, err := unix.Lgetxattr(src, name, val)
		if err != nil {
			continue
		}
		if err := unix.Lsetxattr(dst, shown, val[:m], 0); err != nil && err != unix.ENOTSUP {
			return &os.PathError{Op: "setxattr", Path: dst, Err: err}
		}
	}
	return nil
}

// dropXattrs removes the extended attributes of a directory a lower layer
// gave it before the upper layer's are set: overlayfs shows the upper's.
func dropXattrs(p string) error {
	names, err := listXattrs(p)
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			return nil
		}
		return &os.PathError{Op: "listxattr", Path: p, Err: err}
	}
	for _, name := range names {
		if err := unix.Lremovexattr(p, name); err != nil && err != unix.ENODATA && err != unix.EPERM {
			return &os.PathError{Op: "removexattr", Path: p, Err: err}
		}
	}
	return nil
}
