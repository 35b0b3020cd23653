package layer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/layout"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

var allLayerTypes = []string{
	v1.MediaTypeImageLayer,
	v1.MediaTypeImageLayerGzip,
	v1.MediaTypeImageLayerZstd,
	v1.MediaTypeImageLayerNonDistributable,     //nolint:staticcheck // deprecated, still read
	v1.MediaTypeImageLayerNonDistributableGzip, //nolint:staticcheck
	v1.MediaTypeImageLayerNonDistributableZstd, //nolint:staticcheck
	MediaTypeDockerLayer,
	MediaTypeDockerLayerGzip,
}

func TestUnpackMediaTypes(t *testing.T) {
	for _, mt := range allLayerTypes {
		t.Run(mt, func(t *testing.T) {
			img := newTestImage(t, mt,
				mkTar(t, tDir("etc/"), tFile("etc/hostname", "one"), tFile("etc/gone", "x")),
				mkTar(t, tFile("etc/hostname", "two"), tFile("etc/.wh.gone", "")),
			)
			rootfs := filepath.Join(t.TempDir(), "rootfs")
			if err := img.unpack(t, rootfs); err != nil {
				t.Fatalf("Unpack: %v", err)
			}
			if got := readFile(t, filepath.Join(rootfs, "etc/hostname")); got != "two" {
				t.Errorf("etc/hostname = %q", got)
			}
			mustNotExist(t, filepath.Join(rootfs, "etc/gone"))
			st, err := os.Stat(rootfs)
			if err != nil || st.Mode().Perm() != 0o755 {
				t.Errorf("rootfs mode %v (%v), want 0755", st.Mode(), err)
			}
		})
	}
}

func TestUnpackIntoEmptyDir(t *testing.T) {
	rootfs := t.TempDir()
	img := newTestImage(t, v1.MediaTypeImageLayerGzip, mkTar(t, tFile("a", "b")))
	if err := img.unpack(t, rootfs); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(rootfs, "a")); got != "b" {
		t.Errorf("a = %q", got)
	}
	if err := img.unpack(t, rootfs); !errors.Is(err, ErrRootfsNotEmpty) {
		t.Errorf("second unpack: err = %v, want ErrRootfsNotEmpty", err)
	}
}

