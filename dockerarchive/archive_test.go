package dockerarchive_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/content/contenttest"
	"github.com/ocikit/ocikit/dockerarchive"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/internal/testutil"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

type entry = testutil.TarEntry

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// fixtureEntries lays f out as docker 25 writes an archive: an OCI layout
// (blobs raw, the fixture's corrupt one too) and a manifest.json listing
// each image manifest of the fixture.
func fixtureEntries(t *testing.T, f contenttest.Fixture) []entry {
	t.Helper()
	idx := v1.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageIndex, Manifests: []v1.Descriptor{}}
	names := make([]string, 0, len(f.Refs))
	for name := range f.Refs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		d := f.Refs[name]
		d.Annotations = map[string]string{v1.AnnotationRefName: name}
		idx.Manifests = append(idx.Manifests, d)
	}
	es := []entry{
		{Name: "blobs/", Typeflag: tar.TypeDir},
		{Name: "blobs/sha256/", Typeflag: tar.TypeDir},
	}
	var items []dockerarchive.ManifestItem
	for d, data := range f.Blobs {
		es = append(es, entry{Name: "blobs/sha256/" + d.Encoded(), Data: data})
		var m v1.Manifest
		if json.Unmarshal(data, &m) == nil && m.MediaType == v1.MediaTypeImageManifest && digest.FromBytes(data) == d {
			it := dockerarchive.ManifestItem{Config: "blobs/sha256/" + m.Config.Digest.Encoded()}
			for _, l := range m.Layers {
				it.Layers = append(it.Layers, "blobs/sha256/"+l.Digest.Encoded())
			}
			items = append(items, it)
		}
	}
	return append(es,
		entry{Name: "oci-layout", Data: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		entry{Name: "index.json", Data: mustJSON(t, idx)},
		entry{Name: "manifest.json", Data: mustJSON(t, items)},
	)
}

func open(t *testing.T, file string) *dockerarchive.Archive {
	t.Helper()
	a, err := dockerarchive.Open(context.Background(), file, dockerarchive.WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func TestContentProvider(t *testing.T) {
	contenttest.TestProvider(t, func(t *testing.T, f contenttest.Fixture) content.Provider {
		return open(t, testutil.WriteTar(t, fixtureEntries(t, f)))
	})
}

func TestContentImageSource(t *testing.T) {
	contenttest.TestImageSource(t, func(t *testing.T, f contenttest.Fixture) content.ImageSource {
		return open(t, testutil.WriteTar(t, fixtureEntries(t, f)))
	})
}

func TestContentIngester(t *testing.T) {
	contenttest.TestIngester(t, func(t *testing.T) contenttest.Store {
		w, err := dockerarchive.Create(context.Background(), filepath.Join(t.TempDir(), "out.tar"), dockerarchive.WithTempDir(t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Close() })
		return w
	})
}

// legacyImage is an image in the legacy layout docker save (before 25),
// skopeo and podman write: layer tars at <id>/layer.tar (or <hex>.tar
// with <id>/layer.tar linking to it), the config at <hex>.json.
type legacyImage struct {
	layers  [][]byte
	config  []byte
	cfgDesc v1.Descriptor
}

func newLegacyImage(t testing.TB, layers ...[]byte) *legacyImage {
	t.Helper()
	img := &legacyImage{layers: layers}
	cfg := v1.Image{Platform: v1.Platform{OS: "linux", Architecture: "amd64"}, RootFS: v1.RootFS{Type: "layers", DiffIDs: []digest.Digest{}}}
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, digest.FromBytes(l))
	}
	img.config = mustJSON(t, cfg)
	img.cfgDesc = v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Digest: digest.FromBytes(img.config), Size: int64(len(img.config))}
	return img
}

// entries lays the image out as skopeo does: <hex>.tar files, linked from
// <id>/layer.tar, which manifest.json names.
func (img *legacyImage) entries(t testing.TB, tags ...string) []entry {
	t.Helper()
	var es []entry
	it := dockerarchive.ManifestItem{Config: img.cfgDesc.Digest.Encoded() + ".json", RepoTags: tags}
	es = append(es, entry{Name: it.Config, Data: img.config})
	for i, l := range img.layers {
		hex := digest.FromBytes(l).Encoded()
		id := strings.Repeat(string(rune('a'+i)), 64)
		es = append(es,
			entry{Name: hex + ".tar", Data: l},
			entry{Name: id + "/", Typeflag: tar.TypeDir},
			entry{Name: id + "/layer.tar", Typeflag: tar.TypeSymlink, Linkname: "../" + hex + ".tar"},
			entry{Name: id + "/VERSION", Data: []byte("1.0")},
		)
		it.Layers = append(it.Layers, id+"/layer.tar")
	}
	return append(es, entry{Name: "manifest.json", Data: mustJSON(t, []dockerarchive.ManifestItem{it})})
}

