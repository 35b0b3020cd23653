//go:build linux

package layer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// overlayStack is an overlayfs stack read without mounting it: roots,
// topmost first, merged as overlayfs's lookup merges them (a whiteout, a
// 0:0 character device, hides what is below; a directory marked opaque
// with the namespace's "opaque" xattr hides the directories below it; a
// non-directory stops the merge).
type overlayStack struct {
	roots []string
	ns    string // "trusted.overlay." or "user.overlay."
}

// maxSymlinks is the kernel's limit on the symlinks one lookup follows.
const maxSymlinks = 40

func isWhiteoutStat(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

// isWhiteout says whether p (st) is a whiteout: a 0:0 character device,
// or, where a filesystem refuses those (overlayfs itself refuses to make
// one), an empty regular file with the NS.overlay.whiteout xattr, as
// overlayfs (Linux 6.7) reads whiteouts of a lower directory.
func (s *overlayStack) isWhiteout(p string, st *unix.Stat_t) bool {
	if isWhiteoutStat(st) {
		return true
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size != 0 {
		return false
	}
	_, err := unix.Lgetxattr(p, s.ns+"whiteout", nil)
	return err == nil
}

// whiteoutAt is isWhiteout for base in directory pfd.
func (s *overlayStack) whiteoutAt(pfd int, base string) bool {
	var st unix.Stat_t
	if unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
		return false
	}
	return s.isWhiteout("/proc/self/fd/"+strconv.Itoa(pfd)+"/"+base, &st)
}

// private says whether xattr name is overlayfs's own (an escaped image
// attribute, NS.overlay.NAME, is the image's).
func (s *overlayStack) private(name string) bool {
	rest, ok := strings.CutPrefix(name, s.ns)
	return ok && !strings.HasPrefix(rest, "overlay.")
}

func (s *overlayStack) opaque(p string) bool {
	buf := make([]byte, 2)
	n, err := unix.Lgetxattr(p, s.ns+"opaque", buf)
	return err == nil && n == 1 && buf[0] == 'y'
}

// lookup finds rel (clean, relative, its parents already free of
// symlinks in the merged view) in the merged view without following its
// last component: the path and stat of the topmost layer's entry. Each
// layer is only ever asked for a path whose parents are directories in
// that layer, so no symlink of any layer is followed.
func (s *overlayStack) lookup(rel string) (string, unix.Stat_t, bool, error) {
	var none unix.Stat_t
	if rel == "" {
		var st unix.Stat_t
		if err := unix.Lstat(s.roots[0], &st); err != nil {
			return "", none, false, &os.PathError{Op: "lstat", Path: s.roots[0], Err: err}
		}
		return s.roots[0], st, true, nil
	}
	active := s.roots
	comps := strings.Split(rel, "/")
	for i := range comps {
		prefix := strings.Join(comps[:i+1], "/")
		var (
			next      []string
			found     unix.Stat_t
			foundPath string
			have      bool
		)
		for _, root := range active {
			p := filepath.Join(root, prefix)
			var st unix.Stat_t
			if err := unix.Lstat(p, &st); err != nil {
				if err == unix.ENOENT || err == unix.ENOTDIR {
					continue
				}
				return "", none, false, &os.PathError{Op: "lstat", Path: p, Err: err}
			}
			if s.isWhiteout(p, &st) {
				break
			}
			isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
			if !have {
				found, foundPath, have = st, p, true
			}
			if !isDir {
				break
			}
			next = append(next, root)
			if s.opaque(p) {
				break
			}
		}
		if !have {
			return "", none, false, nil
		}
		if i == len(comps)-1 {
			return foundPath, found, true, nil
		}
		if found.Mode&unix.S_IFMT != unix.S_IFDIR {
			return "", none, false, nil
		}
		active = next
	}
	return "", none, false, nil
}

// resolve turns rel into the path of the merged view it names once every
// symlink on the way (the last component too with followLast) is
// followed as if the view's root were "/": a clean relative path whose
// parents are directories in the merged view or do not exist. Nothing
// ever leads outside the view.
func (s *overlayStack) resolve(rel string, followLast bool) (string, error) {
	todo := strings.Split(rel, "/")
	var last string
	if !followLast {
		last, todo = todo[len(todo)-1], todo[:len(todo)-1]
	}
	resolved, links, missing := "", 0, false
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			resolved, _ = splitRel(resolved)
			continue
		}
		next := joinRel(resolved, c)
		if missing {
			resolved = next
			continue
		}
		p, st, ok, err := s.lookup(next)
		if err != nil {
			return "", err
		}
		if !ok {
			if links > 0 {
				// As the applier without WithOverlayDiff: an entry
				// below a symlink whose target is not there is refused.
				return "", fmt.Errorf("open directory /%s: a symlink on the way leads nowhere in the root: %w", next, unix.ENOENT)
			}
			// Nothing there: the rest is made, not followed.
			missing = true
			resolved = next
			continue
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			resolved = next
		case unix.S_IFLNK:
			if links++; links > maxSymlinks {
				return "", pathErr("resolve", rel, unix.ELOOP)
			}
			target, err := os.Readlink(p)
			if err != nil {
				return "", err
			}
			if strings.HasPrefix(target, "/") {
				resolved = ""
			}
			todo = append(strings.Split(target, "/"), todo...)
		default:
			if len(todo) == 0 && followLast {
				resolved = next
				continue
			}
			return "", pathErr("open directory", next, unix.ENOTDIR)
		}
	}
	if !followLast {
		return joinRel(resolved, last), nil
	}
	return resolved, nil
}

