package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ocikit/ocikit/internal/testutil"
	"github.com/ocikit/ocikit/layer"
	"github.com/ocikit/ocikit/layout"
)

// unpackUmociRun runs umoci with args and fails the test on error.
func unpackUmociRun(t *testing.T, umoci string, args ...string) {
	t.Helper()
	out, err := exec.Command(umoci, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("umoci %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// unpackUmociImage builds, with umoci alone, an image of four layers that
// exercises what a layer can hold: files with owners and special modes,
// hardlinks (within a layer and to a lower layer's file), symlinks, xattrs
// (user.*, trusted.*, security.capability), a FIFO, device nodes, and
// deletions of files and directories (whiteouts), a directory replaced by
// a file and a file by a directory.
func unpackUmociImage(t *testing.T, umoci, dir string) string {
	t.Helper()
	img := filepath.Join(dir, "image")
	bundle := filepath.Join(dir, "work")
	unpackUmociRun(t, umoci, "init", "--layout", img)
	unpackUmociRun(t, umoci, "new", "--image", img+":t")
	steps := []func(root string){
		func(root string) {
			unpackMkdirs(t, root, "bin", "etc/app.d", "usr/lib/app", "var/spool", "dev", "opt/gone/deep", "home/user")
			unpackWrite(t, root, "etc/passwd", "root:x:0:0::/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n", 0o644)
			unpackWrite(t, root, "etc/app.d/a.conf", "a=1\n", 0o640)
			unpackWrite(t, root, "bin/tool", "#!/bin/sh\necho tool\n", 0o755)
			unpackWrite(t, root, "bin/suid", "suid binary", 0o4755)
			unpackWrite(t, root, "bin/sgid", "sgid binary", 0o2711)
			unpackWrite(t, root, "usr/lib/app/lib.so", strings.Repeat("library ", 4096), 0o644)
			unpackWrite(t, root, "opt/gone/deep/x", "to be deleted", 0o644)
			unpackWrite(t, root, "home/user/notes", "mine", 0o600)
			unpackMust(t, os.Chown(filepath.Join(root, "home/user"), 1000, 1000))
			unpackMust(t, os.Chown(filepath.Join(root, "home/user/notes"), 1000, 1000))
			unpackMust(t, os.Chmod(filepath.Join(root, "home/user"), 0o700))
			unpackMust(t, os.Chown(filepath.Join(root, "bin/sgid"), 0, 50))
			unpackMust(t, unix.Chmod(filepath.Join(root, "bin/sgid"), 0o2711)) // chown cleared it
			unpackMust(t, os.Mkdir(filepath.Join(root, "tmp"), 0o755))
			unpackMust(t, unix.Chmod(filepath.Join(root, "tmp"), 0o1777))
			unpackMust(t, os.Link(filepath.Join(root, "bin/tool"), filepath.Join(root, "bin/tool-link")))
			unpackMust(t, os.Symlink("tool", filepath.Join(root, "bin/sh")))
			unpackMust(t, os.Symlink("/usr/lib/app/lib.so", filepath.Join(root, "usr/lib/abs-link")))
			unpackMust(t, os.Symlink("../nowhere", filepath.Join(root, "usr/dangling")))
			unpackMust(t, unix.Mkfifo(filepath.Join(root, "var/spool/fifo"), 0o620))
			unpackMust(t, unix.Mknod(filepath.Join(root, "dev/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
			unpackMust(t, unix.Mknod(filepath.Join(root, "dev/loop9"), unix.S_IFBLK|0o660, int(unix.Mkdev(7, 9))))
			unpackMust(t, unix.Lsetxattr(filepath.Join(root, "etc/app.d/a.conf"), "user.origin", []byte("layer1"), 0))
			unpackMust(t, unix.Lsetxattr(filepath.Join(root, "usr/lib/app"), "trusted.overlay.x", []byte("t"), 0))
			unpackMust(t, unix.Lsetxattr(filepath.Join(root, "bin/tool"), "security.capability",
				[]byte{1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0))
		},
		func(root string) {
			unpackMust(t, os.RemoveAll(filepath.Join(root, "opt/gone")))
			unpackMust(t, os.Remove(filepath.Join(root, "etc/app.d/a.conf")))
			unpackWrite(t, root, "etc/app.d/b.conf", "b=2\n", 0o644)
			// A hardlink to a file of the layer below.
			unpackMust(t, os.Link(filepath.Join(root, "usr/lib/app/lib.so"), filepath.Join(root, "usr/lib/app/lib.so.1")))
			// Directory replaced by a file, file replaced by a directory.
			unpackMust(t, os.RemoveAll(filepath.Join(root, "var/spool")))
			unpackWrite(t, root, "var/spool", "now a file", 0o644)
			unpackMust(t, os.Remove(filepath.Join(root, "bin/tool-link")))
			unpackMust(t, os.Mkdir(filepath.Join(root, "bin/tool-link"), 0o750))
			unpackWrite(t, root, "bin/tool-link/inside", "x", 0o644)
			unpackMust(t, unix.Chmod(filepath.Join(root, "bin/suid"), 0o4750))
			unpackMust(t, unix.Mkfifo(filepath.Join(root, "var/fifo2"), 0o644))
		},
		func(root string) {
			// Delete a whole directory and recreate it with new content.
			unpackMust(t, os.RemoveAll(filepath.Join(root, "etc/app.d")))
			unpackMkdirs(t, root, "etc/app.d")
			unpackWrite(t, root, "etc/app.d/c.conf", "c=3\n", 0o600)
			unpackMust(t, unix.Lsetxattr(filepath.Join(root, "etc/app.d"), "user.dir", []byte("recreated"), 0))
			unpackMust(t, os.Remove(filepath.Join(root, "usr/lib/abs-link")))
			unpackMust(t, os.Symlink("app/lib.so.1", filepath.Join(root, "usr/lib/abs-link")))
			unpackMust(t, unix.Mkfifo(filepath.Join(root, "home/user/pipe"), 0o600))
			unpackMust(t, os.Lchown(filepath.Join(root, "home/user/pipe"), 1000, 1000))
		},
	}
	for i, step := range steps {
		unpackUmociRun(t, umoci, "unpack", "--image", img+":t", bundle)
		step(filepath.Join(bundle, "rootfs"))
		unpackUmociRun(t, umoci, "repack", "--image", img+":t", bundle)
		unpackMust(t, os.RemoveAll(bundle))
		_ = i
	}
	return img
}

func unpackMkdirs(t *testing.T, root string, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		unpackMust(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
}

// unpackWrite writes a file with a raw mode (os.Chmod would drop the
// setuid/setgid/sticky bits given as 0o7000: os.FileMode has its own).
func unpackWrite(t *testing.T, root, name, content string, mode uint32) {
	t.Helper()
	p := filepath.Join(root, name)
	unpackMust(t, os.WriteFile(p, []byte(content), 0o600))
	unpackMust(t, unix.Chmod(p, mode))
}

func unpackMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// unpackTreeManifest describes every path under root (testutil.Tree),
// with the modification times.
func unpackTreeManifest(t *testing.T, root string) []string {
	t.Helper()
	return testutil.Tree(t, root, testutil.TreeOptions{Mtimes: true})
}

// TestUnpackMatchesUmoci: for an image made by umoci, layer.Unpack builds
// the same tree as `umoci unpack` (bundle metadata files aside: only the
// rootfs is compared).
func TestUnpackMatchesUmoci(t *testing.T) {
	testutil.RequireRoot(t)
	umoci := testutil.RequireTool(t, "umoci")
	dir := t.TempDir()
	img := unpackUmociImage(t, umoci, dir)

	ref := filepath.Join(dir, "ref")
	unpackUmociRun(t, umoci, "unpack", "--image", img+":t", ref)

	ctx := context.Background()
	l, err := layout.Open(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	resolved, err := l.Resolve(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(resolved.Manifest.Layers); n != 3 {
		t.Fatalf("umoci image has %d layers, want 3", n)
	}
	got := filepath.Join(dir, "ocikit-rootfs")
	if err := layer.Unpack(ctx, l, resolved.Manifest, resolved.Config, got); err != nil {
		t.Fatalf("layer.Unpack: %v", err)
	}
	want := unpackTreeManifest(t, filepath.Join(ref, "rootfs"))
	have := unpackTreeManifest(t, got)
	if diff := unpackLineDiff(want, have); diff != "" {
		t.Errorf("trees differ (- umoci, + ocikit):\n%s", diff)
	}
	// Guard against comparing two empty or trivial trees.
	for _, p := range []string{"bin/suid", "bin/tool-link/inside", "var/spool", "home/user/pipe", "dev/loop9", "etc/app.d/c.conf"} {
		if _, err := os.Lstat(filepath.Join(got, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	for _, p := range []string{"opt/gone", "etc/app.d/a.conf", "etc/app.d/b.conf"} {
		if _, err := os.Lstat(filepath.Join(got, p)); !os.IsNotExist(err) {
			t.Errorf("%s: still there (%v)", p, err)
		}
	}
}

func unpackLineDiff(want, have []string) string {
	w := map[string]bool{}
	for _, l := range want {
		w[l] = true
	}
	h := map[string]bool{}
	for _, l := range have {
		h[l] = true
	}
	var out []string
	for _, l := range want {
		if !h[l] {
			out = append(out, "- "+l)
		}
	}
	for _, l := range have {
		if !w[l] {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}
