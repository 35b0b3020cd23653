//go:build linux

package layer

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// dirEntry is a cached directory file descriptor of the tree being built.
type dirEntry struct {
	fd     int
	setgid bool // new entries inherit the directory's group
}

// dirFixup is what is set on a directory once every layer is applied: its
// times (creating children changes them) and, rootless, its real mode.
type dirFixup struct {
	times       [2]unix.Timespec
	mode        uint32
	restoreMode bool
}

// maxCachedDirs bounds the directory descriptor cache; it is flushed (at an
// entry boundary, never while a descriptor is in use) when it grows past it.
const maxCachedDirs = 4096

// applier applies layer tars to one root directory. Paths are never
// resolved from the outside: every operation is an *at system call on a
// directory descriptor obtained under the root, with the final component
// never followed.
type applier struct {
	root   *os.File
	rootFd int
	o      options

	hasOpenat2 bool
	umask      uint32
	euid, egid int
	rootSetgid bool

	dirs   map[string]dirEntry // keyed by path relative to the root
	stale  []int               // descriptors dropped from dirs, closed at the next entry
	fixups map[string]dirFixup
	seen   map[string]struct{} // this layer's entries and their ancestors

	buf    []byte
	xattrs []xattr

	// ov is the overlay stack whose upper directory root is
	// (WithOverlayDiff), nil otherwise.
	ov *overlayStack
}

func newApplier(root string, o options) (*applier, error) {
	f, err := os.OpenFile(root, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open root: %w", err)
	}
	a := &applier{
		root:   f,
		rootFd: int(f.Fd()),
		o:      o,
		umask:  currentUmask(),
		euid:   os.Geteuid(),
		egid:   os.Getegid(),
		dirs:   make(map[string]dirEntry),
		fixups: make(map[string]dirFixup),
		buf:    make([]byte, 1<<20),
	}
	var st unix.Stat_t
	if err := unix.Fstat(a.rootFd, &st); err != nil {
		f.Close()
		return nil, &os.PathError{Op: "stat", Path: root, Err: err}
	}
	a.rootSetgid = st.Mode&unix.S_ISGID != 0
	if len(o.lowers) > 0 {
		abs, err := filepath.Abs(root)
		if err != nil {
			f.Close()
			return nil, err
		}
		a.initOverlayDiff(abs)
	}
	if !o.noOpenat2 {
		fd, err := unix.Openat2(a.rootFd, ".", &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT})
		if err == nil {
			unix.Close(fd)
			a.hasOpenat2 = true
		}
	}
	return a, nil
}

// currentUmask reads the process umask without changing it (umask(2) would
// race with other goroutines). Unknown, it is taken as 0777 so that every
// mode is set explicitly.
func currentUmask() uint32 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0o777
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "Umask:"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			if err == nil {
				return uint32(m)
			}
		}
	}
	return 0o777
}

func (a *applier) close() {
	a.dropDirs()
	a.releaseStale()
	if a.root != nil {
		a.root.Close()
		a.root = nil
	}
}

func (a *applier) dropDirs() {
	for k, d := range a.dirs {
		a.stale = append(a.stale, d.fd)
		delete(a.dirs, k)
	}
}

func (a *applier) releaseStale() {
	for _, fd := range a.stale {
		unix.Close(fd)
	}
	a.stale = a.stale[:0]
}

func (a *applier) cacheDir(rel string, d dirEntry) {
	if old, ok := a.dirs[rel]; ok {
		a.stale = append(a.stale, old.fd)
	}
	a.dirs[rel] = d
}

func pathErr(op, rel string, err error) error {
	return &os.PathError{Op: op, Path: "/" + rel, Err: err}
}

