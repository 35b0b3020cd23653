package ociarchive_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/content/contenttest"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/internal/testutil"
	"github.com/ocikit/ocikit/ociarchive"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

type entry = testutil.TarEntry

// fixtureEntries lays f out as an image layout's entries, blobs raw (the
// fixture's corrupt ones stay corrupt), as skopeo writes them ("./" names
// and directory entries included).
func fixtureEntries(t *testing.T, f contenttest.Fixture) []entry {
	t.Helper()
	idx := v1.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageIndex, Manifests: []v1.Descriptor{}}
	for name, d := range f.Refs {
		d.Annotations = map[string]string{v1.AnnotationRefName: name}
		idx.Manifests = append(idx.Manifests, d)
	}
	idxData, err := json.Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	es := []entry{
		{Name: "./", Typeflag: tar.TypeDir},
		{Name: "oci-layout", Data: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{Name: "./index.json", Data: idxData},
		{Name: "blobs/", Typeflag: tar.TypeDir},
		{Name: "blobs/sha256/", Typeflag: tar.TypeDir},
	}
	for d, data := range f.Blobs {
		es = append(es, entry{Name: "blobs/" + string(d.Algorithm()) + "/" + d.Encoded(), Data: data})
	}
	return es
}

func open(t *testing.T, file string) *ociarchive.Archive {
	t.Helper()
	a, err := ociarchive.Open(context.Background(), file, ociarchive.WithTempDir(t.TempDir()))
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
		w, err := ociarchive.Create(context.Background(), filepath.Join(t.TempDir(), "out.tar"), ociarchive.WithTempDir(t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Close() })
		return w
	})
}

