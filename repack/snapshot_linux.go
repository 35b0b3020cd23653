package repack

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"time"

	"github.com/ocikit/ocikit/layer"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// Record writes BUNDLE/ocikit-snapshot: the source of the bundle (the layout
// directory and the manifest descriptor it was unpacked from) and a
// snapshot of BUNDLE/rootfs. Image unpack calls it once the rootfs is in
// place; repack reads it to find what changed since. An empty layoutDir
// (the image came from no local layout) is recorded as empty.
func Record(ctx context.Context, bundleDir, layoutDir string, source v1.Descriptor) error {
	abs := ""
	if layoutDir != "" {
		var err error
		if abs, err = filepath.Abs(layoutDir); err != nil {
			return fmt.Errorf("record snapshot: %w", err)
		}
	}
	entries, err := Take(ctx, rootfsOf(bundleDir))
	if err != nil {
		return fmt.Errorf("record snapshot: %w", err)
	}
	return record(bundleDir, &Snapshot{Layout: abs, Source: source, Entries: entries})
}

// record writes s once no later change can share a recorded ctime.
func record(bundleDir string, s *Snapshot) error {
	if err := waitTick(bundleDir, s.Entries); err != nil {
		return fmt.Errorf("record snapshot: %w", err)
	}
	return writeSnapshot(bundleDir, s)
}

