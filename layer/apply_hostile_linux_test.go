package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

//go:generate go test -run TestHostileCorpus -update-corpus .

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/hostile from hostileCases")

// victim is a directory outside every test root that hostile layers aim at
// by absolute path. It has to be a fixed path for the corpus to be
// checked in; the tests create it and check it is left alone.
const victim = "/tmp/ocikit-hostile-victim"

// deep climbs far above any test root.
const deep = "../../../../../../../../../../../../../../../../"

type outcome uint8

const (
	refused   outcome = iota + 1 // Unpack fails (and nothing is built)
	contained                    // Unpack succeeds, everything stays inside
)

type hostileCase struct {
	name   string
	want   outcome
	layers [][]ent
}

func layers(l ...[]ent) [][]ent { return l }
func entries(e ...ent) []ent    { return e }

// hostileCases is the corpus of layers trying to get out of the root: known
// CVEs of peers and their variations. Each is either refused or contained.
func hostileCases() []hostileCase {
	old := time.Unix(1000, 0)
	return []hostileCase{
		{"dotdot-file", refused, layers(entries(tFile("../outside/pwned", "x")))},
		{"dotdot-inner", refused, layers(entries(tFile("a/../../outside/pwned", "x")))},
		{"dotdot-deep", refused, layers(entries(tFile(deep+"tmp/ocikit-hostile-victim/pwned", "x")))},
		{"dotdot-dir", refused, layers(entries(tDir("../")))},
		{"dotdot-symlink-name", refused, layers(entries(tSymlink("../outside/link", "/")))},
		{"absolute-file", contained, layers(entries(tFile(victim+"/pwned", "x")))},
		{"absolute-overwrite", contained, layers(entries(tFile(victim+"/file", "pwned").withMode(0o777)))},
		// oc CVE-2020-27833: a symlink, then a file through it. Symlinks
		// are followed as if the root were "/": where the target exists
		// in the root the entry lands there, where it does not the entry
		// is refused (no directory is made at a dangling symlink's target).
		{"symlink-abs-inside", contained, layers(entries(tDir("tmp/ocikit-hostile-victim/dir/"), tSymlink("link", victim), tFile("link/pwned", "x"), tFile("link/file", "pwned"), tDir("link/dir/").withMode(0o777), tFile("link/.wh.dir", "")))},
		{"symlink-rel-inside", contained, layers(entries(tDir("outside/"), tSymlink("link", "../outside"), tFile("link/pwned", "x"), tFile("link/file", "pwned")))},
		{"symlink-deep-inside-layers", contained, layers(
			entries(tDir("tmp/ocikit-hostile-victim/dir/"), tSymlink("link", deep+"tmp/ocikit-hostile-victim"), tSymlink("chain", "link/dir")),
			entries(tFile("link/pwned", "x"), tDir("link/dir/").withMode(0o777), tFile("chain/pwned", "x"), tFile("link/.wh..wh..opq", ""),
				ent{name: "chain/null", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 3}))},
		{"symlink-abs-then-file", refused, layers(entries(tSymlink("link", victim), tFile("link/pwned", "x"), tFile("link/file", "pwned")))},
		{"symlink-rel-then-file", refused, layers(entries(tSymlink("link", "../outside"), tFile("link/pwned", "x"), tFile("link/file", "pwned")))},
		{"symlink-deep-then-dir", refused, layers(entries(tSymlink("link", deep+"tmp/ocikit-hostile-victim"), tDir("link/dir/").withMode(0o777), tFile("link/dir/pwned", "x")))},
		{"symlink-across-layers", refused, layers(
			entries(tSymlink("link", victim)),
			entries(tFile("link/pwned", "x"), tFile("link/file", "pwned"), tDir("link/dir/").withMode(0o777)))},
		{"symlink-chain", refused, layers(entries(tSymlink("a", "b"), tSymlink("b", deep+"tmp/ocikit-hostile-victim"), tFile("a/pwned", "x"), tDir("a/dir/").withMode(0o777)))},
		{"symlink-loop", refused, layers(entries(tSymlink("loop", "loop"), tFile("loop/x", "x")))},
		// umoci CVE-2021-29136: "." as a symlink, then the root's metadata.
		{"dot-symlink", refused, layers(entries(tSymlink(".", victim), tDir("./").withMode(0o777), tFile("pwned", "x")))},
		{"dot-symlink-layer2", refused, layers(entries(tDir("./")), entries(tSymlink("./", victim), tDir(".").withMode(0o777)))},
		{"dot-file", refused, layers(entries(tFile(".", "x")))},
		// containerd CVE-2021-32760: a deferred chmod through a symlink
		// that replaced the directory.
		{"chmod-through-symlink", contained, layers(entries(tDir("d/").withMode(0o777).withMtime(old), tSymlink("d", victim+"/file")))},
		{"chmod-through-symlink-layers", contained, layers(
			entries(tDir("d/").withMode(0o777).withMtime(old), tDir("e/").withMode(0o700)),
			entries(tSymlink("d", victim+"/dir"), tSymlink("e", "../outside")))},
		{"dir-over-symlink", contained, layers(
			entries(tSymlink("d", victim+"/dir")),
			entries(tDir("d/").withMode(0o777).withXattr("user.pwned", "1").withMtime(old)))},
		{"file-over-symlink", contained, layers(entries(tSymlink("s", victim+"/file"), tFile("s", "pwned").withMode(0o777).withOwner(1, 1)))},
		{"utimes-xattr-on-symlink", contained, layers(entries(tSymlink("s", victim+"/file").withMtime(old).withXattr("trusted.pwned", "1").withOwner(5, 5)))},
		{"hardlink-dotdot", refused, layers(entries(tHardlink("hl", "../outside/file")))},
		{"hardlink-absolute", refused, layers(entries(tHardlink("hl", victim+"/file")))},
		{"hardlink-through-symlink", refused, layers(entries(tSymlink("link", victim), tHardlink("hl", "link/file")))},
		{"hardlink-to-symlink-then-write", contained, layers(entries(tSymlink("s", victim+"/file"), tHardlink("hl", "s"), tFile("hl", "pwned").withMode(0o777)))},
		{"whiteout-through-symlink", contained, layers(entries(tSymlink("link", victim), tFile("link/.wh.file", ""), tSymlink("rel", "../outside"), tFile("rel/.wh.file", "")))},
		{"whiteout-absolute", contained, layers(entries(tFile(victim+"/.wh.file", ""), tFile(victim+"/.wh.dir", "")))},
		{"whiteout-dotdot-path", refused, layers(entries(tFile("../outside/.wh.file", "")))},
		{"whiteout-dotdot-name", refused, layers(entries(tFile(".wh..", "")))},
		{"whiteout-dot-name", refused, layers(entries(tFile("sub/.wh.", "")))},
		{"whiteout-across-layers", contained, layers(
			entries(tSymlink("link", victim)),
			entries(tFile("link/.wh.file", ""), tFile("link/.wh.dir", "")))},
		{"opaque-through-symlink", refused, layers(entries(tSymlink("link", victim), tFile("link/.wh..wh..opq", "")))},
		{"opaque-across-layers", refused, layers(
			entries(tSymlink("link", "../outside"), tSymlink("abs", victim)),
			entries(tFile("link/.wh..wh..opq", ""), tFile("abs/dir/.wh..wh..opq", "")))},
		{"opaque-dotdot", refused, layers(entries(tFile("../.wh..wh..opq", "")))},
		{"device-through-symlink", refused, layers(entries(tSymlink("dev", victim), ent{name: "dev/null", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 3}))},
		{"parent-is-file", refused, layers(entries(tFile("f", "x"), tFile("f/x", "x")))},
	}
}

