package distribution

import (
	"bytes"
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ocikit/ocikit/layout"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestPushFromFileProgress: a push of a layout blob larger than the
// monolithic limit (sent from its file) still reports its bytes as they
// are read (WithProgressBytes) up to the whole blob, and lands intact: a
// pull back verifies every digest.
func TestPushFromFileProgress(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "src")
	data, big, _ := randomLayerLayout(t, dir, 7)
	srv := newRegistry(t)
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