// waitTick returns once the filesystem's clock has moved past every ctime in
// entries. Timestamps come from a coarse clock (one jiffy, several ms), so
// without this a file written in the same tick as its snapshot would keep
// its recorded ctime and its change would be missed (git's "racily clean"
// problem). It costs at most a tick; it gives up after two seconds.
func waitTick(dir string, entries []Entry) error {
	var newest int64
	for i := range entries {
		newest = max(newest, entries[i].Ctime)
	}
	f, err := os.CreateTemp(dir, ".ocikit-tick-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	deadline := time.Now().Add(2 * time.Second)
	for mode := os.FileMode(0o600); ; mode ^= 0o200 {
		if err := f.Chmod(mode); err != nil { // updates ctime to "now"
			return err
		}
		var st unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err != nil {
			return &os.PathError{Op: "fstat", Path: f.Name(), Err: err}
		}
		if st.Ctim.Nano() > newest || time.Now().After(deadline) {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
}

// Take walks rootfs and returns an Entry for every path below it, in walk
// order (depth first, children sorted by name).
func Take(ctx context.Context, rootfs string) ([]Entry, error) {
	var out []Entry
	var walk func(dir string) error
	walk = func(dir string) error {
		entries, err := scanDir(rootfs, dir)
		if err != nil {
			return err
		}
		for i := range entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			e := &entries[i]
			if err := readExtra(rootfs, e); err != nil {
				return err
			}
			out = append(out, *e)
			if isDir(e.Mode) {
				if err := walk(e.Path); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(""); err != nil {
		return nil, err
	}
	return out, nil
}

// scanDir lists directory dir of rootfs, sorted by name, with the lstat of
// each child (fstatat on the directory: no path walk per file).
func scanDir(rootfs, dir string) ([]Entry, error) {
	full := filepath.Join(rootfs, filepath.FromSlash(dir))
	f, err := os.Open(full)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	fd := int(f.Fd())
	out := make([]Entry, len(names))
	for i, name := range names {
		var st unix.Statx_t
		if err := unix.Statx(fd, name, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS|unix.STATX_BTIME, &st); err != nil {
			return nil, &os.PathError{Op: "statx", Path: filepath.Join(full, name), Err: err}
		}
		e := Entry{
			Path:  path.Join(dir, name),
			Mode:  uint32(st.Mode),
			UID:   st.Uid,
			GID:   st.Gid,
			Size:  int64(st.Size),
			Mtime: nanos(st.Mtime),
			Ctime: nanos(st.Ctime),
			Ino:   st.Ino,
			Rdev:  unix.Mkdev(st.Rdev_major, st.Rdev_minor),
		}
		if st.Mask&unix.STATX_BTIME != 0 {
			e.Btime = nanos(st.Btime)
		}
		out[i] = e
	}
	return out, nil
}

// readExtra fills in e's symlink target and xattrs.
func readExtra(rootfs string, e *Entry) error {
	full := filepath.Join(rootfs, filepath.FromSlash(e.Path))
	var err error
	if e.Mode&unix.S_IFMT == unix.S_IFLNK {
		if e.Link, err = os.Readlink(full); err != nil {
			return err
		}
	}
	e.Xattrs, err = layer.Xattrs(full)
	return err
}

// Diff compares rootfs with the entries of a snapshot taken of it and
// returns the layer changeset turning the old tree into the current one, in
// tar order: for each directory, whiteouts for its deleted children first
// (layer.md: "whiteout files appear before sibling directory entries"), then
// its children in name order, each directory followed by its own content.
//
// A path counts as changed when any of type, mode, owner, size, mtime,
// ctime, inode or device number differs; ctime catches content writes,
// chmod, chown, xattr and link-count changes without reading content. A
// directory whose inode changed was removed and recreated: it gets an opaque
// whiteout and all of its current content. A directory replaced by a
// non-directory gets a whiteout before its new entry, so appliers remove the
// whole old tree. A directory counts as removed and recreated when its
// inode or its birth time (statx btime, where the filesystem has it: an
// inode number is often reused at once) changed.
//
// Diff also returns the entries of the tree as it is now, in walk order: a
// snapshot of it (unchanged paths keep their recorded xattrs and targets).
func Diff(ctx context.Context, rootfs string, old []Entry) ([]layer.Change, []Entry, error) {
	d := &differ{ctx: ctx, rootfs: rootfs, old: make(map[string]*Entry, len(old)), children: map[string][]string{}}
	for i := range old {
		e := &old[i]
		d.old[e.Path] = e
		dir := path.Dir(e.Path)
		if dir == "." {
			dir = ""
		}
		d.children[dir] = append(d.children[dir], path.Base(e.Path))
	}
	if err := d.walk("", false); err != nil {
		return nil, nil, err
	}
	return d.out, d.now, nil
}

type differ struct {
	ctx      context.Context
	rootfs   string
	old      map[string]*Entry
	children map[string][]string
	out      []layer.Change
	now      []Entry
}

type item struct {
	rel string
	cur Entry
	old *Entry // nil when the path is new
}

// walk diffs directory dir. fresh means no old entry under dir is visible
// any more (dir is new, or was replaced and gets an opaque whiteout).
func (d *differ) walk(dir string, fresh bool) error {
	if err := d.ctx.Err(); err != nil {
		return err
	}
	cur, err := scanDir(d.rootfs, dir)
	if err != nil {
		return err
	}
	items := make([]item, len(cur))
	present := make(map[string]bool, len(cur))
	for i := range cur {
		it := item{rel: cur[i].Path, cur: cur[i]}
		if !fresh {
			it.old = d.old[it.rel]
		}
		present[path.Base(it.rel)] = !(it.old != nil && isDir(it.old.Mode) && !isDir(it.cur.Mode))
		items[i] = it
	}
	if !fresh {
		olds := slices.Clone(d.children[dir])
		slices.Sort(olds)
		for _, name := range olds {
			if !present[name] {
				d.out = append(d.out, layer.Change{Path: path.Join(dir, name), Kind: layer.ChangeWhiteout})
			}
		}
	}
	for _, it := range items {
		// Record the current state; unchanged paths keep what was read.
		if it.old != nil && !changed(&it.cur, it.old) {
			it.cur.Link, it.cur.Xattrs = it.old.Link, it.old.Xattrs
		} else if err := readExtra(d.rootfs, &it.cur); err != nil {
			return err
		}
		d.now = append(d.now, it.cur)
		add := func() { d.out = append(d.out, layer.Change{Path: it.rel, Kind: layer.ChangeAdd}) }
		switch {
		case it.old == nil:
			add()
			if isDir(it.cur.Mode) {
				err = d.walk(it.rel, true)
			}
		case isDir(it.cur.Mode) && isDir(it.old.Mode):
			if it.cur.Ino != it.old.Ino || it.cur.Btime != it.old.Btime {
				add()
				d.out = append(d.out, layer.Change{Path: it.rel, Kind: layer.ChangeOpaque})
				err = d.walk(it.rel, true)
				break
			}
			if changed(&it.cur, it.old) {
				add()
			}
			err = d.walk(it.rel, false)
		default:
			if changed(&it.cur, it.old) {
				add()
			}
			if isDir(it.cur.Mode) {
				err = d.walk(it.rel, true)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func nanos(t unix.StatxTimestamp) int64 { return t.Sec*1e9 + int64(t.Nsec) }

func isDir(mode uint32) bool { return mode&unix.S_IFMT == unix.S_IFDIR }

func changed(cur, old *Entry) bool {
	return cur.Mode != old.Mode || cur.UID != old.UID || cur.GID != old.GID ||
		cur.Size != old.Size || cur.Mtime != old.Mtime || cur.Ctime != old.Ctime ||
		cur.Ino != old.Ino || cur.Btime != old.Btime || cur.Rdev != old.Rdev
}
