package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// ent describes one tar entry for tests and for the hostile corpus.
type ent struct {
	name   string
	typ    byte
	body   string
	link   string
	mode   int64
	uid    int
	gid    int
	mtime  time.Time
	xattrs map[string]string
	major  int64
	minor  int64
}

// zeroMode asks mkTar for mode 0 (0 itself means "the usual default").
const zeroMode = 0o10000

var testTime = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

func tFile(name, body string) ent  { return ent{name: name, typ: tar.TypeReg, body: body} }
func tDir(name string) ent         { return ent{name: name, typ: tar.TypeDir} }
func tSymlink(name, to string) ent { return ent{name: name, typ: tar.TypeSymlink, link: to} }
func tHardlink(name, to string) ent {
	return ent{name: name, typ: tar.TypeLink, link: to}
}

func (e ent) withMode(m int64) ent       { e.mode = m; return e }
func (e ent) withOwner(uid, gid int) ent { e.uid, e.gid = uid, gid; return e }
func (e ent) withMtime(t time.Time) ent  { e.mtime = t; return e }
func (e ent) withXattr(k, v string) ent {
	m := map[string]string{}
	for a, b := range e.xattrs {
		m[a] = b
	}
	m[k] = v
	e.xattrs = m
	return e
}

// mkTar writes the entries as a PAX tar, in the given order.
func mkTar(t testing.TB, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		hdr := &tar.Header{
			Name:     e.name,
			Typeflag: e.typ,
			Linkname: e.link,
			Mode:     e.mode,
			Uid:      e.uid,
			Gid:      e.gid,
			ModTime:  e.mtime,
			Devmajor: e.major,
			Devminor: e.minor,
			Format:   tar.FormatPAX,
		}
		if hdr.ModTime.IsZero() {
			hdr.ModTime = testTime
		}
		if hdr.Mode == zeroMode {
			hdr.Mode = 0
		} else if hdr.Mode == 0 {
			switch e.typ {
			case tar.TypeDir:
				hdr.Mode = 0o755
			case tar.TypeSymlink:
				hdr.Mode = 0o777
			default:
				hdr.Mode = 0o644
			}
		}
		if e.typ == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		if len(e.xattrs) > 0 {
			hdr.PAXRecords = map[string]string{}
			for k, v := range e.xattrs {
				hdr.PAXRecords[paxSchilyXattr+k] = v
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("tar header %s: %v", e.name, err)
		}
		if e.typ == tar.TypeReg {
			if _, err := io.WriteString(tw, e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := pgzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstdBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// memBlobs is an in-memory BlobOpener that does not verify anything, so
// that Unpack's own verification is what is tested.
type memBlobs struct {
	blobs  map[digest.Digest][]byte
	opened []digest.Digest
}

func (m *memBlobs) OpenBlob(_ context.Context, desc v1.Descriptor) (io.ReadCloser, error) {
	m.opened = append(m.opened, desc.Digest)
	b, ok := m.blobs[desc.Digest]
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", desc.Digest, fs.ErrNotExist)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// testImage is an image assembled in memory from layer tars.
type testImage struct {
	blobs    *memBlobs
	manifest v1.Manifest
	config   v1.Image
}

// newTestImage stores each tar compressed per mediaType.
func newTestImage(t testing.TB, mediaType string, tars ...[]byte) *testImage {
	t.Helper()
	img := &testImage{blobs: &memBlobs{blobs: map[digest.Digest][]byte{}}}
	img.config.RootFS.Type = "layers"
	for _, tb := range tars {
		img.add(t, mediaType, tb)
	}
	return img
}

func (img *testImage) add(t testing.TB, mediaType string, tb []byte) {
	t.Helper()
	blob := tb
	switch {
	case strings.HasSuffix(mediaType, "gzip"):
		blob = gzipBytes(t, tb)
	case strings.HasSuffix(mediaType, "zstd"):
		blob = zstdBytes(t, tb)
	}
	d := digest.FromBytes(blob)
	img.blobs.blobs[d] = blob
	img.manifest.Layers = append(img.manifest.Layers, v1.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(blob))})
	img.config.RootFS.DiffIDs = append(img.config.RootFS.DiffIDs, digest.FromBytes(tb))
}

func (img *testImage) unpack(t testing.TB, rootfs string, opts ...Option) error {
	t.Helper()
	return Unpack(context.Background(), img.blobs, img.manifest, img.config, rootfs, opts...)
}

func contentHash(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:8])
}

func readFile(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustNotExist(t testing.TB, p string) {
	t.Helper()
	if _, err := os.Lstat(p); !os.IsNotExist(err) {
		t.Errorf("%s exists (err=%v), want it gone", p, err)
	}
}

func newTestHash() hash.Hash { return sha256.New() }
