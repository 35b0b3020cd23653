package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/internal/testutil"
	"github.com/ocikit/ocikit/layout"
)

// te is one entry of a hand-made layer tar.
type te struct {
	name, data, link string
	typ              byte
	mode             int64
	uid              int
	xattrs           map[string]string
}

func tarOf(t *testing.T, entries []te) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Gid: e.uid,
			ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		switch {
		case e.typ == 0 && strings.HasSuffix(e.name, "/"):
			h.Typeflag = tar.TypeDir
		case e.typ == 0:
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.data))
		}
		h.Linkname = e.link
		for k, v := range e.xattrs {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			h.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(e.data)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func imageOf(t *testing.T, layers [][]te) (*layout.Layout, *content.Image) {
	t.Helper()
	ctx := context.Background()
	l, err := layout.Init(ctx, filepath.Join(t.TempDir(), "layout"))
	if err != nil {
		t.Fatal(err)
	}
	img := &content.Image{Config: v1.Image{RootFS: v1.RootFS{Type: "layers"}}}
	for _, entries := range layers {
		data := tarOf(t, entries)
		d, err := l.PutBlob(ctx, bytes.NewReader(data), v1.Descriptor{MediaType: v1.MediaTypeImageLayer})
		if err != nil {
			t.Fatal(err)
		}
		img.Manifest.Layers = append(img.Manifest.Layers, d)
		img.Config.RootFS.DiffIDs = append(img.Config.RootFS.DiffIDs, digest.FromBytes(data))
	}
	return l, img
}

// tree lists the tree under root (testutil.Tree), overlayfs's own
// attributes left out.
func tree(t *testing.T, root string) []string {
	t.Helper()
	return testutil.Tree(t, root, testutil.TreeOptions{SkipXattr: overlayPrivate})
}

// overlayPrivate says whether n is one of overlayfs's own attributes.
func overlayPrivate(n string) bool {
	for _, ns := range []string{"trusted.overlay.", "user.overlay."} {
		if rest, ok := strings.CutPrefix(n, ns); ok {
			switch rest {
			case "opaque", "redirect", "origin", "impure", "nlink", "upper", "metacopy", "protattr", "whiteout", "whiteouts", "uuid":
				return true
			}
		}
	}
	return false
}

// base is the first layer of every case below.
var base = []te{
	{name: "etc/"}, {name: "etc/passwd", data: "root:x:0:0::/root:/bin/sh\n"},
	{name: "a/"}, {name: "a/keep", data: "keep"}, {name: "a/gone", data: "gone"},
	{name: "o/", mode: 0o750, uid: 1000}, {name: "o/x", data: "x"}, {name: "o/sub/"}, {name: "o/sub/y", data: "y"},
	{name: "f2d", data: "file"}, {name: "d2f/"}, {name: "d2f/z", data: "z"},
	{name: "ln", typ: tar.TypeSymlink, link: "a/keep"},
	{name: "sl", typ: tar.TypeSymlink, link: "/a"},
	{name: "m/", mode: 0o700},
	{name: "hl/"}, {name: "hl/orig", data: "orig", mode: 0o4755, uid: 1000, xattrs: map[string]string{"user.k": "v"}},
	{name: "hl/pair", typ: tar.TypeLink, link: "hl/orig"},
}

// TestNoOverlaySnapshots: for hand-made layers of every kind of change,
// the snapshots written without an overlay mount (WithoutOverlay) stack to
// the tree that the snapshots written by the kernel through the overlay
// stack to (both merged by ApplySnapshots), the kernel's own overlay of
// them shows that tree too, and the chain's user databases are the same;
// as root and as a rootless store (user.overlay.* attributes, owners in
// xattrs).
func TestNoOverlaySnapshots(t *testing.T) {
	testutil.RequireRoot(t)
	tests := []struct {
		name   string
		layers [][]te
	}{
		{"whiteouts", [][]te{base, {{name: "a/.wh.gone"}, {name: ".wh.ln"}, {name: "a/new", data: "new"}, {name: ".wh.nothere"}}}},
		{"opaque directory", [][]te{base, {{name: "o/.wh..wh..opq"}, {name: "o/new", data: "n"}}}},
		{"opaque marker last", [][]te{base, {{name: "o/new", data: "n"}, {name: "o/.wh..wh..opq"}}}},
		{"hard links into lower layers", [][]te{base, {
			{name: "hl2", typ: tar.TypeLink, link: "hl/orig"}, {name: "newd/"}, {name: "newd/k", typ: tar.TypeLink, link: "a/keep"},
		}}},
		{"hard link then whiteout of its target", [][]te{base, {{name: "x", typ: tar.TypeLink, link: "a/keep"}, {name: "a/.wh.keep"}}}},
		{"replaced directories and files", [][]te{base, {
			{name: "f2d/"}, {name: "f2d/in", data: "in"}, {name: "d2f", data: "now a file"},
			{name: "m/", mode: 0o555}, {name: "ln", typ: tar.TypeSymlink, link: "o/x"}, {name: "a/keep", data: "changed"},
		}}},
		{"whiteout below a directory turned file (umoci's order)", [][]te{base, {{name: "d2f", data: "f"}, {name: "d2f/.wh.z"}}}},
		{"new entries in lower directories", [][]te{base, {{name: "o/sub/deep/er/f", data: "d"}, {name: "hl/more", data: "m"}}}},
		{"through a lower symlink", [][]te{base, {{name: "sl/viasym", data: "via"}}}},
		{"whiteout and directory again", [][]te{base, {{name: ".wh.o"}, {name: "o/"}, {name: "o/fresh", data: "f"}}}},
		{"whiteout, entries, then the directory's entry", [][]te{base, {{name: ".wh.o"}, {name: "o/fresh", data: "f"}, {name: "o/", mode: 0o711}}}},
		{"directory then its whiteout", [][]te{base, {{name: "o/"}, {name: "o/n2", data: "2"}, {name: ".wh.o"}}}},
		{"users and image overlay xattrs", [][]te{base, {
			{name: "etc/passwd", data: "root:x:0:0::/root:/bin/sh\nu:x:7:7::/:/bin/sh\n"},
			{name: "xa", data: "x", xattrs: map[string]string{"NS.overlay.image": "1"}},
		}}},
		{"symlinks leading out stay in", [][]te{
			append(slices.Clone(base), te{name: "OUTSIDE/"}, te{name: "out", typ: tar.TypeSymlink, link: "OUTSIDE"}, te{name: "up", typ: tar.TypeSymlink, link: "../../../../OUTSIDE"},
				te{name: "etcl", typ: tar.TypeSymlink, link: "/etc"}),
			{{name: "out/f", data: "1"}, {name: "up/g", data: "2"}, {name: "pw", typ: tar.TypeLink, link: "etcl/passwd"}, {name: "etcl/.wh.passwd"}},
		}},
		{"three layers", [][]te{base,
			{{name: "a/.wh..wh..opq"}, {name: "a/only", data: "2"}, {name: "etc/.wh.passwd"}},
			{{name: "a/.wh.only"}, {name: "a/keep", data: "back"}, {name: "o/.wh.sub"}, {name: "z", typ: tar.TypeLink, link: "hl/pair"}},
		}},
	}
	ctx := context.Background()
	for _, rootless := range []bool{false, true} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/rootless=%v", tt.name, rootless), func(t *testing.T) {
				if strings.Contains(tt.name, "overlay xattrs") {
					// The image's overlay.* xattrs escaped: Linux 6.7.
					testutil.RequireKernel(t, 6, 7)
				}
				// NS: the namespace overlayfs keeps its attributes in.
				ns := "trusted"
				if rootless {
					ns = "user"
				}
				var layers [][]te
				for _, entries := range tt.layers {
					entries = slices.Clone(entries)
					for i, e := range entries {
						if v, ok := e.xattrs["NS.overlay.image"]; ok {
							entries[i].xattrs = map[string]string{ns + ".overlay.image": v}
						}
					}
					layers = append(layers, entries)
				}
				// OUTSIDE: a directory outside the store, which a
				// symlink followed on the host would lead to.
				outside := filepath.Join(t.TempDir(), "outside")
				for i := range layers {
					for j := range layers[i] {
						e := &layers[i][j]
						e.link = strings.ReplaceAll(e.link, "OUTSIDE", outside)
						e.name = strings.ReplaceAll(e.name, "OUTSIDE", outside)
					}
				}
				defer func() {
					if _, err := os.Lstat(outside); err == nil {
						t.Errorf("%s was written, outside the store", outside)
					}
				}()
				l, img := imageOf(t, layers)
				var opts []Option
				if rootless {
					opts = append(opts, WithRootless())
				}
				withOv, err := Open(ctx, t.TempDir(), opts...)
				if errors.Is(err, ErrNoUserXattr) {
					t.Skip(err)
				}
				if err != nil {
					t.Fatal(err)
				}
				without, err := Open(ctx, t.TempDir(), append(opts, WithoutOverlay())...)
				if errors.Is(err, ErrNoUserXattr) {
					t.Skip(err)
				}
				if err != nil {
					t.Fatal(err)
				}
				if err := withOv.ProbeOverlay([]string{withOv.Dir()}); err != nil {
					t.Skipf("no overlay to compare with: %v", err)
				}
				ovLowers, _, err := withOv.Prepare(ctx, l, img, nil)
				if err != nil {
					t.Fatal(err)
				}
				noLowers, _, err := without.Prepare(ctx, l, img, nil)
				if err != nil {
					t.Fatal(err)
				}
				merged := func(lowers []string) []string {
					dst := filepath.Join(t.TempDir(), "rootfs")
					if err := os.Mkdir(dst, 0o755); err != nil {
						t.Fatal(err)
					}
					if err := ApplySnapshots(lowers, dst); err != nil {
						t.Fatal(err)
					}
					return tree(t, dst)
				}
				want := merged(ovLowers)
				if got := merged(noLowers); !slices.Equal(want, got) {
					t.Errorf("snapshots without overlay stack to another tree:\nwith:    %q\nwithout: %q", want, got)
				}
				m, err := without.MountOverlay(noLowers, "", "")
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				if got := tree(t, m.Path()+"/."); !slices.Equal(want, got) {
					t.Errorf("the overlay of the snapshots without overlay shows another tree:\nwant:    %q\noverlay: %q", want, got)
				}
				top := len(ovLowers) - 1
				if w, g := tree(t, UsersDir(ovLowers[top])), tree(t, UsersDir(noLowers[top])); !slices.Equal(w, g) {
					t.Errorf("users: with overlay %q, without %q", w, g)
				}
			})
		}
	}
}

