package distribution

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/layout"
	"github.com/ocikit/ocikit/registry/server"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestPushFromFileProgress: a push of a layout blob larger than the
// monolithic limit (sent from its file) still reports its bytes as they
// are read (WithProgressBytes) up to the whole blob, and lands intact: a
// pull back verifies every digest.
func TestPushFromFileProgress(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "src")
	l, err := layout.Init(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 3<<20)
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	big, err := l.PutBlob(ctx, bytes.NewReader(data), v1.Descriptor{MediaType: v1.MediaTypeImageLayerGzip})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := content.PutJSON(ctx, l, v1.MediaTypeImageConfig, v1.Image{Platform: v1.Platform{OS: "linux", Architecture: "amd64"}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := content.PutJSON(ctx, l, v1.MediaTypeImageManifest, v1.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageManifest, Config: cfg, Layers: []v1.Descriptor{big}})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Tag(ctx, "v1", m); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	ref := "docker://" + strings.TrimPrefix(hs.URL, "http://") + "/file/img:v1"
	var mu sync.Mutex
	var last int64
	progress := func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		if e.Phase == PhaseProgress && e.Descriptor.Digest == big.Digest && e.Bytes > last {
			last = e.Bytes
		}
	}
	if _, err := CopyReference(ctx, "oci:"+dir+":v1", ref, WithProgressBytes(progress)); err != nil {
		t.Fatal(err)
	}
	if last != big.Size {
		t.Errorf("progress of the layer reached %d bytes, want %d", last, big.Size)
	}
	back := filepath.Join(t.TempDir(), "back")
	if _, err := CopyReference(ctx, ref, "oci:"+back+":v1"); err != nil {
		t.Fatal(err)
	}
	lb, err := layout.Open(ctx, back)
	if err != nil {
		t.Fatal(err)
	}
	got, err := lb.ReadBlob(ctx, v1.Descriptor{Digest: big.Digest, Size: big.Size})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Error("the layer pulled back differs")
	}
}
