package repack

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/ocikit/ocikit/layer"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// tree describes files to create: a trailing "/" is a directory, "->" a
// symlink, anything else a file with that content.
type tree map[string]string

func build(t *testing.T, root string, tr tree) {
	t.Helper()
	for p, v := range tr {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case strings.HasSuffix(p, "/"):
			err = os.MkdirAll(full, 0o755)
		case strings.HasPrefix(v, "->"):
			err = os.Symlink(v[2:], full)
		default:
			err = os.WriteFile(full, []byte(v), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

var baseTree = tree{
	"chmodfile":      "c",
	"del/file":       "x",
	"del/sub/x":      "x",
	"etc/passwd":     "root:x:0:0::/:/bin/sh\n",
	"etc/group":      "root:x:0:\n",
	"fromdir/child":  "x",
	"hard1":          "h",
	"keep/file":      "k",
	"keep/sub/":      "",
	"modfile":        "before",
	"repl/a":         "a",
	"repl/b/":        "",
	"sym":            "->etc/passwd",
	"todir":          "file",
	"zz-unchanged":   "u",
	"keep/sub/deep":  "d",
	"keep/gone-file": "g",
}

// modify changes a tree made from baseTree in every way Diff must see.
func modify(t *testing.T, root string) {
	t.Helper()
	p := func(s string) string { return filepath.Join(root, s) }
	steps := []error{
		os.Chmod(p("chmodfile"), 0o600),
		os.RemoveAll(p("del")),
		os.RemoveAll(p("fromdir")),
		os.WriteFile(p("fromdir"), []byte("now a file"), 0o644),
		os.Link(p("hard1"), p("hard2")),
		os.Remove(p("keep/gone-file")),
		os.WriteFile(p("modfile"), []byte("after!"), 0o644), // same size
		os.MkdirAll(p("new/dir"), 0o700),
		os.WriteFile(p("new/dir/file"), []byte("new"), 0o644),
		os.RemoveAll(p("repl")),
		os.Mkdir(p("repl"), 0o755),
		os.WriteFile(p("repl/c"), []byte("c"), 0o644),
		os.Remove(p("sym")),
		os.Symlink("etc/group", p("sym")),
		os.Remove(p("todir")),
		os.Mkdir(p("todir"), 0o755),
		os.WriteFile(p("todir/x"), []byte("x"), 0o644),
		unix.Mkfifo(p("zfifo"), 0o640),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
}

func TestDiff(t *testing.T) {
	ctx := context.Background()
	bundle := t.TempDir()
	rootfs := filepath.Join(bundle, "rootfs")
	build(t, rootfs, baseTree)
	src := v1.Descriptor{MediaType: v1.MediaTypeImageManifest, Digest: "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b", Size: 1}
	if err := Record(ctx, bundle, "/some/layout", src); err != nil {
		t.Fatal(err)
	}
	snap, err := Load(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Layout != "/some/layout" || snap.Source.Digest != src.Digest {
		t.Fatalf("source %s %s not recorded", snap.Layout, snap.Source.Digest)
	}

	t.Run("unchanged", func(t *testing.T) {
		changes, _, err := Diff(ctx, rootfs, snap.Entries)
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) != 0 {
			t.Fatalf("changes in an untouched tree: %v", changes)
		}
	})

	modify(t, rootfs)
	changes, now, err := Diff(ctx, rootfs, snap.Entries)
	if err != nil {
		t.Fatal(err)
	}
	if taken, err := Take(ctx, rootfs); err != nil || !reflect.DeepEqual(now, taken) {
		t.Errorf("Diff's snapshot of the current tree differs from Take's (%v)", err)
	}
	W, A, O := layer.ChangeWhiteout, layer.ChangeAdd, layer.ChangeOpaque
	ch := func(p string, k layer.ChangeKind) layer.Change { return layer.Change{Path: p, Kind: k} }
	want := []layer.Change{
		ch("del", W), ch("fromdir", W),
		ch("chmodfile", A), ch("fromdir", A), ch("hard1", A), ch("hard2", A),
		ch("keep", A), // its mtime changed with the deletion below
		ch("keep/gone-file", W),
		ch("modfile", A),
		ch("new", A), ch("new/dir", A), ch("new/dir/file", A),
		ch("repl", A), ch("repl", O), ch("repl/c", A),
		ch("sym", A),
		ch("todir", A), ch("todir/x", A),
		ch("zfifo", A),
	}
	if fmt.Sprint(changes) != fmt.Sprint(want) {
		t.Errorf("changes\n got %v\nwant %v", changes, want)
	}

	// Applying the generated layer to a fresh copy of the base tree must
	// give the modified tree.
	var buf bytes.Buffer
	if err := layer.Generate(ctx, &buf, rootfs, changes); err != nil {
		t.Fatal(err)
	}
	lower := t.TempDir()
	build(t, lower, baseTree)
	if err := layer.Apply(ctx, lower, &buf); err != nil {
		t.Fatal(err)
	}
	if diff := compareTrees(t, rootfs, lower); diff != "" {
		t.Error(diff)
	}
	var a, b unix.Stat_t
	if unix.Lstat(filepath.Join(lower, "hard1"), &a) != nil || unix.Lstat(filepath.Join(lower, "hard2"), &b) != nil || a.Ino != b.Ino {
		t.Error("hard1 and hard2 are not one inode after apply")
	}
}

// compareTrees describes how two trees differ in paths, types, modes,
// owners, symlink targets and file content ("" if they do not).
func compareTrees(t *testing.T, want, got string) string {
	t.Helper()
	list := func(root string) map[string]string {
		out := map[string]string{}
		filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(root, p)
			if rel == "." {
				return nil
			}
			st := fi.Sys().(*syscall.Stat_t)
			desc := fmt.Sprintf("%o %d:%d", st.Mode, st.Uid, st.Gid)
			switch {
			case fi.Mode().IsRegular():
				data, _ := os.ReadFile(p)
				desc += " " + string(data)
			case fi.Mode()&os.ModeSymlink != 0:
				l, _ := os.Readlink(p)
				desc += " -> " + l
			}
			out[rel] = desc
			return nil
		})
		return out
	}
	w, g := list(want), list(got)
	var diffs []string
	for p, d := range w {
		if g[p] != d {
			diffs = append(diffs, fmt.Sprintf("%s: want %q, got %q", p, d, g[p]))
		}
	}
	for p := range g {
		if _, ok := w[p]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: unexpected", p))
		}
	}
	return strings.Join(diffs, "\n")
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "no snapshot") {
		t.Errorf("missing snapshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, SnapshotFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "corrupt snapshot") {
		t.Errorf("corrupt snapshot: %v", err)
	}
}
