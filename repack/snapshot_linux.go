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
// place; repack reads it to find what changed since.
func Record(ctx context.Context, bundleDir, layoutDir string, source v1.Descriptor) error {
	abs, err := filepath.Abs(layoutDir)
	if err != nil {
		return fmt.Errorf("record snapshot: %w", err)
	}
	entries, err := Take(ctx, rootfsOf(bundleDir))
	if err != nil {
		return fmt.Errorf("record snapshot: %w", err)
	}
	if err := waitTick(bundleDir, entries); err != nil {
		return fmt.Errorf("record snapshot: %w", err)
	}
	return writeSnapshot(bundleDir, &Snapshot{Layout: abs, Source: source, Entries: entries})
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
		names, err := readDirNames(filepath.Join(rootfs, filepath.FromSlash(dir)))
		if err != nil {
			return err
		}
		for _, name := range names {
			if err := ctx.Err(); err != nil {
				return err
			}
			rel := path.Join(dir, name)
			full := filepath.Join(rootfs, filepath.FromSlash(rel))
			e, err := lstatEntry(full, rel)
			if err != nil {
				return err
			}
			if e.Mode&unix.S_IFMT == unix.S_IFLNK {
				if e.Link, err = os.Readlink(full); err != nil {
					return err
				}
			}
			if e.Xattrs, err = layer.Xattrs(full); err != nil {
				return err
			}
			out = append(out, e)
			if e.Mode&unix.S_IFMT == unix.S_IFDIR {
				if err := walk(rel); err != nil {
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

func lstatEntry(full, rel string) (Entry, error) {
	var st unix.Stat_t
	if err := unix.Lstat(full, &st); err != nil {
		return Entry{}, &os.PathError{Op: "lstat", Path: full, Err: err}
	}
	return Entry{
		Path:  rel,
		Mode:  st.Mode,
		UID:   st.Uid,
		GID:   st.Gid,
		Size:  st.Size,
		Mtime: st.Mtim.Nano(),
		Ctime: st.Ctim.Nano(),
		Ino:   st.Ino,
		Rdev:  uint64(st.Rdev),
	}, nil
}

func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	return names, nil
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
// whole old tree.
func Diff(ctx context.Context, rootfs string, old []Entry) ([]layer.Change, error) {
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
		return nil, err
	}
	return d.out, nil
}

type differ struct {
	ctx      context.Context
	rootfs   string
	old      map[string]*Entry
	children map[string][]string
	out      []layer.Change
}

type item struct {
	rel string
	cur Entry
	old *Entry // nil when the path is new
}

// walk diffs directory dir. fresh means no old entry under dir is visible
// any more (dir is new, or was replaced and gets an opaque whiteout).
func (d *differ) walk(dir string, fresh bool) error {
	names, err := readDirNames(filepath.Join(d.rootfs, filepath.FromSlash(dir)))
	if err != nil {
		return err
	}
	items := make([]item, 0, len(names))
	present := make(map[string]bool, len(names))
	for _, name := range names {
		if err := d.ctx.Err(); err != nil {
			return err
		}
		rel := path.Join(dir, name)
		cur, err := lstatEntry(filepath.Join(d.rootfs, filepath.FromSlash(rel)), rel)
		if err != nil {
			return err
		}
		it := item{rel: rel, cur: cur}
		if !fresh {
			it.old = d.old[rel]
		}
		present[name] = !(it.old != nil && isDir(it.old.Mode) && !isDir(cur.Mode))
		items = append(items, it)
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
		add := func() { d.out = append(d.out, layer.Change{Path: it.rel, Kind: layer.ChangeAdd}) }
		switch {
		case it.old == nil:
			add()
			if isDir(it.cur.Mode) {
				err = d.walk(it.rel, true)
			}
		case isDir(it.cur.Mode) && isDir(it.old.Mode):
			if it.cur.Ino != it.old.Ino {
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

func isDir(mode uint32) bool { return mode&unix.S_IFMT == unix.S_IFDIR }

func changed(cur, old *Entry) bool {
	return cur.Mode != old.Mode || cur.UID != old.UID || cur.GID != old.GID ||
		cur.Size != old.Size || cur.Mtime != old.Mtime || cur.Ctime != old.Ctime ||
		cur.Ino != old.Ino || cur.Rdev != old.Rdev
}
