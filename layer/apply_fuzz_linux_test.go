package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzApply applies arbitrary bytes as a layer to a fresh root and checks
// that nothing outside it changed, whatever Apply returned.
func FuzzApply(f *testing.F) {
	for _, hc := range hostileCases() {
		for _, l := range hc.layers {
			f.Add(mkTar(f, l...))
		}
	}
	f.Add(mkTar(f, tDir("a/"), tFile("a/b", "c"), tFile("a/.wh..wh..opq", ""), tSymlink("l", "a"), tHardlink("h", "a/b"), tFile("l/x", "y")))
	f.Add([]byte("not a tar"))
	// One parent for every run (t.TempDir per run would make each exec,
	// and so minimization, slow): it holds the outside world and the roots.
	// A tmpfs makes each run several times faster than most disks.
	parent := fuzzDir(f)
	outside := filepath.Join(parent, "outside")
	if err := os.MkdirAll(filepath.Join(outside, "dir"), 0o755); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "file"), []byte("outside"), 0o644); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !smallTar(data) {
			t.Skip("declares large files")
		}
		root, err := os.MkdirTemp(parent, "root")
		if err != nil {
			t.Fatal(err)
		}
		defer removeTree(root)
		before := snapshot(t, outside)
		_ = Apply(context.Background(), root, bytes.NewReader(data), WithRootless())
		assertSameSnapshot(t, "outside", before, snapshot(t, outside))
		entries, _ := os.ReadDir(parent)
		if len(entries) != 2 {
			t.Errorf("parent holds %d entries, want outside and root", len(entries))
		}
	})
}

func fuzzDir(f *testing.F) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "ocikit-fuzz-apply-"); err == nil {
			f.Cleanup(func() { removeTree(d) })
			return d
		}
	}
	return f.TempDir()
}

// smallTar reports whether data, read as a tar, declares no entry above
// 1 MiB (a fuzzed sparse header could otherwise ask for terabytes).
func smallTar(data []byte) bool {
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err != nil {
			return true
		}
		if hdr.Size > 1<<20 {
			return false
		}
		if _, err := io.Copy(io.Discard, io.LimitReader(tr, 1<<20)); err != nil {
			return true
		}
	}
}

// FuzzApplyOverlayDiff applies arbitrary bytes as an overlay diff
// (WithOverlayDiff) over a lower directory whose symlinks lead out of it
// and checks that neither the outside world nor the lower directory
// changed, whatever Apply returned.
func FuzzApplyOverlayDiff(f *testing.F) {
	for _, hc := range hostileCases() {
		for _, l := range hc.layers {
			f.Add(mkTar(f, l...))
		}
	}
	f.Add(mkTar(f, tFile("a/.wh.b", ""), tFile("a/.wh..wh..opq", ""), tHardlink("h", "a/b"), tFile("out/x", "y"), tFile("up/x", "y"), tHardlink("h2", "up/file"), tFile("d/.wh.e", "")))
	parent := fuzzDir(f)
	outside := filepath.Join(parent, "outside")
	lower := filepath.Join(parent, "lower")
	for _, d := range []string{filepath.Join(outside, "dir"), filepath.Join(lower, "a"), filepath.Join(lower, "d", "e")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			f.Fatal(err)
		}
	}
	for _, p := range []string{filepath.Join(outside, "file"), filepath.Join(lower, "a", "b")} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(lower, "out")); err != nil {
		f.Fatal(err)
	}
	if err := os.Symlink("../../../../../../"+outside, filepath.Join(lower, "up")); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !smallTar(data) {
			t.Skip("declares large files")
		}
		upper, err := os.MkdirTemp(parent, "upper")
		if err != nil {
			t.Fatal(err)
		}
		defer removeTree(upper)
		before, beforeLower := snapshot(t, outside), snapshot(t, lower)
		_ = Apply(context.Background(), upper, bytes.NewReader(data), WithRootless(), WithOverlayDiff([]string{lower}))
		assertSameSnapshot(t, "outside", before, snapshot(t, outside))
		assertSameSnapshot(t, "lower", beforeLower, snapshot(t, lower))
		entries, _ := os.ReadDir(parent)
		if len(entries) != 3 {
			t.Errorf("parent holds %d entries, want outside, lower and upper", len(entries))
		}
	})
}
