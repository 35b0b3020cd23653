package layout

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/internal/testutil"
)

// TestInteropUmoci: umoci reads layouts this package writes, and this
// package reads layouts umoci writes.
func TestInteropUmoci(t *testing.T) {
	umoci := testutil.RequireTool(t, "umoci")
	ctx := context.Background()
	dir := copyTree(t, fixture("valid"))
	out, err := exec.Command(umoci, "ls", "--layout", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("umoci ls: %v: %s", err, out)
	}
	got := strings.Fields(string(out))
	slices.Sort(got)
	if strings.Join(got, ",") != "multi,nested,sig,v1" {
		t.Fatalf("umoci ls = %q", out)
	}
	if out, err := exec.Command(umoci, "stat", "--image", dir+":v1").CombinedOutput(); err != nil {
		t.Fatalf("umoci stat: %v: %s", err, out)
	}

	theirs := filepath.Join(t.TempDir(), "umoci")
	for _, args := range [][]string{{"init", "--layout", theirs}, {"new", "--image", theirs + ":fresh"}} {
		if out, err := exec.Command(umoci, args...).CombinedOutput(); err != nil {
			t.Fatalf("umoci %v: %v: %s", args, err, out)
		}
	}
	l, err := Open(ctx, theirs)
	must(t, err)
	img, err := l.Resolve(ctx, "fresh")
	must(t, err)
	if img.Config.OS == "" || img.Manifest.Config.Digest == "" {
		t.Fatalf("umoci image resolved to %+v", img)
	}
	mustTag(t, l, "retagged", img.Descriptor)
	rep, err := l.GC(ctx)
	must(t, err)
	if len(rep.Removed) != 0 {
		t.Fatalf("GC removed %v from umoci's layout", rep.Removed)
	}
	if out, err := exec.Command(umoci, "stat", "--image", theirs+":retagged").CombinedOutput(); err != nil {
		t.Fatalf("umoci stat after our tag: %v: %s", err, out)
	}
}

// TestInteropSkopeo: skopeo reads our layouts and we read what it writes.
func TestInteropSkopeo(t *testing.T) {
	skopeo := testutil.RequireTool(t, "skopeo")
	ctx := context.Background()
	dir := copyTree(t, fixture("valid"))
	l, err := Open(ctx, dir)
	must(t, err)
	img, err := l.Resolve(ctx, "v1")
	must(t, err)
	raw, err := exec.Command(skopeo, "inspect", "--raw", "oci:"+dir+":v1").Output()
	if err != nil {
		t.Fatalf("skopeo inspect: %v", err)
	}
	ours, err := l.ReadBlob(ctx, img.Descriptor)
	must(t, err)
	if !bytes.Equal(bytes.TrimSpace(raw), bytes.TrimSpace(ours)) {
		t.Fatalf("skopeo sees manifest %s, we have %s", raw, ours)
	}
	dst := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command(skopeo, "copy", "--override-arch", "arm64", "oci:"+dir+":multi", "oci:"+dst+":copied").CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy: %v: %s", err, out)
	}
	l2, err := Open(ctx, dst)
	must(t, err)
	img2, err := l2.Resolve(ctx, "copied", WithPlatform(arm64))
	must(t, err)
	if img2.Config.Architecture != "arm64" || seedOf(img2) != "multi-arm64" {
		t.Fatalf("skopeo copy resolved to %+v", img2.Config)
	}
	if _, err := os.Stat(filepath.Join(dst, "oci-layout")); err != nil {
		t.Fatal(err)
	}
}
