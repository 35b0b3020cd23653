package snapshot

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ocikit/ocikit/internal/testutil"
)

// entry is one path of a hand-made snapshot: a file (data), a directory
// (dir, opaque with an overlayfs opaque xattr), a whiteout, or a symlink.
type entry struct {
	path, data, link string
	dir, whiteout    bool
	opaque           string // the opaque xattr's name
	mode             uint32
}

func makeLower(t *testing.T, dir string, entries []entry) {
	t.Helper()
	for _, e := range entries {
		p := filepath.Join(dir, e.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case e.dir:
			err = os.Mkdir(p, 0o755)
			if err == nil && e.mode != 0 {
				err = os.Chmod(p, os.FileMode(e.mode))
			}
			if err == nil && e.opaque != "" {
				err = unix.Setxattr(p, e.opaque, []byte("y"), 0)
			}
		case e.whiteout:
			err = unix.Mknod(p, unix.S_IFCHR, 0)
		case e.link != "":
			err = os.Symlink(e.link, p)
		default:
			err = os.WriteFile(p, []byte(e.data), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// listTree is the tree under root (testutil.Tree) with the user.*
// extended attributes only.
func listTree(t *testing.T, root string) []string {
	t.Helper()
	return testutil.Tree(t, root, testutil.TreeOptions{SkipXattr: func(n string) bool { return !strings.HasPrefix(n, "user.") }})
}

// TestApplySnapshots: a copy of hand-made snapshots applied in order is
// the tree their overlay shows: whiteouts, opaque directories (either
// namespace's attribute), type changes, upper directory attributes.
func TestApplySnapshots(t *testing.T) {
	testutil.RequireRoot(t)
	base := []entry{
		{path: "a/keep", data: "keep"}, {path: "a/gone", data: "gone"},
		{path: "o/x", data: "x"}, {path: "o/sub/y", data: "y"},
		{path: "f2d", data: "file"}, {path: "d2f/z", data: "z"},
		{path: "ln", link: "a/keep"}, {path: "m", dir: true, mode: 0o700},
	}
	tests := []struct {
		name   string
		layers [][]entry
		// userxattr: the overlay is mounted as an unprivileged one is
		// (user.overlay.* attributes).
		userxattr bool
	}{
		{"one layer", [][]entry{base}, false},
		{"whiteouts and type changes", [][]entry{base, {
			{path: "a/gone", whiteout: true}, {path: "a/new", data: "new"},
			{path: "f2d", dir: true}, {path: "f2d/in", data: "in"},
			{path: "d2f", data: "now a file"}, {path: "ln", whiteout: true},
			{path: "m", dir: true, mode: 0o555},
		}}, false},
		{"opaque trusted", [][]entry{base, {{path: "o", dir: true, opaque: "trusted.overlay.opaque"}, {path: "o/new", data: "n"}}}, false},
		{"opaque user", [][]entry{base, {{path: "o", dir: true, opaque: "user.overlay.opaque"}, {path: "o/new", data: "n"}}}, true},
		{"three layers", [][]entry{base,
			{{path: "a", dir: true, opaque: "trusted.overlay.opaque"}, {path: "a/only", data: "2"}},
			{{path: "a/only", whiteout: true}, {path: "a/keep", data: "back"}, {path: "o/sub", whiteout: true}},
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var lowers []string
			for i, l := range tt.layers {
				lo := filepath.Join(dir, fmt.Sprint(i))
				if err := os.Mkdir(lo, 0o755); err != nil {
					t.Fatal(err)
				}
				makeLower(t, lo, l)
				lowers = append(lowers, lo)
			}
			view := filepath.Join(dir, "view")
			if err := os.Mkdir(view, 0o755); err != nil {
				t.Fatal(err)
			}
			top := slices.Clone(lowers)
			slices.Reverse(top)
			opts := "lowerdir=" + strings.Join(top, ":")
			if len(top) == 1 {
				opts += ":" + filepath.Join(dir, "empty")
				os.Mkdir(filepath.Join(dir, "empty"), 0o755)
			}
			if tt.userxattr {
				opts += ",userxattr"
			}
			if err := unix.Mount("overlay", view, "overlay", unix.MS_RDONLY, opts); err != nil {
				t.Skipf("overlay: %v", err)
			}
			defer unix.Unmount(view, unix.MNT_DETACH)
			have := filepath.Join(dir, "copy")
			if err := os.Mkdir(have, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := ApplySnapshots(lowers, have); err != nil {
				t.Fatal(err)
			}
			want, got := listTree(t, view), listTree(t, have)
			if !slices.Equal(want, got) {
				t.Errorf("copy differs from the overlay:\noverlay: %q\ncopy:    %q", want, got)
			}
		})
	}
}