// TestUnpackFailures: every failure is one line naming the layer and the
// problem, and leaves the target as it was (absent or empty), with no
// temporary directory left behind.
func TestUnpackFailures(t *testing.T) {
	good := mkTar(t, tDir("d/"), tFile("d/f", strings.Repeat("content ", 1000)))
	tests := []struct {
		name   string
		build  func(t *testing.T) *testImage
		want   error
		substr string
	}{
		{
			name: "corrupt gzip",
			build: func(t *testing.T) *testImage {
				img := newTestImage(t, v1.MediaTypeImageLayerGzip, good)
				corrupt(img, 0, func(b []byte) { b[len(b)/2] ^= 0xff })
				return img
			},
			want:   ErrDigestMismatch,
			substr: "gzip",
		},
		{
			name: "gzip bad header",
			build: func(t *testing.T) *testImage {
				img := newTestImage(t, v1.MediaTypeImageLayerGzip, good)
				corrupt(img, 0, func(b []byte) { b[0] = 0 })
				return img
			},
			want:   ErrDigestMismatch,
			substr: "gzip",
		},
		{
			name: "corrupt zstd",
			build: func(t *testing.T) *testImage {
				img := newTestImage(t, v1.MediaTypeImageLayerZstd, good)
				corrupt(img, 0, func(b []byte) { b[len(b)/2] ^= 0xff; b[len(b)-3] ^= 0xff })
				return img
			},
			want:   ErrDigestMismatch,
			substr: "zstd",
		},
		{
			// A gzip stream with a wrong checksum but a blob matching its
			// descriptor (the image was built from it): the gzip error.
			name: "gzip checksum",
			build: func(t *testing.T) *testImage {
				img := newTestImage(t, v1.MediaTypeImageLayerGzip, good)
				d := img.manifest.Layers[0].Digest
				b := bytes.Clone(img.blobs.blobs[d])
				b[len(b)-8] ^= 0xff // CRC-32 of the gzip trailer
				delete(img.blobs.blobs, d)
				nd := digest.FromBytes(b)
				img.blobs.blobs[nd] = b
				img.manifest.Layers[0].Digest = nd
				return img
			},
			substr: "gzip",
		},
		{
			name: "truncated tar",
			build: func(t *testing.T) *testImage {
				return newTestImage(t, v1.MediaTypeImageLayerGzip, good[:3000])
			},
			substr: "unexpected EOF",
		},
		{
			name: "not a tar",
			build: func(t *testing.T) *testImage {
				return newTestImage(t, v1.MediaTypeImageLayerGzip, bytes.Repeat([]byte("hello world "), 200))
			},
			substr: "invalid tar header",
		},
		{
			name: "diff_id mismatch",
			build: func(t *testing.T) *testImage {
				img := newTestImage(t, v1.MediaTypeImageLayerGzip, good)
				img.config.RootFS.DiffIDs[0] = digest.FromString("other")
				return img
			},
			want: ErrDiffIDMismatch,
		},
		{
			name: "blob digest mismatch",
			build: func(t *testing.T) *testImage {
				img := newTestImage(t, v1.MediaTypeImageLayer, good)
				// Same length, other content, diff_id made to match so
				// only the blob digest can catch it.
				other := mkTar(t, tDir("d/"), tFile("d/f", strings.Repeat("CONTENT ", 1000)))
				img.blobs.blobs[img.manifest.Layers[0].Digest] = other
				img.config.RootFS.DiffIDs[0] = digest.FromBytes(other)
				return img
			},
			want: ErrDigestMismatch,
		},
		{
			name: "size mismatch",
			build: func(t *testing.T) *testImage {
				img := newTestImage(t, v1.MediaTypeImageLayer, good)
				img.manifest.Layers[0].Size++
				return img
			},
			want: ErrSizeMismatch,
		},
		{
			name: "unsupported media type",
			build: func(t *testing.T) *testImage {
				img := newTestImage(t, v1.MediaTypeImageLayer, good)
				img.manifest.Layers[0].MediaType = "application/vnd.oci.image.layer.v1.tar+bzip2"
				return img
			},
			want: ErrUnsupportedMediaType,
		},
		{
			name: "second layer fails",
			build: func(t *testing.T) *testImage {
				img := newTestImage(t, v1.MediaTypeImageLayerGzip, good, good)
				img.config.RootFS.DiffIDs[1] = digest.FromString("other")
				return img
			},
			want: ErrDiffIDMismatch,
		},
		{
			name: "diff_ids count",
			build: func(t *testing.T) *testImage {
				img := newTestImage(t, v1.MediaTypeImageLayerGzip, good)
				img.config.RootFS.DiffIDs = nil
				return img
			},
			want: ErrInvalidRootFS,
		},
		{
			name: "rootfs type",
			build: func(t *testing.T) *testImage {
				img := newTestImage(t, v1.MediaTypeImageLayerGzip, good)
				img.config.RootFS.Type = "snapshot"
				return img
			},
			want: ErrInvalidRootFS,
		},
		{
			name: "unsafe entry",
			build: func(t *testing.T) *testImage {
				return newTestImage(t, v1.MediaTypeImageLayerGzip, good, mkTar(t, tFile("../../x", "x")))
			},
			want: ErrUnsafePath,
		},
	}
	for _, tc := range tests {
		for _, existing := range []bool{false, true} {
			name := tc.name
			if existing {
				name += "/into empty dir"
			}
			t.Run(name, func(t *testing.T) {
				img := tc.build(t)
				parent := t.TempDir()
				rootfs := filepath.Join(parent, "rootfs")
				if existing {
					if err := os.Mkdir(rootfs, 0o711); err != nil {
						t.Fatal(err)
					}
				}
				before := snapshot(t, parent)
				err := img.unpack(t, rootfs)
				if err == nil {
					t.Fatal("Unpack succeeded")
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error is not one line: %q", err)
				}
				if tc.want != nil && !errors.Is(err, tc.want) {
					t.Errorf("err = %v, want %v", err, tc.want)
				}
				if tc.substr != "" && !strings.Contains(err.Error(), tc.substr) {
					t.Errorf("err = %v, want it to mention %q", err, tc.substr)
				}
				if tc.want != ErrInvalidRootFS && !strings.Contains(err.Error(), "sha256:") {
					t.Errorf("err = %v, want it to name the layer digest", err)
				}
				after := snapshot(t, parent)
				// The parent's own mtime moves: the temporary sibling came
				// and went. Everything in it must be as it was.
				delete(before, ".")
				delete(after, ".")
				assertSameSnapshot(t, "target and its parent", before, after)
			})
		}
	}
}