func TestOpenHostile(t *testing.T) {
	good := []byte("layer")
	gd := digest.FromBytes(good)
	base := func(extra ...entry) []entry {
		return append([]entry{
			{Name: "oci-layout", Data: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
			{Name: "index.json", Data: []byte(`{"schemaVersion":2,"manifests":[]}`)},
		}, extra...)
	}
	tests := []struct {
		name    string
		entries []entry
		kind    error
	}{
		{"dotdot", base(entry{Name: "../escape", Data: good}), errdefs.ErrInvalid},
		{"dotdot inside", base(entry{Name: "blobs/../../escape", Data: good}), errdefs.ErrInvalid},
		{"absolute", base(entry{Name: "/tmp/escape", Data: good}), errdefs.ErrInvalid},
		{"symlink", base(entry{Name: "blobs/sha256/" + gd.Encoded(), Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}), errdefs.ErrInvalid},
		{"hardlink", base(entry{Name: "blobs/sha256/" + gd.Encoded(), Typeflag: tar.TypeLink, Linkname: "index.json"}), errdefs.ErrInvalid},
		{"symlinked blobs dir", append([]entry{{Name: "blobs", Typeflag: tar.TypeSymlink, Linkname: "/tmp"}}, base()...), errdefs.ErrInvalid},
		{"device", base(entry{Name: "blobs/sha256/x", Typeflag: tar.TypeChar}), errdefs.ErrInvalid},
		{"blob not named by a digest", base(entry{Name: "blobs/sha256/nothex", Data: good}), errdefs.ErrInvalid},
		{"blob outside an algorithm", base(entry{Name: "blobs/" + gd.Encoded(), Data: good}), errdefs.ErrInvalid},
		{"index twice", base(entry{Name: "./index.json", Data: []byte(`{}`)}), errdefs.ErrInvalid},
		{"no index", []entry{{Name: "oci-layout", Data: []byte(`{"imageLayoutVersion":"1.0.0"}`)}}, errdefs.ErrInvalid},
		{"no marker", []entry{{Name: "index.json", Data: []byte(`{"schemaVersion":2,"manifests":[]}`)}}, errdefs.ErrInvalid},
		{"bad version", []entry{{Name: "oci-layout", Data: []byte(`{"imageLayoutVersion":"9"}`)}, {Name: "index.json", Data: []byte(`{"schemaVersion":2,"manifests":[]}`)}}, errdefs.ErrUnsupported},
		{"bad index", base()[:1:1], errdefs.ErrInvalid},
		{"blob over the cap", base(entry{Name: "blobs/sha256/" + digest.FromBytes(make([]byte, 100)).Encoded(), Data: make([]byte, 100)}), errdefs.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "bad index" {
				tt.entries = append(tt.entries, entry{Name: "index.json", Data: []byte(`{"manifests":"x"}`)})
			}
			tmp := t.TempDir()
			_, err := ociarchive.Open(context.Background(), testutil.WriteTar(t, tt.entries), ociarchive.WithTempDir(tmp), ociarchive.WithMaxBlobSize(50))
			if !errors.Is(err, tt.kind) {
				t.Fatalf("Open = %v, want kind %v", err, tt.kind)
			}
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
	data := bytes.Repeat([]byte("x"), 10000)
	file := testutil.WriteTar(t, []entry{
		{Name: "oci-layout", Data: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{Name: "index.json", Data: []byte(`{"schemaVersion":2,"manifests":[]}`)},
		{Name: "blobs/sha256/" + digest.FromBytes(data).Encoded(), Data: data},
	})
	whole, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{len(whole) - 1024 - 5000, 700, 1} {
		if err := os.WriteFile(file, whole[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ociarchive.Open(context.Background(), file, ociarchive.WithTempDir(t.TempDir()))
		if !errors.Is(err, errdefs.ErrInvalid) {
			t.Fatalf("truncated to %d of %d bytes: Open = %v, want kind %v", n, len(whole), err, errdefs.ErrInvalid)
		}
	}
	_, err = ociarchive.Open(context.Background(), filepath.Join(t.TempDir(), "none.tar"))
	if !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Open of a missing file = %v", err)
	}
}

func TestOpenCloseRemovesTemp(t *testing.T) {
	tmp := t.TempDir()
	a, err := ociarchive.Open(context.Background(), testutil.WriteTar(t, fixtureEntries(t, contenttest.Fixture{Refs: map[string]v1.Descriptor{}})), ociarchive.WithTempDir(tmp))
	if err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 1 {
		t.Fatalf("temporary layout: %v", left)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Fatalf("after Close: %v", left)
	}
}

func TestWriterCommit(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "out.tar")
	if err := os.WriteFile(file, []byte("old archive"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := ociarchive.Create(ctx, file, ociarchive.WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	cfg, err := content.PutJSON(ctx, w, v1.MediaTypeImageConfig, v1.Image{Platform: v1.Platform{OS: "linux", Architecture: "amd64"}, RootFS: v1.RootFS{Type: "layers"}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := content.PutJSON(ctx, w, v1.MediaTypeImageManifest, v1.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageManifest, Config: cfg, Layers: []v1.Descriptor{}})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(file); string(got) != "old archive" {
		t.Fatal("archive written before Commit")
	}
	if err := w.Tag(ctx, "v1", m); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	a := open(t, file)
	got, err := a.Lookup(ctx, "v1")
	if err != nil || got.Digest != m.Digest {
		t.Fatalf("Lookup(v1) = %+v, %v; want %s", got, err, m.Digest)
	}
	if _, err := a.Resolve(ctx, "v1"); err != nil {
		t.Fatal(err)
	}
	// The same content gives the same bytes.
	first, _ := os.ReadFile(file)
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(file)
	if !bytes.Equal(first, second) {
		t.Fatal("two commits of the same content differ")
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(file), ".ocikit-tmp-*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	// A failed commit (the directory is gone) leaves no file behind.
	w2, err := ociarchive.Create(ctx, filepath.Join(t.TempDir(), "gone", "x.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if err := w2.Commit(ctx); err == nil {
		t.Fatal("commit into a missing directory succeeded")
	}
}
