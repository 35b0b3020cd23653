package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocikit/ocikit/internal/registrytest"
	"github.com/ocikit/ocikit/registry/server"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// cutter is ocikit's registry server behind a connection that breaks: the
// first cuts PATCH requests reach the server with their body cut after
// at bytes (the server keeps what arrived), and the client's connection
// is then closed without an answer, as a network failure mid-upload does.
type cutter struct {
	h    http.Handler
	at   int64
	mu   sync.Mutex
	pass int // PATCH requests let through before the cuts
	cuts int
	// ranges are the Content-Range headers of the PATCH requests, in order.
	ranges []string
}

func (c *cutter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPatch {
		c.h.ServeHTTP(w, r)
		return
	}
	c.mu.Lock()
	c.ranges = append(c.ranges, r.Header.Get("Content-Range"))
	cut := c.pass <= 0 && c.cuts > 0
	if cut {
		c.cuts--
	}
	c.pass--
	c.mu.Unlock()
	if !cut {
		c.h.ServeHTTP(w, r)
		return
	}
	r.Body = io.NopCloser(&cutBody{r: r.Body, n: c.at})
	c.h.ServeHTTP(httptest.NewRecorder(), r) // its answer is lost with the connection
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
	}
}

// cutBody yields n bytes of r, then fails as a broken connection does.
type cutBody struct {
	r io.Reader
	n int64
}

func (c *cutBody) Read(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	k, err := c.r.Read(p)
	c.n -= int64(k)
	return k, err
}

// cutServer is ocikit's registry server at root behind a cutter that lets
// the first PATCH through and cuts the next cuts of them after 50000 bytes;
// the servers close with the test.
func cutServer(t *testing.T, root string, cuts int) (*cutter, string) {
	t.Helper()
	s, err := server.New(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := &cutter{h: s, at: 50_000, pass: 1, cuts: cuts}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return c, strings.TrimPrefix(srv.URL, "http://")
}

// chunkedClient pushes to repo at host in chunks of 100000 bytes, without
// backoff between retries and without the monolithic upload of small
// blobs.
func chunkedClient(t *testing.T, host, repo string, opts ...Option) *Repository {
	t.Helper()
	opts = append([]Option{WithPush(), WithChunkSize(100_000), WithGetenv(func(string) string { return "" })}, opts...)
	r, err := New(host, repo, opts...)
	if err != nil {
		t.Fatal(err)
	}
	r.o.backoff, r.o.monolithic = 0, 0
	return r
}

// randomBlob is n bytes of seeded random data and its descriptor.
func randomBlob(n int, seed uint64) ([]byte, v1.Descriptor) {
	data := make([]byte, n)
	rng := rand.New(rand.NewPCG(seed, seed+1))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	return data, v1.Descriptor{MediaType: v1.MediaTypeImageLayer, Digest: digest.FromBytes(data), Size: int64(n)}
}

// TestUploadResume: an upload whose PATCH breaks mid-chunk continues from
// the offset the registry reports for the session, reading the source
// again from there (not from the start), and commits the right blob;
// without retries it fails and the session is deleted.
func TestUploadResume(t *testing.T) {
	ctx := context.Background()
	data, desc := randomBlob(300_000, 3)
	for _, tt := range []struct {
		name    string
		retries int
		cuts    int
		ok      bool
		ranges  []string // the PATCHes' Content-Ranges
	}{
		{"one cut", 2, 1, true, []string{"0-99999", "100000-199999", "150000-249999", "250000-299999"}},
		{"two cuts", 3, 2, true, []string{"0-99999", "100000-199999", "150000-249999", "200000-299999"}},
		{"no retries", 0, 1, false, []string{"0-99999", "100000-199999"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			// The first chunk goes through; the next cuts break after
			// 50000 bytes (of 100000), which the server keeps.
			c, host := cutServer(t, root, tt.cuts)
			r := chunkedClient(t, host, "up/blob", WithRetries(tt.retries))
			var opened []int64
			open := func(ctx context.Context, off int64) (io.ReadCloser, error) {
				opened = append(opened, off)
				return io.NopCloser(bytes.NewReader(data[off:])), nil
			}
			_, err := r.PutBlobFrom(ctx, desc, open)
			if tt.ok != (err == nil) {
				t.Fatalf("PutBlobFrom: %v, want success %v", err, tt.ok)
			}
			if fmt.Sprint(c.ranges) != fmt.Sprint(tt.ranges) {
				t.Errorf("PATCH ranges %v, want %v", c.ranges, tt.ranges)
			}
			if !tt.ok {
				ents, _ := os.ReadDir(filepath.Join(root, ".uploads"))
				if len(ents) != 0 {
					t.Errorf("%d upload sessions left, want the failed one deleted", len(ents))
				}
				return
			}
			for _, off := range opened {
				if off != 0 && off%50_000 != 0 {
					t.Errorf("source opened at %d, not where the registry stood", off)
				}
			}
			rc, err := r.OpenBlob(ctx, desc)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if got, err := io.ReadAll(rc); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("blob after resume: %d bytes, %v", len(got), err)
			}
		})
	}
}