func corrupt(img *testImage, i int, fn func([]byte)) {
	d := img.manifest.Layers[i].Digest
	b := bytes.Clone(img.blobs.blobs[d])
	fn(b)
	img.blobs.blobs[d] = b
}

// TestUnpackInvalidDigest covers containers/image CVE-2024-3727: a digest
// that is not a valid digest must be refused before anything uses it (as a
// blob path, say), with no blob opened and nothing created.
func TestUnpackInvalidDigest(t *testing.T) {
	bad := []digest.Digest{
		"sha256:../../../../etc/passwd",
		digest.Digest("sha256:" + strings.Repeat("a", 63) + "/"),
		"../x",
		"sha256:",
		"md5:d41d8cd98f00b204e9800998ecf8427e",
		"",
	}
	for _, d := range bad {
		t.Run(string(d), func(t *testing.T) {
			for _, field := range []string{"layer", "diff_id"} {
				img := newTestImage(t, v1.MediaTypeImageLayer, mkTar(t, tFile("a", "b")))
				if field == "layer" {
					img.manifest.Layers[0].Digest = d
				} else {
					img.config.RootFS.DiffIDs[0] = d
				}
				parent := t.TempDir()
				err := img.unpack(t, filepath.Join(parent, "rootfs"))
				if !errors.Is(err, ErrInvalidDigest) {
					t.Errorf("%s digest %q: err = %v, want ErrInvalidDigest", field, d, err)
				}
				if len(img.blobs.opened) != 0 {
					t.Errorf("%s digest %q: blobs opened %v before validation", field, d, img.blobs.opened)
				}
				if entries, _ := os.ReadDir(parent); len(entries) != 0 {
					t.Errorf("%s digest %q: created %v", field, d, entries)
				}
			}
		})
	}
}

// TestUnpackFromLayout unpacks from a real image layout store, through
// *layout.Layout as the BlobOpener.
func TestUnpackFromLayout(t *testing.T) {
	ctx := context.Background()
	l, err := layout.Init(ctx, filepath.Join(t.TempDir(), "layout"))
	if err != nil {
		t.Fatal(err)
	}
	tb := mkTar(t, tDir("usr/"), tFile("usr/f", "from layout"))
	blob := gzipBytes(t, tb)
	desc, err := l.PutBlob(ctx, bytes.NewReader(blob), v1.Descriptor{MediaType: v1.MediaTypeImageLayerGzip})
	if err != nil {
		t.Fatal(err)
	}
	desc.MediaType = v1.MediaTypeImageLayerGzip
	m := v1.Manifest{Layers: []v1.Descriptor{desc}}
	var cfg v1.Image
	cfg.RootFS = v1.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromBytes(tb)}}
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	if err := Unpack(ctx, l, m, cfg, rootfs); err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	if got := readFile(t, filepath.Join(rootfs, "usr/f")); got != "from layout" {
		t.Errorf("usr/f = %q", got)
	}
}