// ResolveOverlay finds the file name (a path inside the root filesystem,
// "/etc/passwd") in the overlay stack of layers (bottom first) without
// mounting it, following symlinks as if that root were "/": the real path
// of the topmost layer's file, or ok false when the merged view has
// nothing there. opaqueXattr is the opaque attribute's name, as the
// overlay would read it ("trusted.overlay.opaque", or
// "user.overlay.opaque" with userxattr).
func ResolveOverlay(layers []string, opaqueXattr, name string) (path string, ok bool, err error) {
	rel, err := cleanName(name)
	if err != nil {
		return "", false, err
	}
	s := &overlayStack{ns: strings.TrimSuffix(opaqueXattr, "opaque")}
	for i := len(layers) - 1; i >= 0; i-- {
		s.roots = append(s.roots, layers[i])
	}
	if rel, err = s.resolve(rel, true); err != nil {
		if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ENOENT) {
			return "", false, nil
		}
		return "", false, err
	}
	p, _, ok, err := s.lookup(rel)
	return p, ok, err
}

// overlay-diff mode (WithOverlayDiff): the applier's root is the upper
// directory of an overlay of o.lowers, and it writes what the kernel would
// write there were the layer applied through the mounted overlay.

func (a *applier) initOverlayDiff(root string) {
	if len(a.o.lowers) == 0 {
		return
	}
	ns := "trusted.overlay."
	if a.o.rootless {
		ns = "user.overlay."
	}
	s := &overlayStack{roots: []string{root}, ns: ns}
	for i := len(a.o.lowers) - 1; i >= 0; i-- {
		s.roots = append(s.roots, a.o.lowers[i])
	}
	a.ov = s
}

// ovCanon resolves the parents of rel through the merged view.
func (a *applier) ovCanon(rel string) (string, error) {
	parent, _ := splitRel(rel)
	if parent == "" {
		return rel, nil
	}
	if _, ok := a.dirs[parent]; ok {
		return rel, nil // a directory of the upper one: no symlink on the way
	}
	return a.ov.resolve(rel, false)
}

func (a *applier) inUpper(p string) bool {
	return strings.HasPrefix(p, a.ov.roots[0]+"/")
}

// setOpaque marks directory fd opaque: nothing below it shows.
func (a *applier) setOpaque(fd int, rel string) error {
	if err := unix.Fsetxattr(fd, a.ov.ns+"opaque", []byte("y"), 0); err != nil {
		return pathErr("setxattr", rel, err)
	}
	return nil
}

