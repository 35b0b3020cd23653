package distribution

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/layer"
	"github.com/ocikit/ocikit/layout"
	"github.com/ocikit/ocikit/platform"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// tarImage is an image of real layer tars in a layout.
type tarImage struct {
	dir      string
	manifest v1.Descriptor
	config   v1.Descriptor
	diffIDs  []digest.Digest
}

// newTarImage writes a layout tagged "v1" and "multi" (an index of it)
// holding an image of one tar per compression in cs.
func newTarImage(t *testing.T, cs ...layer.Compression) *tarImage {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "src")
	l, err := layout.Init(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	ti := &tarImage{dir: dir}
	m := v1.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageManifest}
	for i, c := range cs {
		var raw, blob bytes.Buffer
		tw := tar.NewWriter(&raw)
		body := bytes.Repeat([]byte{byte('a' + i)}, 100000+i)
		if err := tw.WriteHeader(&tar.Header{Name: "file" + string(rune('0'+i)), Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
		tw.Close()
		zw, err := layer.Compress(&blob, c)
		if err != nil {
			t.Fatal(err)
		}
		zw.Write(raw.Bytes())
		zw.Close()
		d, err := l.PutBlob(ctx, &blob, v1.Descriptor{MediaType: c.MediaType()})
		if err != nil {
			t.Fatal(err)
		}
		m.Layers = append(m.Layers, d)
		ti.diffIDs = append(ti.diffIDs, digest.FromBytes(raw.Bytes()))
	}
	if ti.config, err = content.PutJSON(ctx, l, v1.MediaTypeImageConfig, v1.Image{Platform: host, RootFS: v1.RootFS{Type: "layers", DiffIDs: ti.diffIDs}}); err != nil {
		t.Fatal(err)
	}
	m.Config = ti.config
	if ti.manifest, err = content.PutJSON(ctx, l, v1.MediaTypeImageManifest, m); err != nil {
		t.Fatal(err)
	}
	if err := l.Tag(ctx, "v1", ti.manifest); err != nil {
		t.Fatal(err)
	}
	entry := ti.manifest
	entry.Platform = &host
	idx, err := content.PutJSON(ctx, l, v1.MediaTypeImageIndex, v1.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageIndex, Manifests: []v1.Descriptor{entry}})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Tag(ctx, "multi", idx); err != nil {
		t.Fatal(err)
	}
	return ti
}

