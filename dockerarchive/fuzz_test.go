package dockerarchive_test

import (
	"archive/tar"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ocikit/ocikit/dockerarchive"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/layer"
)

// FuzzParseManifest: any bytes as manifest.json parse or fail with
// ErrInvalid; what parses keeps the promises (a config, no empty layer
// path, the caps).
func FuzzParseManifest(f *testing.F) {
	for _, s := range []string{
		`[{"Config":"a.json","RepoTags":["app:v1"],"Layers":["b/layer.tar"]}]`,
		`[{"Config":"blobs/sha256/x","RepoTags":null,"Layers":[],"LayerSources":{}}]`,
		`[]`, `null`, `{}`, `[{"Config":""}]`, `[{"Config":"a","Layers":[""]}] x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		items, err := dockerarchive.ParseManifest(data)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Fatalf("error of no kind: %v", err)
			}
			return
		}
		for _, it := range items {
			if it.Config == "" {
				t.Fatalf("item without config accepted: %+v", it)
			}
			for _, l := range it.Layers {
				if l == "" {
					t.Fatalf("empty layer path accepted: %+v", it)
				}
			}
		}
	})
}

// FuzzOpen feeds arbitrary bytes to Open as an archive: it must fail with
// an error of a kind or succeed, never write outside its temporary
// directory, and leave nothing behind after an error or Close.
func FuzzOpen(f *testing.F) {
	img := newLegacyImage(f, []byte("layer"))
	f.Add(tarData(f, img.entries(f, "app:v1")))
	f.Add(compress(f, tarData(f, img.entries(f, "app:v1")), layer.Gzip))
	f.Add(tarData(f, []entry{{name: "../x", data: []byte("x")}}))
	f.Add(tarData(f, []entry{{name: "a/layer.tar", typeflag: tar.TypeSymlink, linkname: "../../etc/passwd"}, {name: "manifest.json", data: []byte(`[{"Config":"c.json","Layers":["a/layer.tar"]}]`)}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		root := t.TempDir()
		file := filepath.Join(root, "in.tar")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(root, "tmp")
		if err := os.Mkdir(tmp, 0o755); err != nil {
			t.Fatal(err)
		}
		a, err := dockerarchive.Open(context.Background(), file, dockerarchive.WithTempDir(tmp), dockerarchive.WithMaxBlobSize(1<<20))
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) && !errors.Is(err, errdefs.ErrUnsupported) && !errors.Is(err, errdefs.ErrDigestMismatch) && !errors.Is(err, errdefs.ErrNotFound) {
				t.Fatalf("Open: error of no kind: %v", err)
			}
		} else if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Fatalf("left in the temporary directory: %v", left)
		}
		if all, _ := os.ReadDir(root); len(all) != 2 {
			t.Fatalf("written beside the archive: %v", all)
		}
	})
}
