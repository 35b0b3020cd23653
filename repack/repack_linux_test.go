package repack

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/layer"
	"github.com/ocikit/ocikit/layout"
	"github.com/ocikit/ocikit/mutate"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

var linuxAMD64 = v1.Platform{OS: "linux", Architecture: "amd64"}

// baseImage stores an image of baseTree tagged "base" and returns its
// layout.
func baseImage(t *testing.T) *layout.Layout {
	t.Helper()
	ctx := context.Background()
	l, err := layout.Init(ctx, filepath.Join(t.TempDir(), "layout"))
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	build(t, src, baseTree)
	if _, err := mutate.New(ctx, l, "base", linuxAMD64); err != nil {
		t.Fatal(err)
	}
	img, err := l.Resolve(ctx, "base", layout.WithPlatform(linuxAMD64))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mutate.AppendLayer(ctx, l, "base", img.Manifest, img.Config, mutate.DirLayer(src)); err != nil {
		t.Fatal(err)
	}
	return l
}

// unpackBundle unpacks tag into a new bundle directory and records its
// snapshot, as image unpack does.
func unpackBundle(t *testing.T, l *layout.Layout, tag string) string {
	t.Helper()
	ctx := context.Background()
	img, err := l.Resolve(ctx, tag, layout.WithPlatform(linuxAMD64))
	if err != nil {
		t.Fatal(err)
	}
	bundle := t.TempDir()
	if err := layer.Unpack(ctx, l, img.Manifest, img.Config, rootfsOf(bundle)); err != nil {
		t.Fatal(err)
	}
	src := img.Descriptor
	src.Annotations = map[string]string{v1.AnnotationRefName: tag}
	if err := Record(ctx, bundle, l.Dir(), src); err != nil {
		t.Fatal(err)
	}
	return bundle
}

func TestRepack(t *testing.T) {
	ctx := context.Background()
	for _, c := range []layer.Compression{layer.Gzip, layer.Zstd, layer.Uncompressed} {
		t.Run(c.String(), func(t *testing.T) {
			l := baseImage(t)
			bundle := unpackBundle(t, l, "base")
			modify(t, rootfsOf(bundle))
			res, err := Repack(ctx, bundle, l, "", WithCompression(c), WithHistory(v1.History{Comment: "hello"}),
				WithSourceDateEpoch(time.Unix(1700000000, 0)))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Changes) == 0 {
				t.Fatal("no changes found")
			}
			// The source tag moved (no tag given), with one more layer.
			img, err := l.Resolve(ctx, "base", layout.WithPlatform(linuxAMD64))
			if err != nil {
				t.Fatal(err)
			}
			if img.Descriptor.Digest != res.Manifest.Digest || len(img.Manifest.Layers) != 2 || img.Manifest.Layers[1].MediaType != c.MediaType() {
				t.Fatalf("tag base: %s with %d layers", img.Descriptor.Digest, len(img.Manifest.Layers))
			}
			h := img.Config.History[len(img.Config.History)-1]
			if h.Comment != "hello" || !h.Created.Equal(time.Unix(1700000000, 0)) {
				t.Errorf("history %+v", h)
			}
			out := t.TempDir()
			if err := layer.Unpack(ctx, l, img.Manifest, img.Config, filepath.Join(out, "rootfs")); err != nil {
				t.Fatal(err)
			}
			if d := compareTrees(t, rootfsOf(bundle), filepath.Join(out, "rootfs")); d != "" {
				t.Errorf("unpacked repack differs from the bundle:\n%s", d)
			}

			// The snapshot now describes the repacked state.
			snap, err := Load(bundle)
			if err != nil {
				t.Fatal(err)
			}
			if snap.Source.Digest != res.Manifest.Digest {
				t.Errorf("snapshot source %s, want %s", snap.Source.Digest, res.Manifest.Digest)
			}
			changes, _, err := Diff(ctx, rootfsOf(bundle), snap.Entries)
			if err != nil || len(changes) != 0 {
				t.Errorf("changes after repack: %v %v", changes, err)
			}
		})
	}
}

func TestRepackErrors(t *testing.T) {
	ctx := context.Background()
	l := baseImage(t)
	bundle := unpackBundle(t, l, "base")
	other, err := layout.Init(ctx, filepath.Join(t.TempDir(), "other"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Repack(ctx, bundle, other, "x"); !errors.Is(err, ErrSourceGone) {
		t.Errorf("source not in layout: %v", err)
	}
	if _, err := Repack(ctx, t.TempDir(), l, "x"); !errors.Is(err, ErrNoSnapshot) {
		t.Errorf("no snapshot: %v", err)
	}
	// A bundle whose source carried no tag needs one.
	snap, err := Load(bundle)
	if err != nil {
		t.Fatal(err)
	}
	snap.Source.Annotations = nil
	if err := writeSnapshot(bundle, snap); err != nil {
		t.Fatal(err)
	}
	if _, err := Repack(ctx, bundle, l, ""); !errors.Is(err, ErrNoTag) {
		t.Errorf("no tag: %v", err)
	}
	if err := os.WriteFile(filepath.Join(bundle, SnapshotFile), []byte("ocikit-snapshot\x00\x01broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Repack(ctx, bundle, l, "x"); !errors.Is(err, ErrBadSnapshot) {
		t.Errorf("corrupt snapshot: %v", err)
	}
}

// narrowStore hides everything of a layout but what Store asks for (it is
// no content.LocalStore).
type narrowStore struct {
	content.Resolver
	content.Ingester
	content.Tagger
}

// TestRepackStore repacks through nothing but the Store interfaces: the
// tag moves as with a layout, the re-recorded snapshot names no layout,
// and a source missing from the store is ErrSourceGone.
func TestRepackStore(t *testing.T) {
	ctx := context.Background()
	l := baseImage(t)
	bundle := unpackBundle(t, l, "base")
	modify(t, rootfsOf(bundle))
	res, err := Repack(ctx, bundle, narrowStore{l, l, l}, "next")
	if err != nil {
		t.Fatal(err)
	}
	if d, err := l.Lookup(ctx, "next"); err != nil || d.Digest != res.Manifest.Digest {
		t.Fatalf("tag next = %s, %v; want %s", d.Digest, err, res.Manifest.Digest)
	}
	snap, err := Load(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Layout != "" || snap.Source.Digest != res.Manifest.Digest {
		t.Errorf("snapshot source = %q %s, want no layout and %s", snap.Layout, snap.Source.Digest, res.Manifest.Digest)
	}
	other, err := layout.Init(ctx, filepath.Join(t.TempDir(), "other"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Repack(ctx, bundle, narrowStore{other, other, other}, "x"); !errors.Is(err, ErrSourceGone) || !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("source not in store: %v", err)
	}
}