// resolveIn resolves ref in the layout dir.
func resolveIn(t *testing.T, dir, ref string) *content.Image {
	t.Helper()
	l, err := layout.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	img, err := l.Resolve(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestCopyDockerArchiveRoundTrip(t *testing.T) {
	ctx := context.Background()
	ti := newTarImage(t, layer.Gzip, layer.Zstd, layer.Uncompressed)
	tmp := t.TempDir()
	archive, again := filepath.Join(tmp, "img.tar"), filepath.Join(tmp, "again.tar")
	var digests []digest.Digest
	for _, s := range [][2]string{
		{"oci:" + ti.dir + ":v1", "docker-archive:" + archive + ":example/app:v1"},
		{"docker-archive:" + archive + ":example/app:v1", "oci:" + filepath.Join(tmp, "a") + ":v1"},
		{"docker-archive:" + archive, "oci:" + filepath.Join(tmp, "b") + ":v1"}, // the only image
		{"docker-archive:" + archive + ":@0", "docker-archive:" + again + ":example/app:v1"},
		{"docker-archive:" + again, "oci:" + filepath.Join(tmp, "c") + ":v1"},
	} {
		rep, err := CopyReference(ctx, s[0], s[1])
		if err != nil {
			t.Fatalf("copy %s %s: %v", s[0], s[1], err)
		}
		digests = append(digests, rep.Descriptor.Digest)
	}
	for _, dir := range []string{"a", "b", "c"} {
		img := resolveIn(t, filepath.Join(tmp, dir), "v1")
		if img.Manifest.Config.Digest != ti.config.Digest {
			t.Fatalf("%s: config %s, want %s kept", dir, img.Manifest.Config.Digest, ti.config.Digest)
		}
		for i, l := range img.Manifest.Layers {
			if l.MediaType != v1.MediaTypeImageLayer || l.Digest != ti.diffIDs[i] || img.Config.RootFS.DiffIDs[i] != ti.diffIDs[i] {
				t.Fatalf("%s: layer %d = %+v, want the tar %s", dir, i, l, ti.diffIDs[i])
			}
		}
	}
	// Out of a docker archive the manifest is the same each time, and the
	// archive written from it the same bytes.
	if digests[1] != digests[2] || digests[1] != digests[3] || digests[1] != digests[4] {
		t.Fatalf("manifest digests through docker archives differ: %v", digests)
	}
	first, _ := os.ReadFile(archive)
	second, _ := os.ReadFile(again)
	if !bytes.Equal(first, second) {
		t.Fatal("docker archive -> docker archive changed the bytes")
	}
}

func TestCopyDockerArchiveRefused(t *testing.T) {
	ctx := context.Background()
	ti := newTarImage(t, layer.Gzip)
	archive := filepath.Join(t.TempDir(), "img.tar")
	_, err := CopyReference(ctx, "oci:"+ti.dir+":multi", "docker-archive:"+archive+":app:v1", WithAll())
	if !errors.Is(err, errdefs.ErrUnsupported) {
		t.Fatalf("copy --all of an index into a docker archive = %v, want unsupported", err)
	}
	if left, _ := os.ReadDir(filepath.Dir(archive)); len(left) != 0 {
		t.Fatalf("a failed copy left %v", left)
	}
	// Without --all the index resolves to this host's manifest.
	rep, err := CopyReference(ctx, "oci:"+ti.dir+":multi", "docker-archive:"+archive+":app:v1", WithPlatform(platform.Host()))
	if err != nil || rep.Descriptor.Digest != ti.manifest.Digest {
		t.Fatalf("copy of one platform = %+v, %v", rep, err)
	}
	if _, err := CopyReference(ctx, "docker-archive:"+archive+":other:v1", "oci:"+t.TempDir()); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("copy of a name the archive does not have = %v, want not found", err)
	}
}

// layerTars decompresses every layer of the image ref names in the layout
// dir and returns the digests of the tars and the media types.
func layerTars(t *testing.T, dir, ref string) (tars []digest.Digest, types []string, img *content.Image) {
	t.Helper()
	ctx := context.Background()
	l, err := layout.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	img = resolveIn(t, dir, ref)
	for _, d := range img.Manifest.Layers {
		rc, err := l.OpenBlob(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := layer.Decompress(d.MediaType, rc)
		if err != nil {
			t.Fatal(err)
		}
		dg, err := digest.FromReader(zr)
		if err != nil {
			t.Fatal(err)
		}
		zr.Close()
		rc.Close()
		tars = append(tars, dg)
		types = append(types, d.MediaType)
	}
	return tars, types, img
}

func TestCopyRecompress(t *testing.T) {
	ctx := context.Background()
	ti := newTarImage(t, layer.Gzip, layer.Zstd, layer.Uncompressed)
	tmp := t.TempDir()
	var prev digest.Digest = ti.manifest.Digest
	for i, step := range []struct {
		src, dst string
		c        layer.Compression
		level    int
	}{
		{"oci:" + ti.dir + ":v1", "oci:" + filepath.Join(tmp, "zstd") + ":v1", layer.Zstd, 0},
		{"oci:" + filepath.Join(tmp, "zstd") + ":v1", "oci:" + filepath.Join(tmp, "gzip") + ":v1", layer.Gzip, 9},
		{"oci:" + filepath.Join(tmp, "gzip") + ":v1", "docker-archive:" + filepath.Join(tmp, "d.tar") + ":app:v1", layer.Gzip, 0},
		{"docker-archive:" + filepath.Join(tmp, "d.tar"), "oci:" + filepath.Join(tmp, "fromdocker") + ":v1", layer.Zstd, 3},
	} {
		rep, err := CopyReference(ctx, step.src, step.dst, WithCompression(step.c, step.level))
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if step.c != layer.Gzip && rep.Descriptor.Digest == prev { // gzip layers stay as they are
			t.Fatalf("step %d: manifest digest kept (%s) though layers were recompressed", i, prev)
		}
		prev = rep.Descriptor.Digest
	}
	for dir, want := range map[string]string{"zstd": v1.MediaTypeImageLayerZstd, "gzip": v1.MediaTypeImageLayerGzip, "fromdocker": v1.MediaTypeImageLayerZstd} {
		tars, types, img := layerTars(t, filepath.Join(tmp, dir), "v1")
		if img.Manifest.Config.Digest != ti.config.Digest {
			t.Fatalf("%s: config %s, want %s", dir, img.Manifest.Config.Digest, ti.config.Digest)
		}
		for i := range tars {
			if tars[i] != ti.diffIDs[i] || img.Config.RootFS.DiffIDs[i] != ti.diffIDs[i] || types[i] != want {
				t.Fatalf("%s: layer %d: tar %s, %s; want %s, %s", dir, i, tars[i], types[i], ti.diffIDs[i], want)
			}
		}
		if _, err := ParseReference("oci:" + filepath.Join(tmp, dir)); err != nil {
			t.Fatal(err)
		}
	}
	// An index copied whole is rewritten to list the new manifest.
	rep, err := CopyReference(ctx, "oci:"+ti.dir+":multi", "oci:"+filepath.Join(tmp, "all")+":multi", WithAll(), WithCompression(layer.Zstd, 0))
	if err != nil {
		t.Fatal(err)
	}
	tars, types, img := layerTars(t, filepath.Join(tmp, "all"), "multi")
	if rep.Descriptor.MediaType != v1.MediaTypeImageIndex || img.Manifest.Config.Digest != ti.config.Digest || tars[0] != ti.diffIDs[0] || types[0] != v1.MediaTypeImageLayerZstd {
		t.Fatalf("--all with zstd: %+v, %v, %v", rep.Descriptor, tars, types)
	}
	// Without recompression the digest is kept.
	rep, err = CopyReference(ctx, "oci:"+ti.dir+":v1", "oci:"+filepath.Join(tmp, "plain")+":v1")
	if err != nil || rep.Descriptor.Digest != ti.manifest.Digest {
		t.Fatalf("plain copy = %+v, %v; want %s", rep, err, ti.manifest.Digest)
	}
}

func TestCopyRecompressCorrupt(t *testing.T) {
	ctx := context.Background()
	ti := newTarImage(t, layer.Gzip)
	img := resolveIn(t, ti.dir, "v1")
	l := img.Manifest.Layers[0]
	p := filepath.Join(ti.dir, "blobs", "sha256", l.Digest.Encoded())
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	// The gzip stream stays intact; a byte after it changes the digest,
	// which only reading the blob to its end finds.
	if err := os.WriteFile(p, append(data[:len(data)-1:len(data)-1], data[len(data)-1]^0xff), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "dst")
	_, err = CopyReference(ctx, "oci:"+ti.dir+":v1", "oci:"+dst+":v1", WithCompression(layer.Zstd, 0))
	if !errors.Is(err, errdefs.ErrDigestMismatch) {
		t.Fatalf("recompress of a corrupt layer = %v, want a digest mismatch", err)
	}
	if _, err := os.Stat(dst); err == nil {
		t.Fatal("a failed copy left the new layout")
	}
}
