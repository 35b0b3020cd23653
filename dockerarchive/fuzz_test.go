package dockerarchive_test

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/ocikit/ocikit/dockerarchive"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/internal/testutil"
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
	f.Add(testutil.TarData(f, img.entries(f, "app:v1")))
	f.Add(compress(f, testutil.TarData(f, img.entries(f, "app:v1")), layer.Gzip))
	f.Add(testutil.TarData(f, []entry{{Name: "../x", Data: []byte("x")}}))
	f.Add(testutil.TarData(f, []entry{{Name: "a/layer.tar", Typeflag: tar.TypeSymlink, Linkname: "../../etc/passwd"}, {Name: "manifest.json", Data: []byte(`[{"Config":"c.json","Layers":["a/layer.tar"]}]`)}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		testutil.CheckArchiveOpen(t, data, func(file, tmp string) (io.Closer, error) {
			return dockerarchive.Open(context.Background(), file, dockerarchive.WithTempDir(tmp), dockerarchive.WithMaxBlobSize(1<<20))
		}, errdefs.ErrInvalid, errdefs.ErrUnsupported, errdefs.ErrDigestMismatch, errdefs.ErrNotFound)
	})
}
