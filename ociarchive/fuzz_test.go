package ociarchive_test

import (
	"archive/tar"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/ociarchive"
)

// FuzzOpen feeds arbitrary bytes to Open as an archive: it must fail with
// an error of a kind or succeed, never write outside its temporary
// directory, and leave nothing behind after an error or Close.
func FuzzOpen(f *testing.F) {
	for _, es := range [][]entry{
		{{name: "oci-layout", data: []byte(`{"imageLayoutVersion":"1.0.0"}`)}, {name: "index.json", data: []byte(`{"schemaVersion":2,"manifests":[]}`)}},
		{{name: "../x", data: []byte("x")}},
		{{name: "blobs/sha256/x", typeflag: tar.TypeSymlink, linkname: "/etc/passwd"}},
	} {
		f.Add(tarData(f, es))
	}
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
		a, err := ociarchive.Open(context.Background(), file, ociarchive.WithTempDir(tmp), ociarchive.WithMaxBlobSize(1<<20))
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) && !errors.Is(err, errdefs.ErrUnsupported) && !errors.Is(err, errdefs.ErrDigestMismatch) {
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