// ovDir makes directory base in pfd (at rel), missing in the upper
// directory (openErr), as overlayfs would: a copy of a lower directory's
// attributes (copy-up), an opaque directory over the upper one's
// whiteout, or, with create, a new 0755 directory.
func (a *applier) ovDir(pfd int, rel, base string, create bool, openErr error) (int, error) {
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	if openErr == unix.ENOTDIR {
		if !create || !a.ov.whiteoutAt(pfd, base) {
			return -1, openErr
		}
		if err := unix.Unlinkat(pfd, base, 0); err != nil {
			return -1, err
		}
		if err := unix.Mkdirat(pfd, base, 0o755); err != nil {
			return -1, err
		}
		fd, err := unix.Openat(pfd, base, flags, 0)
		if err != nil {
			return -1, err
		}
		if err := a.setOpaque(fd, rel); err != nil {
			unix.Close(fd)
			return -1, err
		}
		return fd, nil
	}
	p, st, ok, err := a.ov.lookup(rel)
	if err != nil {
		return -1, err
	}
	if !ok {
		if !create {
			return -1, unix.ENOENT
		}
		if err := unix.Mkdirat(pfd, base, 0o755); err != nil && err != unix.EEXIST {
			return -1, err
		}
		return unix.Openat(pfd, base, flags, 0)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return -1, unix.ENOTDIR
	}
	// Copy-up of a lower directory: its owner, mode, xattrs and times.
	mode := st.Mode & 0o7777
	createMode := mode & 0o777
	if a.o.rootless {
		createMode |= 0o700
	}
	if err := unix.Mkdirat(pfd, base, createMode); err != nil {
		return -1, err
	}
	fd, err := unix.Openat(pfd, base, flags, 0)
	if err != nil {
		return -1, err
	}
	if err := a.copyUpMeta(fd, p, rel, &st, createMode, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	a.fixups[rel] = dirFixup{times: [2]unix.Timespec{st.Atim, st.Mtim}, mode: mode, restoreMode: a.o.rootless && mode&0o700 != 0o700}
	return fd, nil
}

// copyUpMeta gives fd (just made from the lower src, st) src's owner,
// xattrs and mode, in the order metaFd uses.
func (a *applier) copyUpMeta(fd int, src, rel string, st *unix.Stat_t, createMode uint32, isDir bool) error {
	want := st.Mode & 0o7777
	if isDir && a.o.rootless {
		want |= 0o700
	}
	if a.o.rootless {
		if err := a.copyUpXattrs(fd, src, rel); err != nil {
			return err
		}
	} else if int(st.Uid) != a.euid || int(st.Gid) != a.egid {
		if err := unix.Fchown(fd, int(st.Uid), int(st.Gid)); err != nil {
			return pathErr("chown", rel, err)
		}
	}
	if want != createMode || want&0o7000 != 0 || want&a.umask != 0 {
		if err := unix.Fchmod(fd, want); err != nil {
			return pathErr("chmod", rel, err)
		}
	}
	if a.o.rootless {
		return nil
	}
	return a.copyUpXattrs(fd, src, rel)
}

// copyUpXattrs copies src's xattrs to fd but overlayfs's own (an escaped
// image attribute, NS.overlay.NAME, is the image's and is copied).
func (a *applier) copyUpXattrs(fd int, src, rel string) error {
	sz, err := unix.Llistxattr(src, nil)
	if err != nil || sz == 0 {
		return nil
	}
	buf := make([]byte, sz)
	if sz, err = unix.Llistxattr(src, buf); err != nil {
		return nil
	}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:sz]), "\x00"), "\x00") {
		if name == "" || name == "security.selinux" {
			continue
		}
		if a.ov.private(name) {
			continue
		}
		vsz, err := unix.Lgetxattr(src, name, nil)
		if err != nil {
			continue
		}
		val := make([]byte, vsz)
		n, err := unix.Lgetxattr(src, name, val)
		if err != nil {
			continue
		}
		if err := unix.Fsetxattr(fd, name, val[:n], 0); err != nil {
			if err == unix.ENOTSUP || err == unix.EPERM || err == unix.EACCES {
				a.o.log.Warn("skipping xattr", "path", "/"+rel, "xattr", name, "error", err)
				continue
			}
			return pathErr("setxattr", rel, err)
		}
	}
	return nil
}

// ovCopyUp copies the lower entry src (st) to base in pfd (at rel), so
// that a hard link of this layer can link to it: overlayfs copies a lower
// file up before it links it.
func (a *applier) ovCopyUp(pfd int, rel, base, src string, st *unix.Stat_t) error {
	typ := st.Mode & unix.S_IFMT
	switch typ {
	case unix.S_IFREG:
		in, err := os.OpenFile(src, os.O_RDONLY|unix.O_NOFOLLOW, 0)
		if err != nil {
			return err
		}
		defer in.Close()
		createMode := st.Mode & 0o777
		if a.o.rootless {
			createMode |= 0o600
		}
		fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, createMode)
		if err != nil {
			return pathErr("create", rel, err)
		}
		out := os.NewFile(uintptr(fd), rel)
		defer out.Close()
		if unix.IoctlFileClone(fd, int(in.Fd())) != nil {
			if _, err := io.Copy(out, in); err != nil {
				return fmt.Errorf("copy up /%s: %w", rel, err)
			}
		}
		if err := a.copyUpMeta(fd, src, rel, st, createMode, false); err != nil {
			return err
		}
		ts := [2]unix.Timespec{st.Atim, st.Mtim}
		if err := futimens(fd, &ts); err != nil {
			return pathErr("utimes", rel, err)
		}
		return nil
	case unix.S_IFLNK:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := unix.Symlinkat(target, pfd, base); err != nil {
			return pathErr("symlink", rel, err)
		}
	default:
		if err := unix.Mknodat(pfd, base, st.Mode, int(st.Rdev)); err != nil {
			return pathErr("mknod", rel, err)
		}
	}
	if !a.o.rootless {
		if err := unix.Fchownat(pfd, base, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return pathErr("lchown", rel, err)
		}
	}
	if typ != unix.S_IFLNK {
		if err := fchmodatNoFollow(pfd, base, st.Mode&0o7777); err != nil {
			return pathErr("chmod", rel, err)
		}
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return pathErr("utimes", rel, err)
	}
	return nil
}

