package distribution

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/layout"
	"github.com/ocikit/ocikit/platform"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

type testImage struct {
	dir       string
	index     v1.Descriptor
	manifests map[string]v1.Descriptor // by platform.Format
	layers    map[string]v1.Descriptor
}

// arm64 is a platform other than this host's, host the host's.
var (
	host  = platform.Host()
	other = v1.Platform{OS: "linux", Architecture: "s390x"}
)

// newImage writes a layout tagged "single" (the host's manifest) and
// "multi" (an index of the host's and another platform's manifests, each
// with a layer of its own and one shared).
func newImage(t *testing.T) *testImage {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "src")
	l, err := layout.Init(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	ti := &testImage{dir: dir, manifests: map[string]v1.Descriptor{}, layers: map[string]v1.Descriptor{}}
	put := func(data []byte) v1.Descriptor {
		d, err := l.PutBlob(ctx, bytes.NewReader(data), v1.Descriptor{MediaType: v1.MediaTypeImageLayerGzip})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	shared := put(bytes.Repeat([]byte("shared layer "), 5000))
	var entries []v1.Descriptor
	for _, p := range []v1.Platform{host, other} {
		name := platform.Format(p)
		own := put([]byte("layer of " + name))
		ti.layers[name] = own
		cfg, err := content.PutJSON(ctx, l, v1.MediaTypeImageConfig, v1.Image{Platform: p, RootFS: v1.RootFS{Type: "layers", DiffIDs: []digest.Digest{shared.Digest, own.Digest}}})
		if err != nil {
			t.Fatal(err)
		}
		m, err := content.PutJSON(ctx, l, v1.MediaTypeImageManifest, v1.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageManifest, Config: cfg, Layers: []v1.Descriptor{shared, own}})
		if err != nil {
			t.Fatal(err)
		}
		ti.manifests[name] = m
		e := m
		e.Platform = &p
		entries = append(entries, e)
	}
	ti.index, err = content.PutJSON(ctx, l, v1.MediaTypeImageIndex, v1.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageIndex, Manifests: entries})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Tag(ctx, "single", ti.manifests[platform.Format(host)]); err != nil {
		t.Fatal(err)
	}
	if err := l.Tag(ctx, "multi", ti.index); err != nil {
		t.Fatal(err)
	}
	return ti
}

