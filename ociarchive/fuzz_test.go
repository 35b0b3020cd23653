package ociarchive_test

import (
	"archive/tar"
	"context"
	"io"
	"testing"

	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/internal/testutil"
	"github.com/ocikit/ocikit/ociarchive"
)

// FuzzOpen feeds arbitrary bytes to Open as an archive: it must fail with
// an error of a kind or succeed, never write outside its temporary
// directory, and leave nothing behind after an error or Close.
func FuzzOpen(f *testing.F) {
	for _, es := range [][]entry{
		{{Name: "oci-layout", Data: []byte(`{"imageLayoutVersion":"1.0.0"}`)}, {Name: "index.json", Data: []byte(`{"schemaVersion":2,"manifests":[]}`)}},
		{{Name: "../x", Data: []byte("x")}},
		{{Name: "blobs/sha256/x", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}},
	} {
		f.Add(testutil.TarData(f, es))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		testutil.CheckArchiveOpen(t, data, func(file, tmp string) (io.Closer, error) {
			return ociarchive.Open(context.Background(), file, ociarchive.WithTempDir(tmp), ociarchive.WithMaxBlobSize(1<<20))
		}, errdefs.ErrInvalid, errdefs.ErrUnsupported, errdefs.ErrDigestMismatch)
	})
}