// dir returns a descriptor of directory rel, resolved inside the root. With
// create, missing directories are made (tars often omit parents). The
// descriptor belongs to the cache: callers never close it.
func (a *applier) dir(rel string, create bool) (int, bool, error) {
	if rel == "" {
		return a.rootFd, a.rootSetgid, nil
	}
	if d, ok := a.dirs[rel]; ok {
		return d.fd, d.setgid, nil
	}
	parent, base := splitRel(rel)
	pfd, _, err := a.dir(parent, create)
	if err != nil {
		return -1, false, err
	}
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if a.ov != nil && (err == unix.ENOENT || err == unix.ENOTDIR) {
		// rel's parents were resolved through the merged view
		// (ovCanon): a missing directory is a lower one's, copied up.
		fd, err = a.ovDir(pfd, rel, base, create, err)
	} else if err == unix.ENOENT && create {
		if err = unix.Mkdirat(pfd, base, 0o755); err == nil || err == unix.EEXIST {
			fd, err = unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		}
	}
	if a.ov == nil && (err == unix.ELOOP || err == unix.ENOTDIR) {
		// A symlink (from this or an earlier layer): follow it, but as if
		// the root were "/" — it can never lead outside.
		fd, err = a.resolveInRoot(rel)
		if err == unix.ENOENT && create {
			if fd, err = a.mkdirInRoot(rel); err != nil {
				return -1, false, fmt.Errorf("open directory /%s: a symlink on the way leads nowhere in the root: %w", rel, err)
			}
		}
	}
	if err != nil {
		return -1, false, pathErr("open directory", rel, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, false, pathErr("stat", rel, err)
	}
	d := dirEntry{fd: fd, setgid: st.Mode&unix.S_ISGID != 0}
	a.cacheDir(rel, d)
	return d.fd, d.setgid, nil
}

// resolveInRoot opens directory rel following symlinks, scoped to the root:
// openat2(RESOLVE_IN_ROOT) where the kernel has it, filepath-securejoin's
// emulation otherwise.
func (a *applier) resolveInRoot(rel string) (int, error) {
	if a.hasOpenat2 {
		how := unix.OpenHow{
			Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		}
		for range 16 {
			fd, err := unix.Openat2(a.rootFd, rel, &how)
			if err != unix.EAGAIN && err != unix.EINTR {
				return fd, err
			}
		}
		return -1, unix.EAGAIN
	}
	h, err := pathrs.OpenatInRoot(a.root, rel)
	if err != nil {
		return -1, unwrapErrno(err)
	}
	defer h.Close()
	return reopenDir(h)
}

// mkdirInRoot makes directory rel and its missing parents, following
// symlinks scoped to the root (filepath-securejoin's MkdirAllHandle).
func (a *applier) mkdirInRoot(rel string) (int, error) {
	h, err := pathrs.MkdirAllHandle(a.root, rel, 0o755)
	if err != nil {
		return -1, unwrapErrno(err)
	}
	defer h.Close()
	return reopenDir(h)
}

func reopenDir(h *os.File) (int, error) {
	f, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		return -1, unwrapErrno(err)
	}
	defer f.Close()
	return unix.Dup(int(f.Fd()))
}

func unwrapErrno(err error) error {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

// markSeen records rel and its ancestors as entries of the current layer,
// which whiteouts of the same layer must not hide.
func (a *applier) markSeen(rel string) {
	for {
		if _, ok := a.seen[rel]; ok {
			return
		}
		a.seen[rel] = struct{}{}
		if rel == "" {
			return
		}
		rel, _ = splitRel(rel)
	}
}

func (a *applier) applyLayer(ctx context.Context, r io.Reader) error {
	a.seen = make(map[string]struct{})
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		a.releaseStale()
		if len(a.dirs) > maxCachedDirs {
			a.dropDirs()
			a.releaseStale()
		}
		if err := a.entry(tr, hdr); err != nil {
			return err
		}
	}
}