func TestCopy(t *testing.T) {
	ti := newImage(t)
	ctx := context.Background()
	hostM, otherM := ti.manifests[platform.Format(host)], ti.manifests[platform.Format(other)]
	tests := []struct {
		name      string
		src       string
		opts      []Option
		want      v1.Descriptor
		blobs     int
		has, hasn []v1.Descriptor
		kind      error
	}{
		{name: "manifest", src: "single", want: hostM, blobs: 4, has: []v1.Descriptor{ti.layers[platform.Format(host)]}, hasn: []v1.Descriptor{otherM}},
		{name: "manifest by digest", src: string(hostM.Digest), want: hostM, blobs: 4},
		{name: "index, host platform", src: "multi", want: hostM, blobs: 4, hasn: []v1.Descriptor{ti.index, ti.layers[platform.Format(other)]}},
		{name: "index, --platform", src: "multi", opts: []Option{WithPlatform(other)}, want: otherM, blobs: 4, hasn: []v1.Descriptor{hostM}},
		{name: "index, --all", src: "multi", opts: []Option{WithAll()}, want: ti.index, blobs: 8, has: []v1.Descriptor{hostM, otherM, ti.layers[platform.Format(other)]}},
		{name: "manifest, --platform of another", src: "single", opts: []Option{WithPlatform(other)}, kind: errdefs.ErrNotFound},
		{name: "index, platform it lacks", src: "multi", opts: []Option{WithPlatform(v1.Platform{OS: "plan9", Architecture: "mips"})}, kind: errdefs.ErrNotFound},
		{name: "unknown tag", src: "nope", kind: errdefs.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := layout.Open(ctx, ti.dir)
			if err != nil {
				t.Fatal(err)
			}
			dst, err := layout.Init(ctx, filepath.Join(t.TempDir(), "dst"))
			if err != nil {
				t.Fatal(err)
			}
			var events int
			rep, err := Copy(ctx, src, tt.src, dst, "copied", append(tt.opts, WithProgress(func(Event) { events++ }))...)
			if tt.kind != nil {
				if !errors.Is(err, tt.kind) {
					t.Fatalf("Copy = %v, want kind %v", err, tt.kind)
				}
				if blobs, _ := dst.Blobs(ctx); len(blobs) != 0 {
					t.Fatalf("a failed copy wrote %d blobs", len(blobs))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rep.Descriptor.Digest != tt.want.Digest || rep.Blobs != tt.blobs || events != tt.blobs || rep.Skipped != 0 {
				t.Fatalf("report %+v (%d events); want %s, %d blobs", rep, events, tt.want.Digest, tt.blobs)
			}
			got, err := dst.Lookup(ctx, "copied")
			if err != nil || got.Digest != tt.want.Digest {
				t.Fatalf("destination tag: %s, %v; want %s", got.Digest, err, tt.want.Digest)
			}
			for _, d := range append(tt.has, tt.want) {
				if _, err := dst.StatBlob(ctx, d.Digest); err != nil {
					t.Errorf("destination lacks %s: %v", d.Digest, err)
				}
			}
			for _, d := range tt.hasn {
				if _, err := dst.StatBlob(ctx, d.Digest); err == nil {
					t.Errorf("destination has %s, which is not part of the copy", d.Digest)
				}
			}
			// Again: every blob is skipped, only manifests and indexes are
			// read again (they are small and list what to check).
			rep2, err := Copy(ctx, src, tt.src, dst, "again", tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if rep2.Blobs != tt.blobs || rep2.Skipped == 0 || rep2.Bytes >= rep.Bytes/10 {
				t.Fatalf("second copy: %+v; first %+v", rep2, rep)
			}
		})
	}
}

// corruptBlob overwrites a blob of the layout in dir with other bytes of
// the same size, as a damaged disk or a hostile archive would hold.
func corruptBlob(t *testing.T, dir string, d v1.Descriptor) {
	t.Helper()
	p := filepath.Join(dir, "blobs", string(d.Digest.Algorithm()), d.Digest.Encoded())
	if err := os.WriteFile(p, bytes.Repeat([]byte("X"), int(d.Size)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCopyCorruptSourceKeepsTags(t *testing.T) {
	ctx := context.Background()
	ti := newImage(t)
	corruptBlob(t, ti.dir, ti.layers[platform.Format(other)])
	dstDir := filepath.Join(t.TempDir(), "dst")
	if _, err := CopyReference(ctx, "oci:"+ti.dir+":single", "oci:"+dstDir+":v1"); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(filepath.Join(dstDir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "out.tar")
	newDir := filepath.Join(t.TempDir(), "new")
	for _, dst := range []string{"oci:" + dstDir + ":v1", "oci:" + dstDir + ":v2", "oci-archive:" + archive + ":v1", "oci:" + newDir} {
		_, err := CopyReference(ctx, "oci:"+ti.dir+":multi", dst, WithAll())
		if !errors.Is(err, errdefs.ErrDigestMismatch) {
			t.Fatalf("copy of a corrupt image to %s: %v, want kind %v", dst, err, errdefs.ErrDigestMismatch)
		}
		if !strings.Contains(err.Error(), ti.layers[platform.Format(other)].Digest.String()) || strings.Contains(err.Error(), "\n") {
			t.Fatalf("error does not name the blob on one line: %v", err)
		}
	}
	after, err := os.ReadFile(filepath.Join(dstDir, "index.json"))
	if err != nil || !bytes.Equal(before, after) {
		t.Fatalf("destination index.json changed by failed copies:\n%s\n%s", before, after)
	}
	if _, err := os.Stat(filepath.Join(dstDir, "blobs", "sha256", ti.layers[platform.Format(other)].Digest.Encoded())); err == nil {
		t.Fatal("the corrupt blob reached the destination")
	}
	if _, err := os.Lstat(newDir); err == nil {
		t.Fatal("a failed copy to a new directory left a layout there")
	}
	if _, err := os.Lstat(archive); err == nil {
		t.Fatal("a failed copy wrote the archive")
	}
	if left, _ := os.ReadDir(filepath.Dir(archive)); len(left) != 0 {
		t.Fatalf("a failed copy left %v", left)
	}
}

func TestCopyRoundTripArchive(t *testing.T) {
	ctx := context.Background()
	ti := newImage(t)
	tmp := t.TempDir()
	for _, tt := range []struct {
		ref  string
		opts []Option
		want v1.Descriptor
	}{
		{"single", nil, ti.manifests[platform.Format(host)]},
		{"multi", []Option{WithAll()}, ti.index},
	} {
		archive := filepath.Join(tmp, tt.ref+".tar")
		back := filepath.Join(tmp, tt.ref+"-back")
		steps := [][2]string{
			{"oci:" + ti.dir + ":" + tt.ref, "oci-archive:" + archive + ":" + tt.ref},
			{"oci-archive:" + archive + ":" + tt.ref, "oci-archive:" + archive + "2"},
			{"oci-archive:" + archive + "2", back + ":" + tt.ref},
		}
		for _, s := range steps {
			rep, err := CopyReference(ctx, s[0], s[1], tt.opts...)
			if err != nil {
				t.Fatalf("copy %s %s: %v", s[0], s[1], err)
			}
			if rep.Descriptor.Digest != tt.want.Digest {
				t.Fatalf("copy %s %s: %s, want %s", s[0], s[1], rep.Descriptor.Digest, tt.want.Digest)
			}
		}
		l, err := layout.Open(ctx, back)
		if err != nil {
			t.Fatal(err)
		}
		if d, err := l.Lookup(ctx, tt.ref); err != nil || d.Digest != tt.want.Digest {
			t.Fatalf("round trip: %s, %v; want %s", d.Digest, err, tt.want.Digest)
		}
	}
}

func TestCopyReferenceErrors(t *testing.T) {
	ctx := context.Background()
	ti := newImage(t)
	for _, tt := range []struct {
		src, dst string
		kind     error
	}{
		{"containers-storage:img", "oci:" + t.TempDir(), errdefs.ErrUnsupported},
		{"oci:" + ti.dir + ":single", "docker-archive:x.tar:@0", errdefs.ErrInvalid},
		{"oci:" + ti.dir + ":single", "oci:" + t.TempDir() + "@" + dgst, errdefs.ErrInvalid},
		{"oci-archive:" + filepath.Join(t.TempDir(), "none.tar"), "oci:" + t.TempDir(), errdefs.ErrNotFound},
	} {
		_, err := CopyReference(ctx, tt.src, tt.dst)
		if !errors.Is(err, tt.kind) || strings.Contains(err.Error(), "\n") {
			t.Errorf("copy %s %s: %v, want one line of kind %v", tt.src, tt.dst, err, tt.kind)
		}
	}
}
