package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ocikit/ocikit/internal/testutil"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// unpackLayers unpacks uncompressed layer tars into a fresh rootfs and
// returns its path.
func unpackLayers(t *testing.T, tars [][]byte, opts ...Option) string {
	t.Helper()
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	img := newTestImage(t, v1.MediaTypeImageLayer, tars...)
	if err := img.unpack(t, rootfs, opts...); err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	return rootfs
}

func TestApplyEntryTypes(t *testing.T) {
	testutil.RequireRoot(t)
	later := time.Date(2021, 6, 7, 8, 9, 10, 123456789, time.UTC)
	layer := mkTar(t,
		tDir("etc/").withMode(0o750).withOwner(0, 4).withMtime(later),
		tFile("etc/passwd", "root:x:0:0::/root:/bin/sh\n").withMode(0o644),
		tFile("bin/su", "su").withMode(0o4755).withOwner(0, 0),
		tFile("bin/wall", "wall").withMode(0o2755).withOwner(0, 5),
		tDir("tmp/").withMode(0o1777),
		tFile("home/u/f", "user file").withMode(0o600).withOwner(1000, 1000),
		tSymlink("bin/sh", "/bin/busybox").withOwner(7, 8),
		tFile("bin/busybox", "bb").withMode(0o755),
		tHardlink("bin/ls", "bin/busybox"),
		ent{name: "dev/null", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 3},
		ent{name: "dev/loop0", typ: tar.TypeBlock, mode: 0o660, major: 7, minor: 0, gid: 6},
		ent{name: "run/fifo", typ: tar.TypeFifo, mode: 0o620, uid: 3},
		tFile("x/cap", "cap").withMode(0o755).withOwner(0, 0).
			withXattr("security.capability", "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00").
			withXattr("user.note", "hello").withXattr("trusted.t", "tv"),
		tFile("x/capchown", "c").withMode(0o4755).withOwner(1000, 1000).
			withXattr("security.capability", "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"),
	)
	root := t.TempDir()
	if err := Apply(context.Background(), root, bytes.NewReader(layer)); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	p := func(s string) string { return filepath.Join(root, s) }
	check := func(name string, typ, perm uint32, uid, gid uint32) {
		t.Helper()
		st := lstatT(t, p(name))
		if st.Mode&unix.S_IFMT != typ || st.Mode&0o7777 != perm || st.Uid != uid || st.Gid != gid {
			t.Errorf("%s: mode %o uid %d gid %d, want type %o perm %o uid %d gid %d", name, st.Mode, st.Uid, st.Gid, typ, perm, uid, gid)
		}
	}
	check("etc", unix.S_IFDIR, 0o750, 0, 4)
	check("etc/passwd", unix.S_IFREG, 0o644, 0, 0)
	check("bin/su", unix.S_IFREG, 0o4755, 0, 0)
	check("bin/wall", unix.S_IFREG, 0o2755, 0, 5)
	check("tmp", unix.S_IFDIR, 0o1777, 0, 0)
	check("home/u/f", unix.S_IFREG, 0o600, 1000, 1000)
	check("bin/sh", unix.S_IFLNK, 0o777, 7, 8)
	check("dev/null", unix.S_IFCHR, 0o666, 0, 0)
	check("dev/loop0", unix.S_IFBLK, 0o660, 0, 6)
	check("run/fifo", unix.S_IFIFO, 0o620, 3, 0)
	check("x/capchown", unix.S_IFREG, 0o4755, 1000, 1000) // setuid survives chown: mode set after
	if got := readFile(t, p("etc/passwd")); got != "root:x:0:0::/root:/bin/sh\n" {
		t.Errorf("etc/passwd = %q", got)
	}
	if l, _ := os.Readlink(p("bin/sh")); l != "/bin/busybox" {
		t.Errorf("bin/sh -> %q", l)
	}
	a, b := lstatT(t, p("bin/ls")), lstatT(t, p("bin/busybox"))
	if a.Ino != b.Ino || a.Nlink != 2 {
		t.Errorf("bin/ls not a hardlink of bin/busybox (ino %d/%d nlink %d)", a.Ino, b.Ino, a.Nlink)
	}
	if st := lstatT(t, p("dev/null")); unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 3 {
		t.Errorf("dev/null rdev %d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	for _, x := range []struct{ path, name, want string }{
		{"x/cap", "user.note", "hello"},
		{"x/cap", "trusted.t", "tv"},
		{"x/capchown", "security.capability", "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"},
	} {
		if got, ok := getxattr(t, p(x.path), x.name); !ok || got != x.want {
			t.Errorf("%s xattr %s = %q (%v), want %q", x.path, x.name, got, ok, x.want)
		}
	}
	// Directory times are set after their children were created.
	if st := lstatT(t, p("etc")); st.Mtim.Sec != later.Unix() || st.Mtim.Nsec != int64(later.Nanosecond()) {
		t.Errorf("etc mtime %d.%d, want %v", st.Mtim.Sec, st.Mtim.Nsec, later)
	}
	for _, name := range []string{"etc/passwd", "bin/sh", "dev/null", "run/fifo", "tmp"} {
		if st := lstatT(t, p(name)); st.Mtim.Sec != testTime.Unix() {
			t.Errorf("%s mtime %d, want %d", name, st.Mtim.Sec, testTime.Unix())
		}
	}
}

func TestApplyChangesets(t *testing.T) {
	testutil.RequireRoot(t)
	base := mkTar(t,
		tDir("a/"), tFile("a/file", "lower"), tDir("a/sub/"), tFile("a/sub/deep", "deep"),
		tFile("f2d", "was a file"), tDir("d2f/"), tFile("d2f/child", "c"),
		tSymlink("l2d", "a"), tDir("keep/").withMode(0o700).withXattr("user.old", "1"),
		tFile("hl-target", "target"),
	)
	upper := mkTar(t,
		tDir("f2d/"), tFile("f2d/inside", "now a dir"),
		tFile("d2f", "now a file"),
		tDir("l2d/"),
		tDir("keep/").withMode(0o755).withXattr("user.new", "2"),
		tFile("a/file", "upper"),
		tHardlink("hl", "hl-target"), // to a file of an earlier layer
	)
	root := unpackLayers(t, [][]byte{base, upper})
	p := func(s string) string { return filepath.Join(root, s) }
	if got := readFile(t, p("f2d/inside")); got != "now a dir" {
		t.Errorf("f2d/inside = %q", got)
	}
	if got := readFile(t, p("d2f")); got != "now a file" {
		t.Errorf("d2f = %q", got)
	}
	if st := lstatT(t, p("l2d")); st.Mode&unix.S_IFMT != unix.S_IFDIR {
		t.Errorf("l2d mode %o, want a directory replacing the symlink", st.Mode)
	}
	if _, err := os.Lstat(p("a/sub/deep")); err != nil {
		t.Errorf("a/sub/deep: %v (the symlink's replacement must not touch its target)", err)
	}
	if got := readFile(t, p("a/file")); got != "upper" {
		t.Errorf("a/file = %q", got)
	}
	st := lstatT(t, p("keep"))
	if st.Mode&0o7777 != 0o755 {
		t.Errorf("keep mode %o, want 755 (directory attributes replaced)", st.Mode&0o7777)
	}
	if _, ok := getxattr(t, p("keep"), "user.old"); ok {
		t.Errorf("keep still has user.old: attributes must be replaced, not merged")
	}
	if v, _ := getxattr(t, p("keep"), "user.new"); v != "2" {
		t.Errorf("keep user.new = %q", v)
	}
	a, b := lstatT(t, p("hl")), lstatT(t, p("hl-target"))
	if a.Ino != b.Ino {
		t.Errorf("hl is not linked to hl-target of the lower layer")
	}
}

// listTree returns "path type" lines of the tree, sorted.
func listTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	for rel, d := range snapshot(t, root) {
		if rel == "." {
			continue
		}
		kind := "f"
		if strings.HasPrefix(d, "mode=4") {
			kind = "d"
		}
		out = append(out, rel+" "+kind)
	}
	sort.Strings(out)
	return out
}

