package mutate

import (
	"archive/tar"
	"bytes"
	"context"
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
		var out bytes.Buffer
		err := TarLayer(p)(context.Background(), &out)
		if err != nil || compressedMediaType(data) != "" {
			return
		}
		if !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("accepted tar not copied as is: %d bytes in, %d out", len(data), out.Len())
		}
	})
}