// ovWhiteout applies ".wh.NAME" in parent: this layer's own NAME stays
// (a directory of it becomes opaque); what the lower directories have
// there gets an overlayfs whiteout, and an upper entry that is no entry
// of this layer (a copy-up) goes.
func (a *applier) ovWhiteout(parent, name string) error {
	rel := joinRel(parent, name)
	if _, ok := a.seen[rel]; ok {
		pfd, _, err := a.dir(parent, false)
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return nil
		}
		return a.ovOpaque(rel)
	}
	p, _, ok, err := a.ov.lookup(rel)
	if err != nil || !ok {
		return err
	}
	pfd, _, err := a.dir(parent, false)
	if err != nil {
		return err
	}
	if a.inUpper(p) {
		var st unix.Stat_t
		if err := unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return pathErr("lstat", rel, err)
		}
		if err := a.removeAt(pfd, rel, name, st.Mode&unix.S_IFMT); err != nil {
			return err
		}
		if pfd, _, err = a.dir(parent, false); err != nil {
			return err
		}
		if _, _, ok, err = a.ov.lookup(rel); err != nil || !ok {
			return err
		}
	}
	err = unix.EPERM
	if !a.o.xattrWhiteouts {
		err = unix.Mknodat(pfd, name, unix.S_IFCHR, 0)
	}
	if err == unix.EPERM {
		// A filesystem that refuses whiteout devices (overlayfs itself):
		// an xattr whiteout.
		return a.xattrWhiteout(pfd, parent, name)
	}
	if err != nil {
		return pathErr("mknod whiteout", rel, err)
	}
	return nil
}

// xattrWhiteout makes name in pfd (directory parent) an empty file with
// the NS.overlay.whiteout xattr, and marks parent as holding such
// whiteouts (NS.overlay.opaque "x", Linux 6.8; unless it is opaque, when
// nothing below shows anyway), as overlayfs reads them in a lower
// directory; ApplySnapshots reads them too.
func (a *applier) xattrWhiteout(pfd int, parent, name string) error {
	rel := joinRel(parent, name)
	fd, err := unix.Openat(pfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return pathErr("create whiteout", rel, err)
	}
	err = unix.Fsetxattr(fd, a.ov.ns+"whiteout", nil, 0)
	unix.Close(fd)
	if err != nil {
		return pathErr("setxattr whiteout", rel, err)
	}
	buf := make([]byte, 2)
	if n, err := unix.Fgetxattr(pfd, a.ov.ns+"opaque", buf); err == nil && n == 1 && buf[0] == 'y' {
		return nil
	}
	if err := unix.Fsetxattr(pfd, a.ov.ns+"opaque", []byte("x"), 0); err != nil {
		return pathErr("setxattr", parent, err)
	}
	return nil
}

// ovOpaque makes directory rel opaque: what this layer did not put in it
// (copy-ups) goes, and the lower directories' children are hidden.
func (a *applier) ovOpaque(rel string) error {
	fd, _, err := a.dir(rel, true)
	if err != nil {
		return err
	}
	if err := a.hideLower(fd, rel); err != nil {
		return err
	}
	if fd, _, err = a.dir(rel, false); err != nil {
		return err
	}
	return a.setOpaque(fd, rel)
}

// ovLinkTarget makes sure the target of a hard link, missing in the upper
// directory, is there: a copy of the lower one's entry.
func (a *applier) ovLinkTarget(ofd int, old, obase string) error {
	p, st, ok, err := a.ov.lookup(old)
	if err != nil {
		return err
	}
	if !ok || a.inUpper(p) || st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return nil // linkat reports what is wrong
	}
	return a.ovCopyUp(ofd, old, obase, p, &st)
}

// ovXattrName is the name an image's xattr is stored under in an upper
// directory: overlayfs (Linux 6.7) escapes its own namespace's names.
func (a *applier) ovXattrName(name string) string {
	if a.ov != nil {
		if rest, ok := strings.CutPrefix(name, a.ov.ns); ok {
			return a.ov.ns + "overlay." + rest
		}
	}
	return name
}
