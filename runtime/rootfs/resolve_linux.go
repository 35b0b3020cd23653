package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// errEscape is returned when a destination resolves outside the root
// filesystem (it cannot with RESOLVE_IN_ROOT; this is a second check).
var errEscape = errors.New("rootfs: path resolves outside the root filesystem")

// root is the container's root filesystem seen from the init process before
// pivot_root: its host path and an O_PATH handle on the bind mount of it.
type root struct {
	path string   // absolute host path, symbolic links resolved
	dir  *os.File // O_PATH|O_DIRECTORY handle
}

func openRoot(p string) (*root, error) {
	f, err := os.OpenFile(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &root{path: p, dir: f}, nil
}

func (r *root) Close() error { return r.dir.Close() }

// kind is what to create at a missing destination.
type kind int

const (
	kindNone kind = iota // must exist
	kindDir
	kindFile
)

// target is a destination resolved inside the root: the handle of the
// directory holding it and its name there, so the mount placed on it can be
// opened again (openat(dir, name, O_NOFOLLOW) crosses into the new mount,
// and the mount point itself cannot be renamed while mounted on).
type target struct {
	name   string   // container path, for messages
	real   string   // the path it resolved to inside the root
	parent *os.File // O_PATH handle of the directory holding it
	base   string   // final component within parent
	fd     *os.File // O_PATH handle of the destination itself
	// created says resolve made the destination itself (it was missing).
	created bool
}

func (t *target) Close() {
	t.parent.Close()
	t.fd.Close()
}

// resolve finds dest inside the root, creating it (with its parent
// directories, mode 0755) as k says when it is missing. Symbolic links on
// the way, including the last component, are resolved inside the root; a
// dangling one leads to where it points inside the root, and what is
// missing there is created (as runc does: images whose /etc/resolv.conf
// is a link to a file that does not exist yet are bound over that way).
func (r *root) resolve(dest string, k kind) (*target, error) {
	dest = containerPath(dest)
	if dest == "/" {
		return nil, errors.New("rootfs: destination is the root itself")
	}
	fd, err := openInRoot(r.dir, dest)
	if err == nil {
		return r.targetOf(dest, fd)
	}
	if !errors.Is(err, os.ErrNotExist) || k == kindNone {
		return nil, err
	}
	create := dest
	parent := r.absentIn(dest)
	if parent == nil {
		// Where the links lead: SecureJoin follows them lexically,
		// clamped to the root. It only chooses what to create; the
		// creation and the final lookup go through handles resolved
		// inside the root, so a link swapped meanwhile cannot lead
		// outside.
		if joined, err := securejoin.SecureJoin(r.path, dest); err == nil {
			if rel, ok := strings.CutPrefix(joined, strings.TrimSuffix(r.path, "/")+"/"); ok && rel != "" {
				create = "/" + rel
			}
		}
		if parent, err = r.mkdirAll(path.Dir(create)); err != nil {
			return nil, err
		}
	}
	base := path.Base(create)
	switch k {
	case kindDir:
		err = unix.Mkdirat(int(parent.Fd()), base, 0o755)
	case kindFile:
		var nfd int
		nfd, err = unix.Openat(int(parent.Fd()), base, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_RDONLY|unix.O_CLOEXEC, 0o644)
		if err == nil {
			unix.Close(nfd)
		}
	}
	if err != nil && !errors.Is(err, unix.EEXIST) {
		parent.Close()
		return nil, &os.PathError{Op: "create", Path: dest, Err: err}
	}
	parent.Close()
	// Resolve again: if something appeared there meanwhile (a symbolic
	// link), it is followed inside the root like any other.
	fd, err = openInRoot(r.dir, dest)
	if err != nil {
		return nil, err
	}
	t, err := r.targetOf(dest, fd)
	if err != nil {
		return nil, err
	}
	t.created = true
	return t, nil
}

// absentIn returns the directory holding dest, resolved inside the root,
// when it exists and holds nothing by dest's name, not even a dangling
// link: the common case of a missing destination, created right there
// without SecureJoin's walk of the host path (a stat per component). Nil
// otherwise.
func (r *root) absentIn(dest string) *os.File {
	parent, err := openInRoot(r.dir, path.Dir(dest))
	if err != nil {
		return nil
	}
	var st unix.Stat_t
	if unix.Fstat(int(parent.Fd()), &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR ||
		unix.Fstatat(int(parent.Fd()), path.Base(dest), &st, unix.AT_SYMLINK_NOFOLLOW) != unix.ENOENT {
		parent.Close()
		return nil
	}
	return parent
}

// targetOf finds the parent directory of the file fd holds, checking that
// it is inside the root.
func (r *root) targetOf(dest string, fd *os.File) (*target, error) {
	real, err := os.Readlink(fdPath(fd))
	if err != nil {
		fd.Close()
		return nil, err
	}
	rel, ok := strings.CutPrefix(real, strings.TrimSuffix(r.path, "/")+"/")
	if !ok || rel == "" {
		fd.Close()
		return nil, &os.PathError{Op: "resolve", Path: dest, Err: errEscape}
	}
	parent, err := openInRoot(r.dir, path.Dir("/"+rel))
	if err != nil {
		fd.Close()
		return nil, err
	}
	t := &target{name: dest, real: "/" + rel, parent: parent, base: path.Base(rel), fd: fd}
	// The handle and parent/base must name the same file.
	var a, b unix.Stat_t
	if err := unix.Fstat(int(fd.Fd()), &a); err != nil {
		t.Close()
		return nil, &os.PathError{Op: "stat", Path: dest, Err: err}
	}
	if err := unix.Fstatat(int(parent.Fd()), t.base, &b, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		t.Close()
		return nil, &os.PathError{Op: "stat", Path: dest, Err: err}
	}
	if a.Dev != b.Dev || a.Ino != b.Ino {
		t.Close()
		return nil, &os.PathError{Op: "resolve", Path: dest, Err: fmt.Errorf("changed while resolving")}
	}
	return t, nil
}

// top opens what is now at the target after a mount on it: the root of
// that mount. It checks that this is a mount other than the one the target
// was on, so the handle cannot be another file put there meanwhile.
func (t *target) top() (*os.File, error) {
	fd, err := unix.Openat(int(t.parent.Fd()), t.base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: t.name, Err: err}
	}
	f := os.NewFile(uintptr(fd), t.name)
	before, err1 := mountID(t.fd)
	after, err2 := mountID(f)
	if err1 == nil && err2 == nil && before == after {
		f.Close()
		return nil, &os.PathError{Op: "open", Path: t.name, Err: errors.New("no new mount there")}
	}
	return f, nil
}

// mountID is the id of the mount f is on (statx STATX_MNT_ID, Linux 5.8).
func mountID(f *os.File) (uint64, error) {
	var stx unix.Statx_t
	if err := unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &stx); err != nil {
		return 0, err
	}
	if stx.Mask&unix.STATX_MNT_ID == 0 {
		return 0, unix.ENOSYS
	}
	return stx.Mnt_id, nil
}

// openInRoot opens p as an O_PATH handle with every symbolic link resolved
// inside root: openat2(RESOLVE_IN_ROOT) (Linux 5.6), or pathrs-lite's
// emulation on older kernels.
func openInRoot(root *os.File, p string) (*os.File, error) {
	how := &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for range 16 {
		fd, err := unix.Openat2(int(root.Fd()), p, how)
		switch {
		case err == nil:
			return os.NewFile(uintptr(fd), p), nil
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
			// A rename or mount raced with the lookup; try again.
			continue
		case errors.Is(err, unix.ENOSYS):
			return pathrs.OpenatInRoot(root, p)
		default:
			return nil, &os.PathError{Op: "openat2", Path: p, Err: err}
		}
	}
	return nil, &os.PathError{Op: "openat2", Path: p, Err: unix.EAGAIN}
}

// mkdirAll returns a handle on directory p inside the root, creating it and
// its parents (mode 0755) when missing. The usual case, an existing
// directory, is one openat2.
func (r *root) mkdirAll(p string) (*os.File, error) {
	if f, err := openInRoot(r.dir, p); err == nil {
		var st unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return f, nil
		}
		f.Close()
	}
	return pathrs.MkdirAllHandle(r.dir, p, 0o755)
}