func corpusDir(name string) string { return filepath.Join("testdata", "hostile", name) }

// TestHostileCorpus keeps testdata/hostile in step with hostileCases (go
// generate rewrites it) so the checked-in tars are what the cases say.
func TestHostileCorpus(t *testing.T) {
	for _, hc := range hostileCases() {
		for i, l := range hc.layers {
			want := mkTar(t, l...)
			p := filepath.Join(corpusDir(hc.name), fmt.Sprintf("layer%d.tar", i))
			if *updateCorpus {
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, want, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(p)
			if err != nil {
				t.Fatalf("%v (run go generate ./layer)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from hostileCases (run go generate ./layer)", p)
			}
		}
	}
}

// TestHostileLayers unpacks every layer set of the corpus and checks it was
// refused or contained as expected, with the world outside the root (an
// absolute victim directory and a sibling of the root) untouched.
func TestHostileLayers(t *testing.T) {
	for _, hc := range hostileCases() {
		t.Run(hc.name, func(t *testing.T) {
			var tars [][]byte
			for i := range hc.layers {
				b, err := os.ReadFile(filepath.Join(corpusDir(hc.name), fmt.Sprintf("layer%d.tar", i)))
				if err != nil {
					t.Fatal(err)
				}
				tars = append(tars, b)
			}
			for _, mode := range []string{"root", "rootless", "securejoin"} {
				checkContained(t, tars, hc.want, mode)
			}
			for _, rootless := range []bool{false, true} {
				checkOverlayDiffContained(t, tars, hc.want, rootless)
			}
		})
	}
}

// checkContained unpacks tars as root, rootless, or resolving paths with
// filepath-securejoin instead of openat2 (mode).
func checkContained(t *testing.T, tars [][]byte, want outcome, mode string) {
	t.Helper()
	parent, untouched := setupWorld(t)

	var opts []Option
	switch mode {
	case "rootless":
		opts = append(opts, WithRootless())
	case "securejoin":
		opts = append(opts, func(o *options) { o.noOpenat2 = true })
	}
	img := newTestImage(t, v1.MediaTypeImageLayer, tars...)
	rootfs := filepath.Join(parent, "rootfs")
	err := img.unpack(t, rootfs, opts...)
	switch {
	case want == refused && err == nil:
		t.Errorf("%s: unpacked, want refused", mode)
	case want == contained && err != nil:
		t.Errorf("%s: %v, want contained", mode, err)
	}
	if err != nil {
		mustNotExist(t, rootfs)
	}
	untouched("sibling of the root")
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		if e.Name() != "outside" && e.Name() != "rootfs" {
			t.Errorf("left %s in the parent of the root", e.Name())
		}
	}
}

