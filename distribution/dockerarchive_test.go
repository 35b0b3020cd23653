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
