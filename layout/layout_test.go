package layout

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func newLayout(t *testing.T) *Layout {
	t.Helper()
	l, err := Init(context.Background(), filepath.Join(t.TempDir(), "oci"))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestInitOpen(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "oci")
	if _, err := Init(ctx, dir); err != nil {
		t.Fatal(err)
	}
	marker, err := os.ReadFile(filepath.Join(dir, "oci-layout"))
	if err != nil || string(marker) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Fatalf("oci-layout = %q, %v", marker, err)
	}
	if st, err := os.Stat(filepath.Join(dir, "blobs")); err != nil || !st.IsDir() {
		t.Fatalf("blobs: %v", err)
	}
	if _, err := Init(ctx, dir); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Init: %v, want ErrExist", err)
	}
	l, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if l.Dir() != dir {
		t.Fatalf("Dir() = %q", l.Dir())
	}
	idx, err := l.Index(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if idx.SchemaVersion != 2 || idx.MediaType != v1.MediaTypeImageIndex || len(idx.Manifests) != 0 {
		t.Fatalf("index = %+v", idx)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	if !bytes.Contains(raw, []byte(`"manifests": []`)) {
		t.Fatalf("index.json lacks an empty manifests array: %s", raw)
	}
}

func TestPutOpenBlob(t *testing.T) {
	ctx := context.Background()
	l := newLayout(t)
	content := []byte("hello, layout\n")
	tests := []struct {
		name    string
		expect  v1.Descriptor
		wantErr error
	}{
		{"no expectation", v1.Descriptor{MediaType: "text/plain"}, nil},
		{"sha256", v1.Descriptor{MediaType: "text/plain", Digest: digest.SHA256.FromBytes(content), Size: int64(len(content))}, nil},
		{"sha512", v1.Descriptor{Digest: digest.SHA512.FromBytes(content)}, nil},
		{"wrong digest", v1.Descriptor{Digest: digest.FromString("other")}, ErrDigestMismatch},
		{"short size", v1.Descriptor{Size: 3}, ErrSizeMismatch},
		{"long size", v1.Descriptor{Size: 300}, ErrSizeMismatch},
		{"md5", v1.Descriptor{Digest: "md5:d41d8cd98f00b204e9800998ecf8427e"}, ErrUnsupportedDigest},
		{"sha384", v1.Descriptor{Digest: digest.SHA384.FromBytes(content)}, ErrUnsupportedDigest},
		{"bad hex", v1.Descriptor{Digest: "sha256:XYZ"}, ErrInvalidDigest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			desc, err := l.PutBlob(ctx, bytes.NewReader(content), tt.expect)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if desc.MediaType != tt.expect.MediaType || desc.Size != int64(len(content)) {
				t.Fatalf("desc = %+v", desc)
			}
			alg := digest.SHA256
			if tt.expect.Digest != "" {
				alg = tt.expect.Digest.Algorithm()
			}
			if desc.Digest != alg.FromBytes(content) {
				t.Fatalf("digest = %s", desc.Digest)
			}
			got, err := l.ReadBlob(ctx, desc)
			if err != nil || !bytes.Equal(got, content) {
				t.Fatalf("ReadBlob = %q, %v", got, err)
			}
			if n, err := l.StatBlob(ctx, desc.Digest); err != nil || n != desc.Size {
				t.Fatalf("StatBlob = %d, %v", n, err)
			}
		})
	}
	// No failed write leaves anything behind.
	entries, _ := os.ReadDir(filepath.Join(l.Dir(), "blobs"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
	blobs, err := l.Blobs(ctx)
	if err != nil || len(blobs) != 2 {
		t.Fatalf("Blobs = %v, %v", blobs, err)
	}
}
