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
	"github.com/ocikit/ocikit/snapshot"
)

// whiteoutImage builds, in dir, a two-layer busybox image whose second
// layer (written by image repack) deletes a file (a whiteout), deletes
// and recreates a directory (an opaque whiteout) and turns a file into a
// directory; its command lists what the container sees. It returns
// DIR:TAG.
func whiteoutImage(t *testing.T, bin, dir string) string {
	t.Helper()
	src := filepath.Join(dir, "src")
	testutil.BusyboxRootfs(t, src)
	for name, data := range map[string]string{"data/keep": "keep\n", "data/gone": "gone\n", "data/dir/x": "x\n", "data/todir": "file\n"} {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lay := filepath.Join(dir, "layout")
	ref := lay + ":wh"
	bundle := filepath.Join(dir, "bundle")
	for _, args := range [][]string{
		{"image", "init", lay},
		{"image", "new", ref},
		{"image", "add-layer", ref, src},
		{"image", "config", ref, "--entrypoint", "/bin/sh", "--cmd", "-c", "--cmd",
			"ls -A /data /data/dir /data/todir; cat /data/dir/y; grep ' / ' /proc/mounts | cut -d' ' -f3 | tail -1"},
		{"image", "unpack", ref, bundle},
	} {
		mustOcikit(t, bin, args...)
	}
	root := filepath.Join(bundle, "rootfs")
	for _, step := range []func() error{
		func() error { return os.Remove(filepath.Join(root, "data/gone")) },
		func() error { return os.RemoveAll(filepath.Join(root, "data/dir")) },
		func() error { return os.Mkdir(filepath.Join(root, "data/dir"), 0o755) },
		func() error { return os.WriteFile(filepath.Join(root, "data/dir/y"), []byte("y\n"), 0o644) },
		func() error { return os.Remove(filepath.Join(root, "data/todir")) },
		func() error { return os.Mkdir(filepath.Join(root, "data/todir"), 0o755) },
		func() error { return os.WriteFile(filepath.Join(root, "data/todir/in"), nil, 0o644) },
		func() error { return os.WriteFile(filepath.Join(root, "data/new"), nil, 0o644) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	// An owner other than root: a rootless store records it in an xattr.
	if err := os.Chown(filepath.Join(root, "data/new"), 1000, 1000); err != nil {
		t.Fatal(err)
	}
	mustOcikit(t, bin, "image", "repack", bundle)
	return ref
}

// whiteoutOut is what whiteoutImage's command prints but for the last
// line, the root's filesystem type.
const whiteoutOut = "/data:\ndir\nkeep\nnew\ntodir\n\n/data/dir:\ny\n\n/data/todir:\nin\ny\n"

// TestImageRunCopyLayers: the copy fallback (OCIKIT_ROOTFS_COPY=1)
// applies every layer's snapshot in order, as the overlay shows them:
// for umoci's four-layer image of every entry type (whiteouts, opaque
// directories, type changes, cross-layer hard links, escaped overlay
// xattrs) the copy is layer.Unpack's tree, and a two-layer image with
// whiteouts runs from a copy (the root is no overlay) seeing what it sees
// through the overlay.
func TestImageRunCopyLayers(t *testing.T) {
	e := newIREnv(t)
	umoci := testutil.RequireTool(t, "umoci")
	tricky := unpackUmociImage(t, umoci, t.TempDir())
	snapshotsMatchUnpack(t, tricky, e.store, "copy of the snapshots")

	ref := whiteoutImage(t, e.bin, t.TempDir())
	out, errs, code := e.imageRun("--rm", ref)
	if code != 0 || out != whiteoutOut+"overlay\n" {
		t.Errorf("overlay: exit %d output %q stderr %q", code, out, errs)
	}
	e.env = []string{"OCIKIT_ROOTFS_COPY=1"}
	out, errs, code = e.imageRun("--rm", ref)
	if code != 0 || !strings.HasPrefix(out, whiteoutOut) || strings.HasSuffix(out, "overlay\n") {
		t.Errorf("copy: exit %d output %q (want %q and a root that is no overlay) stderr %q", code, out, whiteoutOut, errs)
	}
	if strings.Contains(errs, "copies") {
		t.Errorf("a copy asked for is no refusal to report: %q", errs)
	}
	e.checkClean()
}

func mustOcikit(t *testing.T, bin string, args ...string) {
	t.Helper()
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("ocikit %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestImageRunNoOverlaySnapshots: with the snapshots made without an
// overlay mount (OCIKIT_SNAPSHOT_NO_OVERLAY=1, snapshot.WithoutOverlay),
// umoci's four-layer image of every entry type stacks to layer.Unpack's
// tree, and a two-layer image with whiteouts runs from them, with the copy
// root filesystem forced too (OCIKIT_ROOTFS_COPY=1) and through the
// overlay, seeing what it sees from the overlay-made snapshots; the
// notice is given in one line.
func TestImageRunNoOverlaySnapshots(t *testing.T) {
	e := newIREnv(t)
	umoci := testutil.RequireTool(t, "umoci")
	tricky := unpackUmociImage(t, umoci, t.TempDir())
	snapshotsMatchUnpack(t, tricky, t.TempDir(), "snapshots made without overlay", snapshot.WithoutOverlay())

	ref := whiteoutImage(t, e.bin, t.TempDir())
	e.env = []string{"OCIKIT_SNAPSHOT_NO_OVERLAY=1", "OCIKIT_ROOTFS_COPY=1"}
	out, errs, code := e.imageRun("--rm", ref)
	if code != 0 || !strings.HasPrefix(out, whiteoutOut) || strings.HasSuffix(out, "overlay\n") {
		t.Errorf("copy: exit %d output %q (want %q and a root that is no overlay) stderr %q", code, out, whiteoutOut, errs)
	}
	if n := strings.Count(errs, "without overlay"); n != 1 {
		t.Errorf("the notice is said %d times, want once: %q", n, errs)
	}
	e.env = nil
	out, errs, code = e.imageRun("--rm", ref)
	if code != 0 || out != whiteoutOut+"overlay\n" {
		t.Errorf("overlay of the snapshots made without overlay: exit %d output %q stderr %q", code, out, errs)
	}
	e.checkClean()

	// A store on overlayfs, where the kernel refuses both overlays and
	// whiteout devices: nothing forced, both fallbacks taken and said
	// (xattr whiteouts set through overlayfs: Linux 6.7).
	testutil.RequireKernel(t, 6, 7)
	dir := t.TempDir()
	for _, d := range []string{"lower", "upper", "work", "mnt"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mnt := filepath.Join(dir, "mnt")
	if err := unix.Mount("overlay", mnt, "overlay", 0, "lowerdir="+filepath.Join(dir, "lower")+",upperdir="+filepath.Join(dir, "upper")+",workdir="+filepath.Join(dir, "work")); err != nil {
		t.Skipf("overlay: %v", err)
	}
	defer unix.Unmount(mnt, unix.MNT_DETACH)
	e.store = filepath.Join(mnt, "store")
	out, errs, code = e.imageRun("--rm", ref)
	// (The copy lives on the store's overlayfs: the root's type says
	// nothing here.)
	if code != 0 || !strings.HasPrefix(out, whiteoutOut) {
		t.Errorf("store on overlayfs: exit %d output %q stderr %q", code, out, errs)
	}
	if !strings.Contains(errs, "without overlay") || !strings.Contains(errs, "copies") {
		t.Errorf("store on overlayfs: the fallbacks are not said: %q", errs)
	}
}

// TestImageRunRootlessNoOverlaySnapshots: nobody's snapshots made without
// an overlay mount (user.overlay.opaque, whiteouts a 0:0 device made in
// its user namespace) are what the kernel's unprivileged overlay and the
// copy fallback read: the two-layer whiteout image runs through both.
func TestImageRunRootlessNoOverlaySnapshots(t *testing.T) {
	e := newRootlessIREnv(t)
	ref := readableWhiteoutImage(t)
	env := e.env
	e.env = append(env, "OCIKIT_SNAPSHOT_NO_OVERLAY=1")
	out, errs, code := e.run("image", "run", "--rm", ref)
	if code != 0 || out != whiteoutOut+"overlay\n" {
		t.Fatalf("overlay: exit %d output %q stderr %q", code, out, errs)
	}
	if n := strings.Count(errs, "without overlay"); n != 1 {
		t.Errorf("the notice is said %d times, want once: %q", n, errs)
	}
	e.env = append(env, "OCIKIT_ROOTFS_COPY=1")
	out, errs, code = e.run("image", "run", "--rm", ref)
	if code != 0 || !strings.HasPrefix(out, whiteoutOut) || strings.HasSuffix(out, "overlay\n") {
		t.Errorf("copy: exit %d output %q stderr %q", code, out, errs)
	}
	e.checkClean()
}

// snapshotsMatchUnpack makes the snapshots of the image tagged t in the
// layout dir in a store at store (opened with opts) and checks that
// applying them in order (snapshot.ApplySnapshots) gives the tree
// layer.Unpack gives; what names the snapshots in the error.
func snapshotsMatchUnpack(t *testing.T, dir, store, what string, opts ...snapshot.Option) {
	t.Helper()
	ctx := context.Background()
	l, err := layout.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	resolved, err := l.Resolve(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	s, err := snapshot.Open(ctx, store, opts...)
	if err != nil {
		t.Fatal(err)
	}
	lowers, _, err := s.Prepare(ctx, l, resolved, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(t.TempDir(), "rootfs")
	if err := layer.Unpack(ctx, l, resolved.Manifest, resolved.Config, want); err != nil {
		t.Fatal(err)
	}
	have := filepath.Join(t.TempDir(), "copy")
	if err := os.Mkdir(have, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := snapshot.ApplySnapshots(lowers, have); err != nil {
		t.Fatal(err)
	}
	if diff := unpackLineDiff(unpackTreeManifest(t, want), unpackTreeManifest(t, have)); diff != "" {
		t.Errorf("%s differs from layer.Unpack (- unpack, + copy):\n%s", what, diff)
	}
}