func (a *applier) entry(tr *tar.Reader, hdr *tar.Header) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	rel, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if a.ov != nil {
		// Symlinks on the way are followed through the merged view, as
		// they would be through the mounted overlay.
		canon, err := a.ovCanon(rel)
		if err != nil {
			_, base := splitRel(rel)
			if kind, _, _ := parseWhiteout(base); kind == whiteoutExplicit && (errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ENOENT)) {
				return nil // below a non-directory or nothing: nothing to hide
			}
			return err
		}
		rel = canon
	}
	if rel == "" {
		if hdr.Typeflag != tar.TypeDir {
			// umoci CVE-2021-29136: "." as a symlink would make every later
			// change go through it.
			return fmt.Errorf("%w: entry %q for the root is not a directory", ErrUnsafePath, hdr.Name)
		}
		a.markSeen("")
		return a.existingDir(a.rootFd, "", hdr, nil)
	}
	parent, base := splitRel(rel)
	kind, target, err := parseWhiteout(base)
	if err != nil {
		return fmt.Errorf("%w: whiteout %q", err, hdr.Name)
	}
	switch kind {
	case whiteoutExplicit:
		return a.whiteout(parent, target)
	case whiteoutDirOpaque:
		return a.opaque(parent)
	case whiteoutIgnored:
		a.o.log.Debug("skipping AUFS metadata entry", "name", hdr.Name)
		return nil
	}
	pfd, psetgid, err := a.dir(parent, true)
	if err != nil {
		return err
	}
	a.markSeen(rel)
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA, tar.TypeCont, tar.TypeGNUSparse: //nolint:staticcheck // TypeRegA: old tars
		return a.file(tr, hdr, pfd, psetgid, rel, base)
	case tar.TypeDir:
		return a.mkdir(hdr, pfd, psetgid, rel, base)
	case tar.TypeSymlink:
		return a.symlink(hdr, pfd, rel, base)
	case tar.TypeLink:
		return a.hardlink(hdr, pfd, rel, base)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return a.mknod(hdr, pfd, psetgid, rel, base)
	}
	return fmt.Errorf("%w %q: %s", ErrUnsupportedEntry, hdr.Typeflag, hdr.Name)
}

func timesOf(hdr *tar.Header) [2]unix.Timespec {
	at := hdr.AccessTime
	if at.IsZero() {
		at = hdr.ModTime
	}
	return [2]unix.Timespec{toTimespec(at), toTimespec(hdr.ModTime)}
}

func toTimespec(t time.Time) unix.Timespec {
	return unix.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}

// futimens sets the times of an open file (utimensat with a NULL path).
func futimens(fd int, ts *[2]unix.Timespec) error {
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(ts)), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

func (a *applier) file(tr *tar.Reader, hdr *tar.Header, pfd int, psetgid bool, rel, base string) error {
	mode := uint32(hdr.Mode) & 0o7777
	createMode := mode & 0o777
	if a.o.rootless {
		createMode |= 0o600 // writable until its xattrs are set
	}
	const flags = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(pfd, base, flags, createMode)
	if err == unix.EEXIST {
		if _, err := a.replace(pfd, rel, base, false); err != nil {
			return err
		}
		fd, err = unix.Openat(pfd, base, flags, createMode)
	}
	if err != nil {
		return pathErr("create", rel, err)
	}
	defer unix.Close(fd)
	// A sparse entry (GNU or PAX sparse) reads back its holes as zeros:
	// writing them out would let a tiny layer fill the disk (3 GiB from a
	// 10 KiB tar). Zero blocks of such an entry stay holes, and ftruncate
	// gives the file its size.
	sparse := isSparse(hdr)
	var off int64
	for {
		n, rerr := tr.Read(a.buf)
		if n > 0 {
			switch {
			case !sparse:
				if err := writeAll(fd, a.buf[:n]); err != nil {
					return pathErr("write", rel, err)
				}
			case !allZero(a.buf[:n]):
				if err := pwriteAll(fd, a.buf[:n], off); err != nil {
					return pathErr("write", rel, err)
				}
			}
			off += int64(n)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("read tar: %s: %w", hdr.Name, rerr)
		}
	}
	if sparse {
		if err := unix.Ftruncate(fd, off); err != nil {
			return pathErr("truncate", rel, err)
		}
	}
	if err := a.metaFd(fd, rel, hdr, mode, createMode, true, psetgid, false, nil); err != nil {
		return err
	}
	ts := timesOf(hdr)
	if err := futimens(fd, &ts); err != nil {
		return pathErr("utimes", rel, err)
	}
	return nil
}

