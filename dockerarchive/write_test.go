package dockerarchive_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/dockerarchive"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/internal/testutil"
	"github.com/ocikit/ocikit/layer"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// layerTar is a small tar holding one file.
func layerTar(t testing.TB, name, body string) []byte {
	t.Helper()
	return testutil.TarData(t, []entry{{Name: name, Data: []byte(body)}})
}

func compress(t testing.TB, data []byte, c layer.Compression) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := layer.Compress(&buf, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// putImage stores an image of the given layers (each compressed with
// its compression) through w and returns its manifest and config.
func putImage(t *testing.T, w interface {
	content.Ingester
}, tars [][]byte, cs []layer.Compression) (v1.Descriptor, v1.Descriptor) {
	t.Helper()
	ctx := context.Background()
	cfg := v1.Image{Platform: v1.Platform{OS: "linux", Architecture: "amd64"}, RootFS: v1.RootFS{Type: "layers", DiffIDs: []digest.Digest{}}, Config: v1.ImageConfig{Cmd: []string{"true"}}}
	m := v1.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageManifest, Layers: []v1.Descriptor{}}
	for i, tr := range tars {
		blob := compress(t, tr, cs[i])
		d, err := w.PutBlob(ctx, bytes.NewReader(blob), v1.Descriptor{MediaType: cs[i].MediaType(), Digest: digest.FromBytes(blob), Size: int64(len(blob))})
		if err != nil {
			t.Fatal(err)
		}
		m.Layers = append(m.Layers, d)
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, digest.FromBytes(tr))
	}
	var err error
	if m.Config, err = content.PutJSON(ctx, w, v1.MediaTypeImageConfig, cfg); err != nil {
		t.Fatal(err)
	}
	md, err := content.PutJSON(ctx, w, v1.MediaTypeImageManifest, m)
	if err != nil {
		t.Fatal(err)
	}
	return md, m.Config
}