// TestNoOverlaySnapshotsRefused: a layer the applier refuses through the
// overlay is refused without it too, and leaves no snapshot.
func TestNoOverlaySnapshotsRefused(t *testing.T) {
	testutil.RequireRoot(t)
	tests := []struct {
		name  string
		layer []te
	}{
		{"hard link to a file this layer whited out", []te{{name: "a/.wh.keep"}, {name: "x", typ: tar.TypeLink, link: "a/keep"}}},
		{"entry below a symlink to nothing", []te{{name: "dangling", typ: tar.TypeSymlink, link: "/no/where"}, {name: "dangling/f", data: "f"}}},
		{"entry below a file", []te{{name: "f2d/x", data: "x"}}},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, img := imageOf(t, [][]te{base, tt.layer})
			for _, no := range []bool{false, true} {
				var opts []Option
				if no {
					opts = append(opts, WithoutOverlay())
				}
				s, err := Open(ctx, t.TempDir(), opts...)
				if err != nil {
					t.Fatal(err)
				}
				if _, _, err := s.Prepare(ctx, l, img, nil); err == nil {
					t.Errorf("without overlay %v: the layer was applied", no)
				}
				if !s.Missing(img) {
					t.Errorf("without overlay %v: the snapshot is there", no)
				}
			}
		})
	}
}