// isSparse reports whether hdr is a GNU sparse entry, in the old GNU
// format or as GNU.sparse.* PAX records.
func isSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func pwriteAll(fd int, b []byte, off int64) error {
	for len(b) > 0 {
		n, err := unix.Pwrite(fd, b, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
		off += int64(n)
	}
	return nil
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func (a *applier) mkdir(hdr *tar.Header, pfd int, psetgid bool, rel, base string) error {
	mode := uint32(hdr.Mode) & 0o7777
	createMode := mode & 0o777
	if a.o.rootless {
		createMode |= 0o700
	}
	// Overlay diff: a directory over this layer's whiteout of its name is
	// opaque, as overlayfs makes it.
	overWhiteout := a.ov != nil && a.ov.whiteoutAt(pfd, base)
	err := unix.Mkdirat(pfd, base, createMode)
	if err == unix.EEXIST {
		existing, rerr := a.replace(pfd, rel, base, true)
		if rerr != nil {
			return rerr
		}
		if existing {
			fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return pathErr("open", rel, err)
			}
			return a.existingDir(fd, rel, hdr, &psetgid)
		}
		err = unix.Mkdirat(pfd, base, createMode)
	}
	if err != nil {
		return pathErr("mkdir", rel, err)
	}
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return pathErr("open", rel, err)
	}
	a.cacheDir(rel, dirEntry{fd: fd, setgid: mode&unix.S_ISGID != 0})
	if overWhiteout {
		if err := a.setOpaque(fd, rel); err != nil {
			return err
		}
	}
	if err := a.metaFd(fd, rel, hdr, mode, createMode, true, psetgid, true, nil); err != nil {
		return err
	}
	a.fixups[rel] = dirFixup{times: timesOf(hdr), mode: mode, restoreMode: a.o.rootless && mode&0o700 != 0o700}
	return nil
}

// existingDir replaces the attributes of a directory that is already there
// with those of the entry (layer.md "Changeset over existing files"). fd is
// taken over (cached, or the root's).
func (a *applier) existingDir(fd int, rel string, hdr *tar.Header, psetgid *bool) error {
	mode := uint32(hdr.Mode) & 0o7777
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		if fd != a.rootFd {
			unix.Close(fd)
		}
		return pathErr("stat", rel, err)
	}
	if fd == a.rootFd {
		a.rootSetgid = mode&unix.S_ISGID != 0
	} else {
		a.cacheDir(rel, dirEntry{fd: fd, setgid: mode&unix.S_ISGID != 0})
	}
	if err := a.clearXattrs(fd, rel, hdr); err != nil {
		return err
	}
	if err := a.metaFd(fd, rel, hdr, mode, 0, false, false, true, &st); err != nil {
		return err
	}
	a.fixups[rel] = dirFixup{times: timesOf(hdr), mode: mode, restoreMode: a.o.rootless && mode&0o700 != 0o700}
	return nil
}

// metaFd sets owner, mode and xattrs of an open file or directory, in that
// order: chown clears setuid/setgid bits and security.capability, so the
// mode and the xattrs come after it. Rootless there is no chown, and the
// xattrs go first: user.* xattrs need write permission, which the final
// mode may not give even to the owner. created says the inode was just made
// by us with createMode (less the umask, owned by our euid); cur is its
// stat otherwise.
func (a *applier) metaFd(fd int, rel string, hdr *tar.Header, mode, createMode uint32, created, psetgid, isDir bool, cur *unix.Stat_t) error {
	setX := func() error {
		return a.setXattrs(rel, hdr, false, func(name string, value []byte) error {
			return unix.Fsetxattr(fd, name, value, 0)
		})
	}
	chowned := false
	if a.o.rootless {
		if err := setX(); err != nil {
			return err
		}
	} else {
		need := true
		if created {
			need = hdr.Uid != a.euid || hdr.Gid != a.egid || psetgid
		} else if cur != nil {
			need = int(cur.Uid) != hdr.Uid || int(cur.Gid) != hdr.Gid
		}
		if need {
			if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
				return pathErr("chown", rel, err)
			}
			chowned = true
		}
	}
	want := mode
	if isDir && a.o.rootless {
		want |= 0o700
	}
	needChmod := chowned || !created || want != createMode || want&0o7000 != 0 || want&a.umask != 0 || (isDir && psetgid)
	if cur != nil && !chowned && cur.Mode&0o7777 == want {
		needChmod = false
	}
	if needChmod {
		if err := unix.Fchmod(fd, want); err != nil {
			return pathErr("chmod", rel, err)
		}
	}
	if a.o.rootless {
		return nil
	}
	return setX()
}

