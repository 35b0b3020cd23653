package registry

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

// TestLoopbackPlainHTTPFirst: a plain-HTTP registry on loopback is found
// on the first connection (no TLS handshake it would refuse first), and
// that connection serves the requests after the ping too.
func TestLoopbackPlainHTTPFirst(t *testing.T) {
	var conns, requests atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.URL.Path != "/v2/" {
			w.Header().Set("Content-Length", "7")
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	r, err := New(strings.TrimPrefix(srv.URL, "http://"), "a/b", WithGetenv(func(string) string { return "" }))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if n, err := r.StatBlob(context.Background(), digest.Digest("sha256:"+strings.Repeat("c", 64))); err != nil || n != 7 {
			t.Fatalf("StatBlob = %d, %v", n, err)
		}
	}
	if c, q := conns.Load(), requests.Load(); c != 1 || q != 4 {
		t.Errorf("%d connections, %d requests; want 1 connection for the ping and 3 HEADs", c, q)
	}
}

// TestPingError: where no scheme answers as a registry, the error names
// what the server that is there said.
func TestPingError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	r, err := New(strings.TrimPrefix(srv.URL, "http://"), "a/b", WithGetenv(func(string) string { return "" }))
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.StatBlob(context.Background(), digest.Digest("sha256:"+strings.Repeat("c", 64)))
	if err == nil || !strings.Contains(err.Error(), "is not a registry") || !strings.Contains(err.Error(), "http://") {
		t.Errorf("error %v; want the plain-HTTP server's answer: not a registry", err)
	}
}
