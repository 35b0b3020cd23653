package testutil

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TreeOptions says what Tree leaves out or adds.
type TreeOptions struct {
	// SkipXattr leaves out the extended attributes it returns true for
	// (security.selinux always is).
	SkipXattr func(name string) bool
	// Mtimes adds the modification time of everything but directories.
	Mtimes bool
}

// Tree describes every path under root, one sorted line each: type and
// mode, owner, a hash of a file's content, a link's target, a device's
// numbers, the first path of a hard-linked file's inode, and extended
// attributes with their values. Two trees are the same for the tests
// that compare unpacked or snapshotted filesystems when their Trees are.
func Tree(t testing.TB, root string, o TreeOptions) []string {
	t.Helper()
	var out []string
	inodes := map[uint64]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return &os.PathError{Op: "lstat", Path: p, Err: err}
		}
		line := fmt.Sprintf("%s mode=%o owner=%d:%d", rel, st.Mode, st.Uid, st.Gid)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			line += " sha256=" + hex.EncodeToString(sum[:8])
			if st.Nlink > 1 {
				if first, ok := inodes[st.Ino]; ok {
					line += " hardlink=" + first
				} else {
					inodes[st.Ino] = rel
				}
			}
		case unix.S_IFLNK:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			line += " -> " + l
		case unix.S_IFCHR, unix.S_IFBLK:
			line += fmt.Sprintf(" dev=%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
		if o.Mtimes && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			line += fmt.Sprintf(" mtime=%d", st.Mtim.Sec)
		}
		out = append(out, line+" xattrs="+xattrs(p, o.SkipXattr))
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	slices.Sort(out)
	return out
}

// xattrs lists p's extended attributes and their values, sorted.
func xattrs(p string, skip func(string) bool) string {
	sz, err := unix.Llistxattr(p, nil)
	if err != nil || sz == 0 {
		return ""
	}
	buf := make([]byte, sz)
	if sz, err = unix.Llistxattr(p, buf); err != nil {
		return ""
	}
	var out []string
	for _, name := range strings.Split(strings.TrimRight(string(buf[:sz]), "\x00"), "\x00") {
		if name == "" || name == "security.selinux" || (skip != nil && skip(name)) {
			continue
		}
		v := make([]byte, 64<<10)
		n, err := unix.Lgetxattr(p, name, v)
		if err != nil {
			continue
		}
		out = append(out, fmt.Sprintf("%s=%x", name, v[:n]))
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}
