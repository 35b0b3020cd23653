package mutate

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzTarLayer feeds arbitrary files to TarLayer: no panic, and whatever it
// accepts as an uncompressed tar it copies byte for byte.
func FuzzTarLayer(f *testing.F) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "a", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
	tw.Write([]byte("x"))
	tw.WriteHeader(&tar.Header{Name: "d/", Mode: 0o755, Typeflag: tar.TypeDir, PAXRecords: map[string]string{"SCHILY.xattr.user.k": "v"}})
	tw.Close()
	f.Add(buf.Bytes())
	f.Add([]byte{})
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "in.tar")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		// A few bytes of gzip or zstd can stand for gigabytes: the output
		// is capped (a write past 4 MiB fails, which stops TarLayer), so
		// that each run stays quick and the engine keeps fuzzing.
		var out bytes.Buffer
		err := TarLayer(p)(context.Background(), &capWriter{w: &out, left: 4 << 20})
		if err != nil || compressedMediaType(data) != "" {
			return
		}
		if !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("accepted tar not copied as is: %d bytes in, %d out", len(data), out.Len())
		}
	})
}

// capWriter fails once more than left bytes would be written.
type capWriter struct {
	w    io.Writer
	left int
}

func (c *capWriter) Write(p []byte) (int, error) {
	if len(p) > c.left {
		return 0, errors.New("fuzz: output cap reached")
	}
	c.left -= len(p)
	return c.w.Write(p)
}