// TestNoOverlayFallback: on a store the kernel refuses overlays on (one on
// overlayfs itself), a multi-layer image's snapshots are still made, and
// the logger hears it once.
func TestNoOverlayFallback(t *testing.T) {
	testutil.RequireRoot(t)
	// overlay.* xattrs set through overlayfs (escaped): Linux 6.7.
	testutil.RequireKernel(t, 6, 7)
	ctx := context.Background()
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	for _, d := range []string{"lower", "upper", "work", "mnt"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", filepath.Join(dir, "lower"), filepath.Join(dir, "upper"), filepath.Join(dir, "work"))
	if err := unix.Mount("overlay", mnt, "overlay", 0, opts); err != nil {
		t.Skipf("overlay: %v", err)
	}
	defer unix.Unmount(mnt, unix.MNT_DETACH)
	var logs bytes.Buffer
	s, err := Open(ctx, filepath.Join(mnt, "store"), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ProbeOverlay([]string{filepath.Join(mnt, "store")}); err == nil {
		t.Skip("the kernel takes an overlay on overlayfs here")
	}
	l, img := imageOf(t, [][]te{base, {{name: "a/.wh.gone"}, {name: "o/.wh..wh..opq"}, {name: "o/n", data: "n"}}, {{name: "a/third", data: "3"}}})
	lowers, made, err := s.Prepare(ctx, l, img, nil)
	if err != nil {
		t.Fatal(err)
	}
	if made != 3 {
		t.Errorf("made %d snapshots, want 3", made)
	}
	if n := strings.Count(logs.String(), "without overlay"); n != 1 {
		t.Errorf("the notice was given %d times, want once:\n%s", n, logs.String())
	}
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := ApplySnapshots(lowers, rootfs); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path   string
		exists bool
	}{{"a/keep", true}, {"a/gone", false}, {"a/third", true}, {"o/x", false}, {"o/sub", false}, {"o/n", true}} {
		if _, err := os.Lstat(filepath.Join(rootfs, c.path)); (err == nil) != c.exists {
			t.Errorf("%s: %v, want it there: %v", c.path, err, c.exists)
		}
	}
}