// metaAt sets owner, mode and times of a non-directory, non-regular entry
// (symlink, device, FIFO) through its parent, never following it.
func (a *applier) metaAt(pfd int, rel, base string, hdr *tar.Header, psetgid, isLink bool) error {
	if !a.o.rootless && (hdr.Uid != a.euid || hdr.Gid != a.egid || psetgid) {
		if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return pathErr("lchown", rel, err)
		}
	}
	if !isLink {
		if err := fchmodatNoFollow(pfd, base, uint32(hdr.Mode)&0o7777); err != nil {
			return pathErr("chmod", rel, err)
		}
	}
	proc := "/proc/self/fd/" + strconv.Itoa(pfd) + "/" + base
	if err := a.setXattrs(rel, hdr, true, func(name string, value []byte) error {
		return unix.Lsetxattr(proc, name, value, 0)
	}); err != nil {
		return err
	}
	ts := timesOf(hdr)
	if err := unix.UtimesNanoAt(pfd, base, ts[:], unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return pathErr("utimes", rel, err)
	}
	return nil
}

// fchmodatNoFollow chmods base in pfd unless it is a symlink: fchmodat2 with
// AT_SYMLINK_NOFOLLOW, or, on kernels without it, a lstat check first (the
// tree is ours while we build it; the check guards against the layer).
func fchmodatNoFollow(pfd int, base string, mode uint32) error {
	err := unix.Fchmodat(pfd, base, mode, unix.AT_SYMLINK_NOFOLLOW)
	if err != unix.EOPNOTSUPP && err != unix.ENOSYS {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return nil
	}
	return unix.Fchmodat(pfd, base, mode, 0)
}

// setXattrs sets the entry's xattrs and, rootless, the owner record. The
// kernel may refuse some: ENOTSUP on filesystems without xattrs, EPERM for
// trusted.* or security.* without privilege, and EPERM for user.* on
// symlinks, devices and FIFOs (special) whoever asks. Those are logged and
// skipped; any other failure fails the unpack.
func (a *applier) setXattrs(rel string, hdr *tar.Header, special bool, set func(string, []byte) error) error {
	a.xattrs = entryXattrs(a.xattrs[:0], hdr)
	if len(a.xattrs) == 0 && (!a.o.rootless || (hdr.Uid == 0 && hdr.Gid == 0)) {
		return nil
	}
	if a.o.rootless {
		// The layer's own owner record means nothing here: the owner is
		// the entry's uid/gid (umoci ignores it the same way).
		a.xattrs = slices.DeleteFunc(a.xattrs, func(x xattr) bool {
			if x.name == rootlessXattr {
				a.o.log.Warn("ignoring rootless owner xattr stored in the layer", "path", "/"+rel)
				return true
			}
			return false
		})
		if payload, ok := rootlessPayload(hdr.Uid, hdr.Gid); ok {
			a.xattrs = append(a.xattrs, xattr{name: rootlessXattr, value: payload})
		}
	}
	for _, x := range a.xattrs {
		err := set(a.ovXattrName(x.name), x.value)
		if err == nil {
			continue
		}
		userOnSpecial := special && err == unix.EPERM && strings.HasPrefix(x.name, "user.")
		if err == unix.ENOTSUP || userOnSpecial || (a.o.rootless && (err == unix.EPERM || err == unix.EACCES)) {
			a.o.log.Warn("skipping xattr", "path", "/"+rel, "xattr", x.name, "error", err)
			continue
		}
		return fmt.Errorf("setxattr %s %s: %w", "/"+rel, x.name, err)
	}
	return nil
}

