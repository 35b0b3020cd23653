package distribution

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ocikit/ocikit/layout"
	"github.com/ocikit/ocikit/platform"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// cutter passes requests to a registry, but the first GET of one blob is
// cut after half its bytes (the connection dropped), and it records the
// Range headers that blob is asked with.
type cutter struct {
	h      http.Handler
	path   string
	half   int
	mu     sync.Mutex
	cut    bool
	ranges []string
}

func (c *cutter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || r.URL.Path != c.path {
		c.h.ServeHTTP(w, r)
		return
	}
	c.mu.Lock()
	c.ranges = append(c.ranges, r.Header.Get("Range"))
	cut := !c.cut
	c.cut = true
	c.mu.Unlock()
	if cut {
		w = &cutWriter{ResponseWriter: w, left: c.half}
	}
	c.h.ServeHTTP(w, r)
}

type cutWriter struct {
	http.ResponseWriter
	left int
}

func (w *cutWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		w.ResponseWriter.Write(p[:w.left])
		w.ResponseWriter.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drop the connection mid-body
	}
	w.left -= len(p)
	return w.ResponseWriter.Write(p)
}

// partials lists the partial downloads in the layout dir.
func partials(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	entries, _ := os.ReadDir(filepath.Join(dir, "blobs"))
	for _, e := range entries {
		if strings.Contains(e.Name(), "partial-") {
			fi, _ := e.Info()
			out[e.Name()] = fi.Size()
		}
	}
	return out
}

// TestCopyResume: a pull whose layer download is cut leaves the bytes it
// got in a partial file (no blob under the digest, no tag); the next copy
// into the same layout asks only for the rest (Range: bytes=N-) and
// stores the verified blob; GC removes a partial nobody continues.
func TestCopyResume(t *testing.T) {
	ctx := context.Background()
	ti := newGzipImage(t)
	srv := newRegistry(t)
	src, err := layout.Open(ctx, ti.dir)
	if err != nil {
		t.Fatal(err)
	}
	// A layer big enough to cut in the middle of.
	m, err := src.Resolve(ctx, "single")
	if err != nil {
		t.Fatal(err)
	}
	layer := m.Manifest.Layers[0]
	c := &cutter{h: srv, path: "/v2/res/img/blobs/" + string(layer.Digest), half: int(layer.Size / 2)}
	hs := httptest.NewServer(c)
	defer hs.Close()
	repo := "docker://" + strings.TrimPrefix(hs.URL, "http://") + "/res/img:single"
	if _, err := CopyReference(ctx, "oci:"+ti.dir+":single", repo); err != nil {
		t.Fatal(err)
	}

	for _, gc := range []bool{false, true} {
		c.mu.Lock()
		c.cut, c.ranges = false, nil
		c.mu.Unlock()
		dir := filepath.Join(t.TempDir(), "dst")
		l, err := layout.Init(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := CopyReference(ctx, repo, "oci:"+dir+":t"); err == nil {
			t.Fatal("the cut copy succeeded")
		}
		if _, err := l.StatBlob(ctx, layer.Digest); err == nil {
			t.Fatal("the cut layer is a blob")
		}
		if _, err := l.Lookup(ctx, "t"); err == nil {
			t.Fatal("the cut copy tagged")
		}
		name := ".ocikit-tmp-partial-sha256-" + layer.Digest.Encoded()
		if got := partials(t, dir); got[name] != int64(c.half) {
			t.Fatalf("partials after the cut: %v, want %s of %d bytes", got, name, c.half)
		}
		if gc {
			if _, err := l.GC(ctx); err != nil {
				t.Fatal(err)
			}
			if got := partials(t, dir); len(got) != 0 {
				t.Fatalf("partials after gc: %v", got)
			}
			continue
		}
		rep, err := CopyReference(ctx, repo, "oci:"+dir+":t")
		if err != nil {
			t.Fatalf("the second copy: %v", err)
		}
		if rep.Descriptor.Digest != ti.manifests[platform.Format(host)].Digest {
			t.Fatalf("copied %s", rep.Descriptor.Digest)
		}
		c.mu.Lock()
		ranges := c.ranges
		c.mu.Unlock()
		if want := []string{"", fmt.Sprintf("bytes=%d-", c.half)}; len(ranges) != 2 || ranges[0] != want[0] || ranges[1] != want[1] {
			t.Fatalf("the layer was asked with Range %q, want %q", ranges, want)
		}
		rc, err := l.OpenBlob(ctx, v1.Descriptor{Digest: layer.Digest, Size: layer.Size})
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 512)
		for {
			if _, err := rc.Read(buf); err != nil {
				if err != io.EOF {
					t.Fatalf("the resumed blob: %v", err)
				}
				break
			}
		}
		rc.Close()
		if got := partials(t, dir); len(got) != 0 {
			t.Fatalf("partials after the resumed copy: %v", got)
		}
	}

	// Into a directory the copy makes: the cut copy keeps the new layout
	// only for its partial, and the next one resumes from it.
	c.mu.Lock()
	c.cut, c.ranges = false, nil
	c.mu.Unlock()
	dir := filepath.Join(t.TempDir(), "new")
	if _, err := CopyReference(ctx, repo, "oci:"+dir+":t"); err == nil {
		t.Fatal("the cut copy succeeded")
	}
	if got := partials(t, dir); len(got) != 1 {
		t.Fatalf("new directory after the cut: partials %v, want one", got)
	}
	if _, err := CopyReference(ctx, repo, "oci:"+dir+":t"); err != nil {
		t.Fatalf("the second copy into the new directory: %v", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.ranges) != 2 || c.ranges[1] != fmt.Sprintf("bytes=%d-", c.half) {
		t.Fatalf("new directory: the layer was asked with Range %q", c.ranges)
	}
}
