package registry

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

// TestLoopbackPlainHTTPFirst: a plain-HTTP registry on loopback is found
// on the first connection (no TLS handshake it would refuse first), by the
// first request itself (no separate ping), and that connection serves the
// requests after it too.
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
	if c, q := conns.Load(), requests.Load(); c != 1 || q != 3 {
		t.Errorf("%d connections, %d requests; want 1 connection for the 3 HEADs, the first doubling as the ping", c, q)
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

// TestProbe: a pull client's first request doubles as the ping (no GET
// /v2/) where the answer is a registry's: a status the request takes, a
// 401 with a challenge (answered with the credentials, which the first
// request did not carry), a registry error with the API version header.
// A server that does not answer as a registry, and a push client, are
// pinged first as before.
func TestProbe(t *testing.T) {
	blob := digest.Digest("sha256:" + strings.Repeat("c", 64))
	for _, tt := range []struct {
		name    string
		push    bool
		handler func(w http.ResponseWriter, r *http.Request)
		wantErr string   // "" for success
		want    []string // the requests, "METHOD PATH [auth]"
	}{
		{
			name:    "ok",
			handler: func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Content-Length", "7") },
			want:    []string{"HEAD /v2/a/b/blobs/" + string(blob)},
		},
		{
			name: "basic challenge",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if u, p, ok := r.BasicAuth(); !ok || u != "u" || p != "p" {
					w.Header().Set("WWW-Authenticate", `Basic realm="x"`)
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				w.Header().Set("Content-Length", "7")
			},
			want: []string{"HEAD /v2/a/b/blobs/" + string(blob), "HEAD /v2/a/b/blobs/" + string(blob) + " auth"},
		},
		{
			name: "registry error",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
				if r.URL.Path != "/v2/" {
					w.WriteHeader(http.StatusNotFound)
				}
			},
			wantErr: "blob unknown",
			want:    []string{"HEAD /v2/a/b/blobs/" + string(blob)},
		},
		{
			name: "not a registry's answer",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/v2/" {
					w.WriteHeader(http.StatusNotFound)
				}
			},
			wantErr: "blob unknown",
			want:    []string{"HEAD /v2/a/b/blobs/" + string(blob), "GET /v2/", "HEAD /v2/a/b/blobs/" + string(blob)},
		},
		{
			name: "push",
			push: true,
			handler: func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/v2/" {
					w.Header().Set("Content-Length", "7")
				}
			},
			want: []string{"GET /v2/", "HEAD /v2/a/b/blobs/" + string(blob)},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var got []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				line := r.Method + " " + r.URL.Path
				if r.Header.Get("Authorization") != "" {
					line += " auth"
				}
				mu.Lock()
				got = append(got, line)
				mu.Unlock()
				tt.handler(w, r)
			}))
			defer srv.Close()
			opts := []Option{WithGetenv(func(string) string { return "" }), WithCredentials("u", "p")}
			if tt.push {
				opts = append(opts, WithPush())
			}
			r, err := New(strings.TrimPrefix(srv.URL, "http://"), "a/b", opts...)
			if err != nil {
				t.Fatal(err)
			}
			n, err := r.StatBlob(context.Background(), blob)
			switch {
			case tt.wantErr == "" && (err != nil || n != 7):
				t.Errorf("StatBlob = %d, %v", n, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("StatBlob error %v; want %q", err, tt.wantErr)
			}
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(got, tt.want) {
				t.Errorf("requests\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}