func create(t *testing.T, file string) *dockerarchive.Writer {
	t.Helper()
	w, err := dockerarchive.Create(context.Background(), file, dockerarchive.WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func TestWriteRoundTrip(t *testing.T) {
	ctx := context.Background()
	tars := [][]byte{layerTar(t, "a", "first"), layerTar(t, "b", "second"), layerTar(t, "c", "third")}
	file := filepath.Join(t.TempDir(), "out.tar")
	if err := os.WriteFile(file, []byte("old archive"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := create(t, file)
	md, cd := putImage(t, w, tars, []layer.Compression{layer.Gzip, layer.Zstd, layer.Uncompressed})
	// The same image again: the store has every blob and reads nothing.
	if again, _ := putImage(t, w, tars, []layer.Compression{layer.Gzip, layer.Zstd, layer.Uncompressed}); again.Digest != md.Digest {
		t.Fatalf("second put: %s, want %s", again.Digest, md.Digest)
	}
	if err := w.Tag(ctx, "example/app:v1", md); err != nil {
		t.Fatal(err)
	}
	if err := w.Tag(ctx, "latest", md); err != nil { // not a docker name: no RepoTag
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(file); string(got) != "old archive" {
		t.Fatal("archive written before Commit")
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	a := open(t, file)
	img, err := a.Resolve(ctx, "example/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	if img.Manifest.Config.Digest != cd.Digest {
		t.Fatalf("config %s, want %s (kept as it is)", img.Manifest.Config.Digest, cd.Digest)
	}
	for i, l := range img.Manifest.Layers {
		if l.Digest != digest.FromBytes(tars[i]) || l.MediaType != v1.MediaTypeImageLayer || img.Config.RootFS.DiffIDs[i] != l.Digest {
			t.Fatalf("layer %d = %+v, want the uncompressed tar", i, l)
		}
	}
	if _, err := a.Lookup(ctx, "latest"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Lookup(latest) = %v: only docker names are RepoTags", err)
	}
	// manifest.json as written: one image, its tag, DIFFID.tar layers.
	var items []dockerarchive.ManifestItem
	if err := json.Unmarshal(readEntry(t, file, "manifest.json"), &items); err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || len(items[0].RepoTags) != 1 || items[0].RepoTags[0] != "example/app:v1" || items[0].Config != cd.Digest.Encoded()+".json" || items[0].Layers[0] != digest.FromBytes(tars[0]).Encoded()+".tar" {
		t.Fatalf("manifest.json = %+v", items)
	}
	// The same content gives the same bytes.
	first, _ := os.ReadFile(file)
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if second, _ := os.ReadFile(file); !bytes.Equal(first, second) {
		t.Fatal("two commits of the same content differ")
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(file), ".ocikit-tmp-*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

func readEntry(t *testing.T, file, name string) []byte {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s: no %s: %v", file, name, err)
		}
		if h.Name == name {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return data
		}
	}
}

func TestWriteRefused(t *testing.T) {
	ctx := context.Background()
	tars := [][]byte{layerTar(t, "a", "first")}

	t.Run("index", func(t *testing.T) {
		w := create(t, filepath.Join(t.TempDir(), "out.tar"))
		md, _ := putImage(t, w, tars, []layer.Compression{layer.Gzip})
		idx, err := content.PutJSON(ctx, w, v1.MediaTypeImageIndex, v1.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageIndex, Manifests: []v1.Descriptor{md}})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Tag(ctx, "app:v1", idx); err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(ctx); !errors.Is(err, errdefs.ErrUnsupported) {
			t.Fatalf("Commit of an index = %v, want unsupported", err)
		}
	})
	t.Run("wrong diff_id", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "out.tar")
		w := create(t, file)
		blob := compress(t, tars[0], layer.Gzip)
		d, err := w.PutBlob(ctx, bytes.NewReader(blob), v1.Descriptor{MediaType: v1.MediaTypeImageLayerGzip})
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := content.PutJSON(ctx, w, v1.MediaTypeImageConfig, v1.Image{RootFS: v1.RootFS{Type: "layers", DiffIDs: []digest.Digest{d.Digest}}})
		if err != nil {
			t.Fatal(err)
		}
		md, err := content.PutJSON(ctx, w, v1.MediaTypeImageManifest, v1.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageManifest, Config: cfg, Layers: []v1.Descriptor{d}})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Tag(ctx, "app:v1", md); err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(ctx); !errors.Is(err, errdefs.ErrDigestMismatch) {
			t.Fatalf("Commit with a wrong diff_id = %v, want a digest mismatch", err)
		}
		if _, err := os.Stat(file); err == nil {
			t.Fatal("archive written")
		}
	})
	t.Run("not gzip", func(t *testing.T) {
		w := create(t, filepath.Join(t.TempDir(), "out.tar"))
		data := []byte("not a gzip stream at all")
		d := v1.Descriptor{MediaType: v1.MediaTypeImageLayerGzip, Digest: digest.FromBytes(data), Size: int64(len(data))}
		if _, err := w.PutBlob(ctx, bytes.NewReader(data), d); !errors.Is(err, errdefs.ErrInvalid) {
			t.Fatalf("PutBlob of a gzip layer that is not gzip = %v, want invalid", err)
		}
		if _, err := w.StatBlob(ctx, d.Digest); !errors.Is(err, errdefs.ErrNotFound) {
			t.Fatalf("blob visible after a failed put: %v", err)
		}
	})
}

// TestOpenDocker25Compressed: docker 25 with the containerd image store
// saves the blobs as they are stored, compressed, and lists them in both
// manifest.json and an OCI index.json; the index's manifest is used as it
// is (its digest kept), though the gzip layer is not the diff_id.
func TestOpenDocker25Compressed(t *testing.T) {
	ctx := context.Background()
	tar0 := layerTar(t, "a", "first")
	gz := compress(t, tar0, layer.Gzip)
	cfg := mustJSON(t, v1.Image{Platform: v1.Platform{OS: "linux", Architecture: "amd64"}, RootFS: v1.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromBytes(tar0)}}})
	ld := v1.Descriptor{MediaType: v1.MediaTypeImageLayerGzip, Digest: digest.FromBytes(gz), Size: int64(len(gz))}
	cd := v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Digest: digest.FromBytes(cfg), Size: int64(len(cfg))}
	m := mustJSON(t, v1.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageManifest, Config: cd, Layers: []v1.Descriptor{ld}})
	md := v1.Descriptor{MediaType: v1.MediaTypeImageManifest, Digest: digest.FromBytes(m), Size: int64(len(m))}
	tagged := md
	tagged.Annotations = map[string]string{v1.AnnotationRefName: "v1"}
	idx := mustJSON(t, v1.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageIndex, Manifests: []v1.Descriptor{tagged}})
	blob := func(d v1.Descriptor) string { return "blobs/sha256/" + d.Digest.Encoded() }
	file := testutil.WriteTar(t, []entry{
		{Name: blob(ld), Data: gz}, {Name: blob(cd), Data: cfg}, {Name: blob(md), Data: m},
		{Name: "oci-layout", Data: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{Name: "index.json", Data: idx},
		{Name: "manifest.json", Data: mustJSON(t, []dockerarchive.ManifestItem{{Config: blob(cd), RepoTags: []string{"app:v1"}, Layers: []string{blob(ld)}}})},
	})
	a := open(t, file)
	for _, ref := range []string{"app:v1", "@0", "v1"} {
		d, err := a.Lookup(ctx, ref)
		if err != nil || d.Digest != md.Digest {
			t.Fatalf("Lookup(%q) = %s, %v; want the index's manifest %s", ref, d.Digest, err, md.Digest)
		}
	}
}

// TestOpenCompressed: `docker save | gzip` (or zstd) opens as the tar
// does; a compressed stream inflating past the cap is refused.
func TestOpenCompressed(t *testing.T) {
	ctx := context.Background()
	img := newLegacyImage(t, []byte("layer one"))
	plain := testutil.TarData(t, img.entries(t, "app:v1"))
	for _, c := range []layer.Compression{layer.Gzip, layer.Zstd} {
		file := filepath.Join(t.TempDir(), "a.tar.z")
		if err := os.WriteFile(file, compress(t, plain, c), 0o644); err != nil {
			t.Fatal(err)
		}
		a := open(t, file)
		if got, err := a.Resolve(ctx, "app:v1"); err != nil || got.Manifest.Config.Digest != img.cfgDesc.Digest {
			t.Fatalf("%s: Resolve = %+v, %v", c, got, err)
		}
	}
	var many []entry
	for i := 0; i < 40; i++ { // each under the blob cap, together over it
		many = append(many, entry{Name: fmt.Sprintf("zeros%d", i), Data: make([]byte, 32<<10)})
	}
	bomb := compress(t, testutil.TarData(t, many), layer.Gzip)
	file := filepath.Join(t.TempDir(), "bomb.tar.gz")
	if err := os.WriteFile(file, bomb, 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	_, err := dockerarchive.Open(ctx, file, dockerarchive.WithTempDir(tmp), dockerarchive.WithMaxBlobSize(64<<10))
	if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "decompressed archive larger") {
		t.Fatalf("Open of a %d-byte gzip inflating to 1.3 MiB with a 64 KiB cap = %v", len(bomb), err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}
