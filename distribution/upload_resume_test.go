package distribution

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ocikit/ocikit/layout"
	"github.com/ocikit/ocikit/registry"
	"github.com/ocikit/ocikit/registry/server"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// uploadCutter passes requests to a registry, but the second PATCH of the
// push reaches it with its body cut after at bytes, and the client's
// connection is closed without an answer (a network failure mid-chunk).
type uploadCutter struct {
	h       http.Handler
	at      int64
	mu      sync.Mutex
	patches []string // Content-Range of each PATCH
}

func (c *uploadCutter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPatch {
		c.h.ServeHTTP(w, r)
		return
	}
	c.mu.Lock()
	c.patches = append(c.patches, r.Header.Get("Content-Range"))
	cut := len(c.patches) == 2
	c.mu.Unlock()
	if !cut {
		c.h.ServeHTTP(w, r)
		return
	}
	r.Body = io.NopCloser(io.MultiReader(io.LimitReader(r.Body, c.at), errReader{io.ErrUnexpectedEOF}))
	c.h.ServeHTTP(httptest.NewRecorder(), r)
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		conn.Close()
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// randomLayerLayout makes a layout at dir whose tag v1 is an image
// (manifest) of one 3 MiB layer of random bytes (data, seeded), for this
// host's platform.
// newRegistry serves an empty `image serve` registry root (closed when
// the test ends), for tests to wrap in their own HTTP handlers.
func newRegistry(t *testing.T) *server.Server {
	t.Helper()
	srv, err := server.New(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func randomLayerLayout(t *testing.T, dir string, seed uint64) (data []byte, layer, manifest v1.Descriptor) {
	t.Helper()
	ctx := context.Background()
	l, err := layout.Init(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	data = make([]byte, 3<<20)
	rng := rand.New(rand.NewPCG(seed, seed+1))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	lay, err := l.PutBlob(ctx, bytes.NewReader(data), v1.Descriptor{MediaType: v1.MediaTypeImageLayer})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := l.PutJSON(ctx, v1.MediaTypeImageConfig, v1.Image{Platform: host, RootFS: v1.RootFS{Type: "layers", DiffIDs: []digest.Digest{lay.Digest}}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := l.PutJSON(ctx, v1.MediaTypeImageManifest, v1.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageManifest, Config: cfg, Layers: []v1.Descriptor{lay}})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Tag(ctx, "v1", m); err != nil {
		t.Fatal(err)
	}
	return data, lay, m
}

// TestPushResume: a push from a layout whose layer upload breaks in the
// middle of a chunk continues (--retry-times) from the offset the
// registry's session reports, reading the layout's blob from there, and
// lands the image with its digests.
func TestPushResume(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "src")
	_, _, m := randomLayerLayout(t, dir, 5)
	srv := newRegistry(t)
	c := &uploadCutter{h: srv, at: 300_000}
	hs := httptest.NewServer(c)
	defer hs.Close()
	addr := strings.TrimPrefix(hs.URL, "http://")
	rep, err := CopyReference(ctx, "oci:"+dir+":v1", "docker://"+addr+"/push/resume:v1",
		WithDestinationRegistry(registry.WithRetries(2), registry.WithChunkSize(1<<20)))
	if err != nil {
		t.Fatalf("push with a cut chunk: %v", err)
	}
	if rep.Descriptor.Digest != m.Digest {
		t.Fatalf("pushed %s, want %s", rep.Descriptor.Digest, m.Digest)
	}
	c.mu.Lock()
	got := fmt.Sprint(c.patches)
	c.mu.Unlock()
	const mib = 1 << 20
	want := fmt.Sprint([]string{
		fmt.Sprintf("0-%d", mib-1), fmt.Sprintf("%d-%d", mib, 2*mib-1),
		fmt.Sprintf("%d-%d", mib+300_000, 2*mib+300_000-1), fmt.Sprintf("%d-%d", 2*mib+300_000, 3*mib-1),
	})
	if got != want {
		t.Fatalf("PATCH ranges %s, want %s (resumed where the registry stood)", got, want)
	}
	// The registry has the image: pull it back, verified.
	back := filepath.Join(t.TempDir(), "back")
	if rep, err := CopyReference(ctx, "docker://"+addr+"/push/resume:v1", "oci:"+back+":v1"); err != nil || rep.Descriptor.Digest != m.Digest {
		t.Fatalf("pull after the resumed push: %v, %v", rep, err)
	}
}