// clearXattrs removes the xattrs of an existing directory that the entry
// does not set: its attributes are replaced, not merged. security.selinux
// is the host's label and is left alone.
func (a *applier) clearXattrs(fd int, rel string, hdr *tar.Header) error {
	sz, err := unix.Flistxattr(fd, nil)
	if err != nil || sz == 0 {
		return nil
	}
	buf := make([]byte, sz)
	sz, err = unix.Flistxattr(fd, buf)
	if err != nil {
		return nil
	}
	want := entryXattrs(nil, hdr)
	for i := range want {
		want[i].name = a.ovXattrName(want[i].name)
	}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:sz]), "\x00"), "\x00") {
		if name == "" || name == "security.selinux" {
			continue
		}
		if a.ov != nil && a.ov.private(name) {
			continue // overlayfs's own (opaque): the mount never shows them
		}
		if slices.ContainsFunc(want, func(x xattr) bool { return x.name == name }) {
			continue
		}
		if err := unix.Fremovexattr(fd, name); err != nil && err != unix.ENODATA {
			a.o.log.Debug("cannot remove xattr", "path", "/"+rel, "xattr", name, "error", err)
		}
	}
	return nil
}

func (a *applier) symlink(hdr *tar.Header, pfd int, rel, base string) error {
	err := unix.Symlinkat(hdr.Linkname, pfd, base)
	if err == unix.EEXIST {
		if _, err := a.replace(pfd, rel, base, false); err != nil {
			return err
		}
		err = unix.Symlinkat(hdr.Linkname, pfd, base)
	}
	if err != nil {
		return pathErr("symlink", rel, err)
	}
	return a.metaAt(pfd, rel, base, hdr, false, true)
}

// hardlink links rel to an entry already in the tree (of this layer or an
// earlier one). The target is resolved inside the root and its final
// component is not followed: a link to a symlink links the symlink.
func (a *applier) hardlink(hdr *tar.Header, pfd int, rel, base string) error {
	old, err := cleanName(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("hardlink %q: %w", hdr.Name, err)
	}
	if old == "" {
		return fmt.Errorf("%w: hardlink %q to the root", ErrUnsafePath, hdr.Name)
	}
	if a.ov != nil {
		if old, err = a.ovCanon(old); err != nil {
			return fmt.Errorf("hardlink %q: target: %w", hdr.Name, err)
		}
	}
	if old == rel {
		return nil
	}
	oparent, obase := splitRel(old)
	ofd, _, err := a.dir(oparent, false)
	if err != nil {
		return fmt.Errorf("hardlink %q: target: %w", hdr.Name, err)
	}
	if a.ov != nil {
		var ost unix.Stat_t
		switch err := unix.Fstatat(ofd, obase, &ost, unix.AT_SYMLINK_NOFOLLOW); {
		case err == unix.ENOENT:
			if err := a.ovLinkTarget(ofd, old, obase); err != nil {
				return fmt.Errorf("hardlink %q: copy up target: %w", hdr.Name, err)
			}
		case err == nil && a.ov.whiteoutAt(ofd, obase):
			// Whited out by this layer: not there to link to.
			return fmt.Errorf("hardlink %s to /%s: %w", "/"+rel, old, unix.ENOENT)
		}
	}
	err = unix.Linkat(ofd, obase, pfd, base, 0)
	if err == unix.EEXIST {
		var ost, st unix.Stat_t
		if unix.Fstatat(ofd, obase, &ost, unix.AT_SYMLINK_NOFOLLOW) == nil &&
			unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW) == nil &&
			ost.Dev == st.Dev && ost.Ino == st.Ino {
			return nil
		}
		if _, err := a.replace(pfd, rel, base, false); err != nil {
			return err
		}
		err = unix.Linkat(ofd, obase, pfd, base, 0)
	}
	if err != nil {
		return fmt.Errorf("hardlink %s to /%s: %w", "/"+rel, old, err)
	}
	return nil
}