// TestUploadResumeDockerRegistry: the same against Debian's docker-registry
// behind a proxy that cuts the second PATCH's body on its way there.
// docker-registry keeps the session's offset in the upload URL's _state,
// which the cut PATCH never answered with, and refuses the earlier one
// (404): the blob starts over in a new session and lands all the same.
func TestUploadResumeDockerRegistry(t *testing.T) {
	if testing.Short() {
		t.Skip("starts docker-registry")
	}
	reg := registrytest.Start(t, "", "")
	target, err := url.Parse("http://" + reg.Host)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ErrorLog = log.New(io.Discard, "", 0)
	c := &cutter{h: proxy, at: 50_000, pass: 1, cuts: 1}
	srv := httptest.NewServer(c)
	defer srv.Close()
	ctx := context.Background()
	data, desc := randomBlob(300_000, 7)
	// Retries to spare: the registry may still be writing the cut chunk
	// when the client asks where the session stands.
	r, err := New(strings.TrimPrefix(srv.URL, "http://"), "up/blob", WithPush(), WithRetries(4), WithChunkSize(100_000), WithGetenv(func(string) string { return "" }))
	if err != nil {
		t.Fatal(err)
	}
	r.o.backoff, r.o.monolithic = time.Millisecond, 0
	open := func(ctx context.Context, off int64) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data[off:])), nil
	}
	if _, err := r.PutBlobFrom(ctx, desc, open); err != nil {
		t.Fatalf("PutBlobFrom through the cut: %v (PATCH ranges %v)", err, c.ranges)
	}
	c.mu.Lock()
	ranges := c.ranges
	c.mu.Unlock()
	// Usually a new session from 0; when the registry had written none of
	// the cut chunk yet, the old session goes on from 100000.
	if len(ranges) < 3 || (ranges[2] != "0-99999" && ranges[2] != "100000-199999") {
		t.Errorf("PATCH ranges %v: want the cut chunk, then a new session from 0 (or the old one from 100000)", ranges)
	}
	if n, err := r.StatBlob(ctx, desc.Digest); err != nil || n != desc.Size {
		t.Fatalf("StatBlob after resume: %d, %v", n, err)
	}
}

// TestUploadResumeAcrossCalls: with WithUploadState, an upload that failed
// mid-chunk (no retries left) keeps its session, and the next PutBlobFrom
// of that blob to that repository (a new client, as a new process would
// have) continues it from the offset the registry reports; a kept session
// the registry no longer knows is dropped and the blob pushed anew.
func TestUploadResumeAcrossCalls(t *testing.T) {
	ctx := context.Background()
	data, desc := randomBlob(300_000, 9)
	c, host := cutServer(t, t.TempDir(), 1)
	state := t.TempDir()
	client := func(repo string) *Repository { return chunkedClient(t, host, repo, WithUploadState(state)) }
	var opened []int64
	open := func(ctx context.Context, off int64) (io.ReadCloser, error) {
		opened = append(opened, off)
		return io.NopCloser(bytes.NewReader(data[off:])), nil
	}
	kept := func() int {
		ents, _ := os.ReadDir(state)
		return len(ents)
	}
	if _, err := client("up/across").PutBlobFrom(ctx, desc, open); err == nil || !strings.Contains(err.Error(), "kept") {
		t.Fatalf("cut upload: %v, want a failure that keeps the session", err)
	}
	if kept() != 1 {
		t.Fatalf("%d kept sessions, want 1", kept())
	}
	c.mu.Lock()
	c.ranges, opened = nil, nil
	c.mu.Unlock()
	if _, err := client("up/across").PutBlobFrom(ctx, desc, open); err != nil {
		t.Fatalf("the next push: %v", err)
	}
	c.mu.Lock()
	ranges := fmt.Sprint(c.ranges)
	c.mu.Unlock()
	if want := "[150000-249999 250000-299999]"; ranges != want {
		t.Errorf("the next push sent %s, want %s (on from where the session stood)", ranges, want)
	}
	if fmt.Sprint(opened) != "[0 150000]" {
		t.Errorf("source opened at %v, want [0 150000] (the first 150000 bytes hashed again, the rest sent)", opened)
	}
	if kept() != 0 {
		t.Errorf("%d kept sessions after the push, want none", kept())
	}
	if n, err := client("up/across").StatBlob(ctx, desc.Digest); err != nil || n != desc.Size {
		t.Fatalf("StatBlob: %d, %v", n, err)
	}

	// A kept session the registry has forgotten: a new one, from 0.
	r := client("up/gone")
	gone := r.uploadState(desc.Digest)
	gone.save("http://" + host + "/v2/up/gone/blobs/uploads/no-such-session")
	c.mu.Lock()
	c.ranges = nil
	c.mu.Unlock()
	if _, err := r.PutBlobFrom(ctx, desc, open); err != nil {
		t.Fatalf("push with a forgotten session kept: %v", err)
	}
	c.mu.Lock()
	ranges = fmt.Sprint(c.ranges)
	c.mu.Unlock()
	if want := "[0-99999 100000-199999 200000-299999]"; ranges != want {
		t.Errorf("with a forgotten session: %s, want %s", ranges, want)
	}
	if kept() != 0 {
		t.Errorf("%d kept sessions, want none", kept())
	}
}
