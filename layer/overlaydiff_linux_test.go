package layer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ocikit/ocikit/internal/testutil"
)

// TestOverlayDiffXattrWhiteouts: where whiteout devices cannot be made,
// WithOverlayDiff writes xattr whiteouts, and the kernel's overlay of the
// upper directories hides what they white out (root: trusted.overlay.*;
// rootless: user.overlay.*, mounted with userxattr).
func TestOverlayDiffXattrWhiteouts(t *testing.T) {
	testutil.RequireRoot(t)
	// Xattr whiteouts in a directory marked opaque "x": Linux 6.8.
	testutil.RequireKernel(t, 6, 8)
	l0 := mkTar(t, tDir("a/"), tFile("a/keep", "k"), tFile("a/gone", "g"), tDir("d/"), tFile("d/x", "x"), tFile("f", "f"), tFile("top", "t"))
	l1 := mkTar(t, tFile("a/.wh.gone", ""), tFile(".wh.f", ""), tFile(".wh.d", ""), tFile("new", "n"))
	for _, rootless := range []bool{false, true} {
		name := "root"
		if rootless {
			name = "rootless"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			u0, u1, empty, mnt := filepath.Join(dir, "u0"), filepath.Join(dir, "u1"), filepath.Join(dir, "empty"), filepath.Join(dir, "mnt")
			for _, d := range []string{u0, u1, empty, mnt} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			force := func(o *options) { o.xattrWhiteouts = true }
			opts := []Option{force}
			if rootless {
				opts = append(opts, WithRootless())
			}
			ctx := context.Background()
			if err := Apply(ctx, u0, bytes.NewReader(l0), append(opts, WithOverlayDiff([]string{empty}))...); err != nil {
				t.Fatal(err)
			}
			if err := Apply(ctx, u1, bytes.NewReader(l1), append(opts, WithOverlayDiff([]string{u0}))...); err != nil {
				t.Fatal(err)
			}
			for _, w := range []string{"a/gone", "f", "d"} {
				fi, err := os.Lstat(filepath.Join(u1, w))
				if err != nil || !fi.Mode().IsRegular() || fi.Size() != 0 {
					t.Errorf("%s in the diff: %v %v, want an empty file (xattr whiteout)", w, fi, err)
				}
			}
			mo := "lowerdir=" + u1 + ":" + u0
			if rootless {
				mo += ",userxattr"
			}
			if err := unix.Mount("overlay", mnt, "overlay", unix.MS_RDONLY, mo); err != nil {
				t.Skipf("overlay: %v", err)
			}
			defer unix.Unmount(mnt, unix.MNT_DETACH)
			var got []string
			filepath.WalkDir(mnt, func(p string, _ os.DirEntry, err error) error {
				if err == nil && p != mnt {
					got = append(got, strings.TrimPrefix(p, mnt+"/"))
				}
				return nil
			})
			want := []string{"a", "a/keep", "new", "top"}
			if !slices.Equal(got, want) {
				t.Errorf("overlay shows %q, want %q", got, want)
			}
		})
	}
}