func (a *applier) mknod(hdr *tar.Header, pfd int, psetgid bool, rel, base string) error {
	var typ uint32
	switch hdr.Typeflag {
	case tar.TypeChar:
		typ = unix.S_IFCHR
	case tar.TypeBlock:
		typ = unix.S_IFBLK
	default:
		typ = unix.S_IFIFO
	}
	if a.o.rootless && typ != unix.S_IFIFO {
		a.o.log.Warn("rootless: skipping device node", "path", "/"+rel)
		return nil
	}
	mode := typ | uint32(hdr.Mode)&0o777
	dev := int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
	err := unix.Mknodat(pfd, base, mode, dev)
	if err == unix.EEXIST {
		if _, err := a.replace(pfd, rel, base, false); err != nil {
			return err
		}
		err = unix.Mknodat(pfd, base, mode, dev)
	}
	if err != nil {
		return pathErr("mknod", rel, err)
	}
	return a.metaAt(pfd, rel, base, hdr, psetgid, false)
}

// replace makes room for an entry at base in pfd (layer.md "Changeset over
// existing files"): if both are directories the existing one stays (it
// returns true); anything else is removed.
func (a *applier) replace(pfd int, rel, base string, wantDir bool) (bool, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if err == unix.ENOENT {
			return false, nil
		}
		return false, pathErr("lstat", rel, err)
	}
	if wantDir && st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return true, nil
	}
	return false, a.removeAt(pfd, rel, base, st.Mode&unix.S_IFMT)
}

// removeAt removes base (of type typ) from pfd, recursively for a
// directory, and forgets cached descriptors that may lead through it.
func (a *applier) removeAt(pfd int, rel, base string, typ uint32) error {
	switch typ {
	case unix.S_IFDIR:
		if err := a.removeAllAt(pfd, base); err != nil {
			return pathErr("remove", rel, err)
		}
		a.dropDirs()
		for k := range a.fixups {
			if k == rel || strings.HasPrefix(k, rel+"/") {
				delete(a.fixups, k)
			}
		}
		return nil
	case unix.S_IFLNK:
		a.dropDirs()
	}
	if err := unix.Unlinkat(pfd, base, 0); err != nil && err != unix.ENOENT {
		return pathErr("remove", rel, err)
	}
	return nil
}

// removeAllAt removes base from pfd and, for a directory, everything below
// it, without following symlinks. Directories it cannot read are made
// owner-accessible first (a layer may ship mode 0 directories).
func (a *applier) removeAllAt(pfd int, base string) error {
	return removeAllAt(pfd, base)
}

func removeAllAt(pfd int, base string) error {
	err := unix.Unlinkat(pfd, base, 0)
	if err == nil || err == unix.ENOENT {
		return nil
	}
	if err != unix.EISDIR && err != unix.EPERM {
		return err
	}
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(pfd, base, flags, 0)
	if err == unix.EACCES {
		if cerr := fchmodatNoFollow(pfd, base, 0o700); cerr == nil {
			fd, err = unix.Openat(pfd, base, flags, 0)
		}
	}
	if err != nil {
		return err
	}
	names, err := readDirNamesAt(fd)
	if err == nil {
		for _, n := range names {
			if err = removeAllAt(fd, n); err == unix.EACCES {
				// Unlinking needs write and search permission on fd.
				if cerr := unix.Fchmod(fd, 0o700); cerr == nil {
					err = removeAllAt(fd, n)
				}
			}
			if err != nil {
				break
			}
		}
	}
	unix.Close(fd)
	if err != nil {
		return err
	}
	err = unix.Unlinkat(pfd, base, unix.AT_REMOVEDIR)
	if err == unix.ENOENT {
		return nil
	}
	return err
}

// readDirNamesAt lists a directory through a fresh open file description
// (the cached descriptor's offset is left alone).
func readDirNamesAt(fd int) ([]string, error) {
	dfd, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(dfd), "dir")
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, unwrapErrno(err)
	}
	return names, nil
}