func TestWhiteouts(t *testing.T) {
	testutil.RequireRoot(t)
	base := mkTar(t,
		tFile("file1", "1"), tDir("a/"), tFile("a/file2", "2"), tDir("b/"), tFile("b/x", "x"),
		tDir("c/"), tFile("c/file3", "3"),
		tDir("bin/"), tFile("bin/my-app-binary", "b"), tFile("bin/my-app-tools", "t"), tDir("bin/tools/"), tFile("bin/tools/one", "1"),
		tDir("o/"), tDir("o/b/"), tDir("o/b/c/"), tFile("o/b/c/bar", "bar"),
		tDir("s/"), tFile("s/lower", "l"), tDir("s/d/"), tFile("s/d/lowerchild", "l"),
	)
	tests := []struct {
		name  string
		upper []ent
		want  []string
	}{
		{
			name:  "explicit",
			upper: []ent{tFile(".wh.file1", ""), tFile("a/.wh.file2", ""), tFile(".wh.b", ""), tFile("file4", "4")},
			want:  []string{"a d", "bin d", "bin/my-app-binary f", "bin/my-app-tools f", "bin/tools d", "bin/tools/one f", "c d", "c/file3 f", "file4 f", "o d", "o/b d", "o/b/c d", "o/b/c/bar f", "s d", "s/d d", "s/d/lowerchild f", "s/lower f"},
		},
		{
			name:  "opaque",
			upper: []ent{tDir("bin/"), tFile("bin/.wh..wh..opq", "")},
			want:  []string{"a d", "a/file2 f", "b d", "b/x f", "bin d", "c d", "c/file3 f", "file1 f", "o d", "o/b d", "o/b/c d", "o/b/c/bar f", "s d", "s/d d", "s/d/lowerchild f", "s/lower f"},
		},
		{
			name:  "opaque first, then recreate",
			upper: []ent{tDir("o/"), tFile("o/.wh..wh..opq", ""), tDir("o/b/"), tDir("o/b/c/"), tFile("o/b/c/foo", "foo")},
			want:  []string{"a d", "a/file2 f", "b d", "b/x f", "bin d", "bin/my-app-binary f", "bin/my-app-tools f", "bin/tools d", "bin/tools/one f", "c d", "c/file3 f", "file1 f", "o d", "o/b d", "o/b/c d", "o/b/c/foo f", "s d", "s/d d", "s/d/lowerchild f", "s/lower f"},
		},
		{
			// layer.md: the same layer with the opaque whiteout last.
			name:  "opaque last, same result",
			upper: []ent{tDir("o/"), tDir("o/b/"), tDir("o/b/c/"), tFile("o/b/c/foo", "foo"), tFile("o/.wh..wh..opq", "")},
			want:  []string{"a d", "a/file2 f", "b d", "b/x f", "bin d", "bin/my-app-binary f", "bin/my-app-tools f", "bin/tools d", "bin/tools/one f", "c d", "c/file3 f", "file1 f", "o d", "o/b d", "o/b/c d", "o/b/c/foo f", "s d", "s/d d", "s/d/lowerchild f", "s/lower f"},
		},
		{
			// Same-layer entries are not hidden: implicit parents too.
			name:  "opaque keeps same-layer entries in implicit dirs",
			upper: []ent{tFile("s/d/new", "n"), tFile("s/.wh..wh..opq", ""), tFile("s/new2", "n")},
			want:  []string{"a d", "a/file2 f", "b d", "b/x f", "bin d", "bin/my-app-binary f", "bin/my-app-tools f", "bin/tools d", "bin/tools/one f", "c d", "c/file3 f", "file1 f", "o d", "o/b d", "o/b/c d", "o/b/c/bar f", "s d", "s/d d", "s/d/new f", "s/new2 f"},
		},
		{
			name:  "whiteout after same-layer file keeps it",
			upper: []ent{tFile("c/new", "n"), tFile("c/.wh.new", ""), tFile("c/.wh.file3", "")},
			want:  []string{"a d", "a/file2 f", "b d", "b/x f", "bin d", "bin/my-app-binary f", "bin/my-app-tools f", "bin/tools d", "bin/tools/one f", "c d", "c/new f", "file1 f", "o d", "o/b d", "o/b/c d", "o/b/c/bar f", "s d", "s/d d", "s/d/lowerchild f", "s/lower f"},
		},
		{
			name:  "whiteout of a dir then recreate it in either order",
			upper: []ent{tFile("s/d/fresh", "f"), tFile("s/.wh.d", ""), tFile(".wh.b", ""), tFile("b/again", "a")},
			want:  []string{"a d", "a/file2 f", "b d", "b/again f", "bin d", "bin/my-app-binary f", "bin/my-app-tools f", "bin/tools d", "bin/tools/one f", "c d", "c/file3 f", "file1 f", "o d", "o/b d", "o/b/c d", "o/b/c/bar f", "s d", "s/d d", "s/d/fresh f", "s/lower f"},
		},
		{
			name:  "whiteout of missing path and aufs metadata are ignored",
			upper: []ent{tFile("nope/.wh.x", ""), tFile(".wh.ghost", ""), tFile(".wh..wh.plnk", ""), tDir(".wh..wh.aufs/")},
			want:  []string{"a d", "a/file2 f", "b d", "b/x f", "bin d", "bin/my-app-binary f", "bin/my-app-tools f", "bin/tools d", "bin/tools/one f", "c d", "c/file3 f", "file1 f", "o d", "o/b d", "o/b/c d", "o/b/c/bar f", "s d", "s/d d", "s/d/lowerchild f", "s/lower f"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := unpackLayers(t, [][]byte{base, mkTar(t, tc.upper...)})
			got := listTree(t, root)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("tree:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestApplyRootless(t *testing.T) {
	layer := mkTar(t,
		tDir("locked/").withMode(zeroMode),
		tFile("locked/inside", "x").withMode(0o400),
		tDir("locked/sub/").withMode(0o500),
		tFile("locked/sub/f", "y"),
		tFile("owned", "o").withOwner(1000, 0),
		tFile("grp", "g").withOwner(0, 50),
		tFile("both", "b").withOwner(1000, 1000),
		tFile("rootfile", "r"),
		ent{name: "dev/null", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 3},
		ent{name: "fifo", typ: tar.TypeFifo, mode: 0o644},
	)
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	img := newTestImage(t, v1.MediaTypeImageLayer, layer)
	if err := img.unpack(t, rootfs, WithRootless()); err != nil {
		t.Fatalf("Unpack rootless: %v", err)
	}
	p := func(s string) string { return filepath.Join(rootfs, s) }
	if st := lstatT(t, p("locked")); st.Mode&0o7777 != 0 {
		t.Errorf("locked mode %o, want 0 restored at the end", st.Mode&0o7777)
	}
	if st := lstatT(t, p("locked/sub")); st.Mode&0o7777 != 0o500 {
		t.Errorf("locked/sub mode %o, want 500", st.Mode&0o7777)
	}
	if os.Geteuid() == 0 {
		// Only root can look inside a mode 0 directory to check the rest.
		if got := readFile(t, p("locked/sub/f")); got != "y" {
			t.Errorf("locked/sub/f = %q", got)
		}
	}
	for _, tc := range []struct {
		name     string
		uid, gid uint32
		present  bool
	}{
		{"owned", 1000, rootlessNoopID, true},
		{"grp", rootlessNoopID, 50, true},
		{"both", 1000, 1000, true},
		{"rootfile", 0, 0, false},
	} {
		v, ok := getxattr(t, p(tc.name), rootlessXattr)
		if ok != tc.present {
			t.Errorf("%s: rootless xattr present=%v, want %v", tc.name, ok, tc.present)
			continue
		}
		if !ok {
			continue
		}
		uid, gid, ok := parseRootlessPayload([]byte(v))
		if !ok || uid != tc.uid || gid != tc.gid {
			t.Errorf("%s: rootless payload %x = (%d,%d), want (%d,%d)", tc.name, v, uid, gid, tc.uid, tc.gid)
		}
		if st := lstatT(t, p(tc.name)); st.Uid != uint32(os.Geteuid()) {
			t.Errorf("%s: owned by %d, rootless must not chown", tc.name, st.Uid)
		}
	}
	mustNotExist(t, p("dev/null"))
	if st := lstatT(t, p("fifo")); st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("fifo not created rootless")
	}
	// Make it removable for t.TempDir's cleanup.
	_ = os.Chmod(p("locked"), 0o700)
}

func TestRootlessPayloadEncoding(t *testing.T) {
	// Known encodings of rootless-containers Resource{uid, gid}.
	tests := []struct {
		uid, gid int
		want     []byte
		ok       bool
	}{
		{0, 0, nil, false},
		{1000, 0, []byte{0x08, 0xe8, 0x07, 0x10, 0xff, 0xff, 0xff, 0xff, 0x0f}, true},
		{0, 5, []byte{0x08, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x10, 0x05}, true},
		{1, 128, []byte{0x08, 0x01, 0x10, 0x80, 0x01}, true},
	}
	for _, tc := range tests {
		got, ok := rootlessPayload(tc.uid, tc.gid)
		if ok != tc.ok || !bytes.Equal(got, tc.want) {
			t.Errorf("rootlessPayload(%d,%d) = %x,%v, want %x,%v", tc.uid, tc.gid, got, ok, tc.want, tc.ok)
		}
	}
}

func TestApplyErrors(t *testing.T) {
	tests := []struct {
		name string
		tar  []byte
		want error
	}{
		{"not a tar", bytes.Repeat([]byte("not a tar archive "), 100), tar.ErrHeader},
		{"truncated", mkTar(t, tFile("big", strings.Repeat("x", 5000)))[:1500], nil},
		{"dotdot", mkTar(t, tFile("../escape", "x")), ErrUnsafePath},
		{"root not a dir", mkTar(t, tSymlink(".", "/")), ErrUnsafePath},
		{"bad whiteout", mkTar(t, tFile("a/.wh..", "")), ErrUnsafePath},
		{"hardlink to missing", mkTar(t, tHardlink("l", "missing")), unix.ENOENT},
		{"hardlink to root", mkTar(t, tHardlink("l", "./")), ErrUnsafePath},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			err := Apply(context.Background(), root, bytes.NewReader(tc.tar))
			if err == nil {
				t.Fatal("Apply succeeded")
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestApplyCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Apply(ctx, t.TempDir(), bytes.NewReader(mkTar(t, tFile("a", "b"))))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// TestApplyUserXattrOnSpecial: the kernel never allows user.* xattrs on
// symlinks, devices and FIFOs; such records are skipped (with a warning),
// not fatal, while the entries are still made.
func TestApplyUserXattrOnSpecial(t *testing.T) {
	testutil.RequireRoot(t)
	layer := mkTar(t,
		tSymlink("l", "target").withXattr("user.x", "1").withXattr("trusted.y", "2"),
		ent{name: "p", typ: tar.TypeFifo, mode: 0o600, xattrs: map[string]string{"user.x": "1"}},
	)
	root := t.TempDir()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	if err := Apply(context.Background(), root, bytes.NewReader(layer), WithLogger(log)); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if v, ok := getxattr(t, filepath.Join(root, "l"), "trusted.y"); !ok || v != "2" {
		t.Errorf("symlink trusted.y = %q, %v", v, ok)
	}
	if st := lstatT(t, filepath.Join(root, "p")); st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("p mode %o", st.Mode)
	}
	if !strings.Contains(logs.String(), "skipping xattr") {
		t.Errorf("no warning logged: %q", logs.String())
	}
}

// BenchmarkApply applies a layer of 2,000 small files in 100 directories
// (bench/unpack.sh compares whole unpacks with tar and umoci).
func BenchmarkApply(b *testing.B) {
	var ents []ent
	for d := range 100 {
		ents = append(ents, tDir(fmt.Sprintf("d%03d/", d)))
		for f := range 20 {
			ents = append(ents, tFile(fmt.Sprintf("d%03d/f%02d", d, f), strings.Repeat("x", 4096)))
		}
	}
	layer := mkTar(b, ents...)
	b.SetBytes(int64(len(layer)))
	parent := b.TempDir()
	b.ResetTimer()
	for i := range b.N {
		root := filepath.Join(parent, fmt.Sprint(i))
		if err := os.Mkdir(root, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := Apply(context.Background(), root, bytes.NewReader(layer)); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		removeTree(root)
		b.StartTimer()
	}
}