func TestOpenLegacy(t *testing.T) {
	ctx := context.Background()
	img := newLegacyImage(t, []byte("layer one"), []byte("layer two"))
	a := open(t, testutil.WriteTar(t, img.entries(t, "example/app:v1", "other:latest")))
	for _, ref := range []string{"example/app:v1", "other:latest", "@0"} {
		got, err := a.Resolve(ctx, ref)
		if err != nil {
			t.Fatalf("Resolve(%q): %v", ref, err)
		}
		if got.Manifest.Config.Digest != img.cfgDesc.Digest || len(got.Manifest.Layers) != 2 {
			t.Fatalf("Resolve(%q) = %+v", ref, got.Manifest)
		}
		for i, l := range got.Manifest.Layers {
			if l.MediaType != v1.MediaTypeImageLayer || l.Digest != digest.FromBytes(img.layers[i]) {
				t.Fatalf("layer %d = %+v", i, l)
			}
			data, err := content.ReadAll(ctx, a, l, 1<<20)
			if err != nil || !bytes.Equal(data, img.layers[i]) {
				t.Fatalf("read layer %d: %q, %v", i, data, err)
			}
		}
	}
	for _, ref := range []string{"@1", "nope:latest"} {
		if _, err := a.Lookup(ctx, ref); !errors.Is(err, errdefs.ErrNotFound) {
			t.Fatalf("Lookup(%q) = %v, want not found", ref, err)
		}
	}
	idx, err := a.Index(ctx)
	if err != nil || len(idx.Manifests) != 1 {
		t.Fatalf("Index = %+v, %v", idx, err)
	}
}