// whiteout applies ".wh.NAME" in directory parent: NAME is removed, unless
// this layer has an entry for it — layer.md: "Files that are present in the
// same layer as a whiteout file can only be hidden by whiteout files in
// subsequent layers." Then, if it is a directory, only what lower layers put
// in it is hidden, which is what removing it first would have left.
func (a *applier) whiteout(parent, name string) error {
	if a.ov != nil {
		return a.ovWhiteout(parent, name)
	}
	pfd, _, err := a.dir(parent, false)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return nil // nothing below to hide
		}
		return err
	}
	rel := joinRel(parent, name)
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if err == unix.ENOENT {
			return nil
		}
		return pathErr("lstat", rel, err)
	}
	if _, ok := a.seen[rel]; ok {
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return nil
		}
		fd, _, err := a.dir(rel, false)
		if err != nil {
			return err
		}
		return a.hideLower(fd, rel)
	}
	return a.removeAt(pfd, rel, name, st.Mode&unix.S_IFMT)
}

// opaque applies ".wh..wh..opq" in directory dir: every child that a lower
// layer put there is removed, wherever the marker sits in the tar (layer.md
// "Opaque Whiteout"); this layer's own entries stay.
func (a *applier) opaque(dir string) error {
	if a.ov != nil {
		a.markSeen(dir)
		return a.ovOpaque(dir)
	}
	fd, _, err := a.dir(dir, true)
	if err != nil {
		return err
	}
	a.markSeen(dir)
	return a.hideLower(fd, dir)
}

// hideLower removes from directory fd (at rel) every child not seen in this
// layer, and recurses into the directories that were.
func (a *applier) hideLower(fd int, rel string) error {
	names, err := readDirNamesAt(fd)
	if err != nil {
		return pathErr("readdir", rel, err)
	}
	for _, name := range names {
		child := joinRel(rel, name)
		var st unix.Stat_t
		if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return pathErr("lstat", child, err)
		}
		typ := st.Mode & unix.S_IFMT
		if _, ok := a.seen[child]; !ok {
			if err := a.removeAt(fd, child, name, typ); err != nil {
				return err
			}
			continue
		}
		if typ != unix.S_IFDIR {
			continue
		}
		cfd, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return pathErr("open", child, err)
		}
		err = a.hideLower(cfd, child)
		unix.Close(cfd)
		if err != nil {
			return err
		}
	}
	return nil
}

// finish sets the deferred directory times (and, rootless, modes), deepest
// first, so that neither creating children nor a parent's restored mode
// gets in the way.
func (a *applier) finish() error {
	a.releaseStale()
	keys := make([]string, 0, len(a.fixups))
	for k := range a.fixups {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	slices.Reverse(keys)
	for _, rel := range keys {
		fx := a.fixups[rel]
		if rel == "" {
			if fx.restoreMode {
				if err := unix.Fchmod(a.rootFd, fx.mode); err != nil {
					return pathErr("chmod", rel, err)
				}
			}
			if err := futimens(a.rootFd, &fx.times); err != nil {
				return pathErr("utimes", rel, err)
			}
			continue
		}
		parent, base := splitRel(rel)
		pfd, _, err := a.dir(parent, false)
		if err != nil {
			continue // removed by a later layer
		}
		var st unix.Stat_t
		if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			continue // replaced by a later layer
		}
		if fx.restoreMode {
			if err := fchmodatNoFollow(pfd, base, fx.mode); err != nil {
				return pathErr("chmod", rel, err)
			}
		}
		if err := unix.UtimesNanoAt(pfd, base, fx.times[:], unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return pathErr("utimes", rel, err)
		}
	}
	clear(a.fixups)
	return nil
}

// removeTree removes a directory tree that may hold directories we cannot
// read (a rootless unpack that failed half-way).
func removeTree(p string) {
	parent, err := os.Open(filepath.Dir(p))
	if err != nil {
		return
	}
	defer parent.Close()
	_ = removeAllAt(int(parent.Fd()), filepath.Base(p))
}

// renameDir moves directory old onto new, which may be an empty directory
// (os.Rename refuses an existing directory as the target; rename(2) does
// not).
func renameDir(old, new string) error {
	if err := unix.Rename(old, new); err != nil {
		return &os.LinkError{Op: "rename", Old: old, New: new, Err: err}
	}
	return nil
}
