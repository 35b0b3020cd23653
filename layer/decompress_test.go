package layer

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestDecompress(t *testing.T) {
	payload := []byte(strings.Repeat("layer data ", 10000))
	tests := []struct {
		mediaType string
		blob      []byte
	}{
		{v1.MediaTypeImageLayer, payload},
		{v1.MediaTypeImageLayerGzip, gzipBytes(t, payload)},
		{v1.MediaTypeImageLayerZstd, zstdBytes(t, payload)},
		{v1.MediaTypeImageLayerNonDistributable, payload},                   //nolint:staticcheck
		{v1.MediaTypeImageLayerNonDistributableGzip, gzipBytes(t, payload)}, //nolint:staticcheck
		{v1.MediaTypeImageLayerNonDistributableZstd, zstdBytes(t, payload)}, //nolint:staticcheck
		{MediaTypeDockerLayer, payload},
		{MediaTypeDockerLayerGzip, gzipBytes(t, payload)},
	}
	for _, tc := range tests {
		t.Run(tc.mediaType, func(t *testing.T) {
			rc, err := Decompress(tc.mediaType, bytes.NewReader(tc.blob))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			if err := rc.Close(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, payload) {
				t.Errorf("got %d bytes, want %d", len(got), len(payload))
			}
		})
	}
}

func TestDecompressErrors(t *testing.T) {
	for _, mt := range []string{"", "application/vnd.oci.image.layer.v1.tar+bzip2", "application/octet-stream", v1.MediaTypeImageManifest} {
		if _, err := Decompress(mt, strings.NewReader("x")); !errors.Is(err, ErrUnsupportedMediaType) {
			t.Errorf("Decompress(%q) err = %v, want ErrUnsupportedMediaType", mt, err)
		}
	}
	if _, err := Decompress(v1.MediaTypeImageLayerGzip, strings.NewReader("not gzip at all")); err == nil || !strings.Contains(err.Error(), "gzip") {
		t.Errorf("bad gzip header: err = %v", err)
	}
	rc, err := Decompress(v1.MediaTypeImageLayerZstd, strings.NewReader("not zstd at all"))
	if err == nil {
		_, err = io.ReadAll(rc)
		rc.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "zstd") {
		t.Errorf("bad zstd: err = %v", err)
	}
}

// TestHashPipe: the pipeline hands on exactly what it hashed.
func TestHashPipe(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), (3<<20)/16+7)
	h := newTestHash()
	p := newHashPipe(bytes.NewReader(data), h)
	var out bytes.Buffer
	if _, err := io.Copy(&out, p); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("pipe output differs (%d vs %d bytes)", out.Len(), len(data))
	}
	want := newTestHash()
	want.Write(data)
	if !bytes.Equal(h.Sum(nil), want.Sum(nil)) {
		t.Error("hash differs from the data's")
	}
	// Closing early must not hang.
	p = newHashPipe(bytes.NewReader(data), newTestHash())
	buf := make([]byte, 10)
	if _, err := p.Read(buf); err != nil {
		t.Fatal(err)
	}
	p.Close()
}