func TestOpenHostile(t *testing.T) {
	img := newLegacyImage(t, []byte("layer one"))
	good := img.entries(t, "app:v1")
	replace := func(name string, e entry) []entry {
		out := append([]entry{}, good...)
		for i := range out {
			if out[i].Name == name {
				out[i] = e
			}
		}
		return out
	}
	with := func(extra ...entry) []entry { return append(append([]entry{}, good...), extra...) }
	hex := digest.FromBytes(img.layers[0]).Encoded()
	layerLink := strings.Repeat("a", 64) + "/layer.tar"
	manifest := func(items any) []entry {
		return replace("manifest.json", entry{Name: "manifest.json", Data: mustJSON(t, items)})
	}
	tests := []struct {
		name    string
		entries []entry
		kind    error
	}{
		{"dotdot", with(entry{Name: "../escape", Data: []byte("x")}), errdefs.ErrInvalid},
		{"dotdot inside", with(entry{Name: "a/../../escape", Data: []byte("x")}), errdefs.ErrInvalid},
		{"absolute", with(entry{Name: "/tmp/escape", Data: []byte("x")}), errdefs.ErrInvalid},
		{"symlink out", replace(layerLink, entry{Name: layerLink, Typeflag: tar.TypeSymlink, Linkname: "../../etc/passwd"}), errdefs.ErrInvalid},
		{"symlink absolute", replace(layerLink, entry{Name: layerLink, Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}), errdefs.ErrInvalid},
		{"hardlink out", replace(layerLink, entry{Name: layerLink, Typeflag: tar.TypeLink, Linkname: "../x"}), errdefs.ErrInvalid},
		{"symlink loop", replace(layerLink, entry{Name: layerLink, Typeflag: tar.TypeSymlink, Linkname: "layer.tar"}), errdefs.ErrInvalid},
		{"dangling link", replace(layerLink, entry{Name: layerLink, Typeflag: tar.TypeSymlink, Linkname: "../none.tar"}), errdefs.ErrInvalid},
		{"device", with(entry{Name: "dev", Typeflag: tar.TypeChar}), errdefs.ErrInvalid},
		{"fifo", with(entry{Name: "fifo", Typeflag: tar.TypeFifo}), errdefs.ErrInvalid},
		{"duplicate", with(entry{Name: "./" + hex + ".tar", Data: []byte("other")}), errdefs.ErrInvalid},
		{"no manifest", good[:len(good)-1], errdefs.ErrInvalid},
		{"manifest not a list", manifest(map[string]string{"a": "b"}), errdefs.ErrInvalid},
		{"manifest null", manifest(nil), errdefs.ErrInvalid},
		{"manifest oversized", replace("manifest.json", entry{Name: "manifest.json", Data: bytes.Repeat([]byte(" "), dockerarchive.MaxManifestSize+1)}), errdefs.ErrInvalid},
		{"no config", manifest([]dockerarchive.ManifestItem{{Layers: []string{layerLink}}}), errdefs.ErrInvalid},
		{"config missing", manifest([]dockerarchive.ManifestItem{{Config: "none.json", Layers: []string{layerLink}}}), errdefs.ErrInvalid},
		{"config not json", manifest([]dockerarchive.ManifestItem{{Config: hex + ".tar", Layers: []string{layerLink}}}), errdefs.ErrInvalid},
		{"config path escapes", manifest([]dockerarchive.ManifestItem{{Config: "../x.json", Layers: []string{layerLink}}}), errdefs.ErrInvalid},
		{"layer missing", manifest([]dockerarchive.ManifestItem{{Config: img.cfgDesc.Digest.Encoded() + ".json", Layers: []string{"none.tar"}}}), errdefs.ErrInvalid},
		{"too few layers", manifest([]dockerarchive.ManifestItem{{Config: img.cfgDesc.Digest.Encoded() + ".json", Layers: []string{}}}), errdefs.ErrInvalid},
		{"layer not the diff_id", replace(hex+".tar", entry{Name: hex + ".tar", Data: []byte("LAYER ONE")}), errdefs.ErrDigestMismatch},
		{"blob not its name", append(replace(hex+".tar", entry{Name: "blobs/sha256/" + hex, Data: []byte("LAYER ONE")}),
			entry{Name: "x", Typeflag: tar.TypeSymlink, Linkname: "blobs/sha256/" + hex}), errdefs.ErrDigestMismatch},
		{"bad RepoTag", manifest([]dockerarchive.ManifestItem{{Config: img.cfgDesc.Digest.Encoded() + ".json", Layers: []string{layerLink}, RepoTags: []string{"bad tag!"}}}), errdefs.ErrInvalid},
		{"blob over the cap", with(entry{Name: "big", Data: make([]byte, 2000)}), errdefs.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "blob not its name" { // the manifest names the link to the corrupt blob
				for i := range tt.entries {
					if tt.entries[i].Name == layerLink {
						tt.entries[i].Linkname = "../x"
					}
				}
			}
			tmp := t.TempDir()
			_, err := dockerarchive.Open(context.Background(), testutil.WriteTar(t, tt.entries), dockerarchive.WithTempDir(tmp), dockerarchive.WithMaxBlobSize(1000))
			if !errors.Is(err, tt.kind) {
				t.Fatalf("Open = %v, want kind %v", err, tt.kind)
			}
			t.Log(err)
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Fatalf("temporary layout left behind: %v", left)
			}
			if _, err := os.Lstat(filepath.Join(filepath.Dir(tmp), "escape")); err == nil {
				t.Fatal("an entry escaped")
			}
		})
	}
}

func TestOpenTruncated(t *testing.T) {
	img := newLegacyImage(t, bytes.Repeat([]byte("x"), 10000))
	file := testutil.WriteTar(t, img.entries(t, "app:v1"))
	whole, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{len(whole) - 1024 - 600, 2000, 700, 1} {
		if err := os.WriteFile(file, whole[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := dockerarchive.Open(context.Background(), file, dockerarchive.WithTempDir(t.TempDir()))
		if !errors.Is(err, errdefs.ErrInvalid) {
			t.Fatalf("truncated to %d of %d bytes: Open = %v, want kind %v", n, len(whole), err, errdefs.ErrInvalid)
		}
	}
	if _, err := dockerarchive.Open(context.Background(), filepath.Join(t.TempDir(), "none.tar")); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Open of a missing file = %v", err)
	}
}

func TestParseName(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"busybox", "busybox:latest"},
		{"busybox:1.36", "busybox:1.36"},
		{"example.com/a/b:v1", "example.com/a/b:v1"},
		{"localhost:5000/app", "localhost:5000/app:latest"},
		{"localhost:5000/app:v2", "localhost:5000/app:v2"},
		{"localhost/app_x__y-z.w:t", "localhost/app_x__y-z.w:t"},
		{"Upper.Host/app", "Upper.Host/app:latest"},
		{"Busybox", ""},
		{"app@sha256:" + strings.Repeat("a", 64), ""},
		{"app:", ""},
		{"app:-x", ""},
		{"", ""},
		{":tag", ""},
		{"a//b", ""},
		{"a/b:" + strings.Repeat("t", 129), ""},
	} {
		got, err := dockerarchive.ParseName(tt.in)
		if tt.want == "" {
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("ParseName(%q) = %q, %v; want an invalid name", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