// checkOverlayDiffContained applies each of tars as the upper directory
// of an overlay of the ones before (WithOverlayDiff), as the snapshot
// store does without an overlay mount: refused or contained as the
// unpack is, with the world outside the upper directories untouched.
func checkOverlayDiffContained(t *testing.T, tars [][]byte, want outcome, rootless bool) {
	t.Helper()
	parent, untouched := setupWorld(t)
	var uppers []string
	var err error
	for i, b := range tars {
		upper := filepath.Join(parent, fmt.Sprintf("upper%d", i))
		if err = os.Mkdir(upper, 0o755); err != nil {
			t.Fatal(err)
		}
		opts := []Option{WithOverlayDiff(slices.Clone(uppers))}
		if rootless {
			opts = append(opts, WithRootless())
		}
		if err = Apply(context.Background(), upper, bytes.NewReader(b), opts...); err != nil {
			break
		}
		uppers = append(uppers, upper)
	}
	switch {
	case want == refused && err == nil:
		t.Errorf("overlay diff (rootless %v): applied, want refused", rootless)
	case want == contained && err != nil:
		t.Errorf("overlay diff (rootless %v): %v, want contained", rootless, err)
	}
	untouched("sibling of the upper directories")
}

// setupWorld sets up the victim directory and a parent directory for the
// root holding a directory "outside"; untouched checks that neither
// changed since, naming "outside" as the caller says.
func setupWorld(t *testing.T) (parent string, untouched func(outsideName string)) {
	t.Helper()
	setupVictim(t)
	parent = t.TempDir()
	outside := filepath.Join(parent, "outside")
	if err := os.MkdirAll(filepath.Join(outside, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "file"), []byte("outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	beforeVictim, beforeOutside := snapshot(t, victim), snapshot(t, outside)
	return parent, func(outsideName string) {
		t.Helper()
		assertSameSnapshot(t, victim, beforeVictim, snapshot(t, victim))
		assertSameSnapshot(t, outsideName, beforeOutside, snapshot(t, outside))
	}
}

func setupVictim(t *testing.T) {
	t.Helper()
	if err := os.RemoveAll(victim); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(victim, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(victim, "file"), []byte("victim"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(victim, "dir", "inner"), []byte("inner"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(victim) })
}
