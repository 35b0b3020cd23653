package distribution

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/layout"
	"github.com/ocikit/ocikit/registry"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// hostile is a registry over httptest serving one image (repository
// "hostile/img", tag "t") whose answers a test bends with fault.
type hostile struct {
	srv      *httptest.Server
	blobs    map[digest.Digest][]byte
	manifest v1.Descriptor
	layer    v1.Descriptor
	// fault handles a request itself when it returns true; kind is
	// "manifests", "blobs", "token" or "v2".
	fault func(w http.ResponseWriter, r *http.Request, kind string) bool
	hits  atomic.Int64
}

func newHostile(t *testing.T) *hostile {
	t.Helper()
	h := &hostile{blobs: map[digest.Digest][]byte{}}
	add := func(mt string, data []byte) v1.Descriptor {
		d := v1.Descriptor{MediaType: mt, Digest: digest.FromBytes(data), Size: int64(len(data))}
		h.blobs[d.Digest] = data
		return d
	}
	layerData := bytes.Repeat([]byte("hostile layer "), 20000)
	h.layer = add(v1.MediaTypeImageLayer, layerData)
	cfg, _ := json.Marshal(v1.Image{Platform: host, RootFS: v1.RootFS{Type: "layers", DiffIDs: []digest.Digest{h.layer.Digest}}})
	m, _ := json.Marshal(v1.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageManifest, Config: add(v1.MediaTypeImageConfig, cfg), Layers: []v1.Descriptor{h.layer}})
	h.manifest = add(v1.MediaTypeImageManifest, m)
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hostile) host() string { return strings.TrimPrefix(h.srv.URL, "http://") }
func (h *hostile) ref() string  { return "docker://" + h.host() + "/hostile/img:t" }

func (h *hostile) serve(w http.ResponseWriter, r *http.Request) {
	h.hits.Add(1)
	kind := "v2"
	rest := strings.TrimPrefix(r.URL.Path, "/v2/hostile/img/")
	switch {
	case r.URL.Path == "/token":
		kind = "token"
	case strings.HasPrefix(rest, "manifests/"):
		kind = "manifests"
	case strings.HasPrefix(rest, "blobs/"):
		kind = "blobs"
	}
	if h.fault != nil && h.fault(w, r, kind) {
		return
	}
	switch kind {
	case "manifests":
		ref := strings.TrimPrefix(rest, "manifests/")
		if ref != "t" && ref != string(h.manifest.Digest) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":"x"}]}`)
			return
		}
		w.Header().Set("Content-Type", h.manifest.MediaType)
		w.Header().Set("Docker-Content-Digest", string(h.manifest.Digest))
		w.Write(h.blobs[h.manifest.Digest])
	case "blobs":
		data, ok := h.blobs[digest.Digest(strings.TrimPrefix(rest, "blobs/"))]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	case "v2":
		w.WriteHeader(http.StatusOK)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// snapshot is what a failed copy must leave as it was: index.json (the
// tags) and the layout's files other than blobs; a blob may be new only
// if it is complete and verified, and no temporary file may remain but
// a partial download (layout.PutBlobFrom), which never has a blob's name
// and is kept for the next copy to resume.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var files []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if strings.HasPrefix(filepath.ToSlash(rel), "blobs/.ocikit-tmp-partial-sha256-") {
			return nil
		}
		if alg, enc, ok := strings.Cut(filepath.ToSlash(rel), "/"); ok && alg == "blobs" {
			data, _ := os.ReadFile(p)
			a, e, _ := strings.Cut(enc, "/")
			if d := digest.NewDigestFromEncoded(digest.Algorithm(a), e); d.Validate() != nil || d.Algorithm().FromBytes(data) != d {
				files = append(files, "UNVERIFIED "+rel)
			}
			return nil
		}
		files = append(files, rel)
		return nil
	})
	sort.Strings(files)
	idx, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	return strings.Join(files, "\n") + "\n" + string(idx)
}

func TestCopyHostileRegistry(t *testing.T) {
	ctx := context.Background()
	endless := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", v1.MediaTypeImageManifest)
		chunk := bytes.Repeat([]byte(" "), 64<<10)
		for i := 0; i < 1024; i++ { // 64 MiB: far past any cap
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
	isLayer := func(r *http.Request, h *hostile) bool { return strings.HasSuffix(r.URL.Path, string(h.layer.Digest)) }
	tests := []struct {
		name  string
		fault func(h *hostile) func(http.ResponseWriter, *http.Request, string) bool
		opts  []registry.Option
		kind  error
		msg   string
	}{
		{name: "blob unknown", fault: func(h *hostile) func(http.ResponseWriter, *http.Request, string) bool {
			return func(w http.ResponseWriter, r *http.Request, kind string) bool {
				if kind == "blobs" {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusNotFound)
					fmt.Fprint(w, `{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}`)
					return true
				}
				return false
			}
		}, kind: errdefs.ErrNotFound, msg: "blob unknown to registry"},
		{name: "wrong layer digest", fault: func(h *hostile) func(http.ResponseWriter, *http.Request, string) bool {
			return func(w http.ResponseWriter, r *http.Request, kind string) bool {
				if kind == "blobs" && isLayer(r, h) {
					w.Write(bytes.ToUpper(h.blobs[h.layer.Digest]))
					return true
				}
				return false
			}
		}, kind: errdefs.ErrDigestMismatch},
		{name: "wrong manifest digest", fault: func(h *hostile) func(http.ResponseWriter, *http.Request, string) bool {
			return func(w http.ResponseWriter, r *http.Request, kind string) bool {
				if kind == "manifests" {
					w.Header().Set("Content-Type", h.manifest.MediaType)
					w.Header().Set("Docker-Content-Digest", string(digest.FromString("other")))
					w.Write(h.blobs[h.manifest.Digest])
					return true
				}
				return false
			}
		}, kind: errdefs.ErrDigestMismatch},
		{name: "short body", fault: func(h *hostile) func(http.ResponseWriter, *http.Request, string) bool {
			return func(w http.ResponseWriter, r *http.Request, kind string) bool {
				if kind == "blobs" && isLayer(r, h) {
					w.Write(h.blobs[h.layer.Digest][:1000]) // chunked: no Content-Length
					w.(http.Flusher).Flush()
					return true
				}
				return false
			}
		}, kind: errdefs.ErrDigestMismatch},
		{name: "short body with Content-Length", fault: func(h *hostile) func(http.ResponseWriter, *http.Request, string) bool {
			return func(w http.ResponseWriter, r *http.Request, kind string) bool {
				if kind == "blobs" && isLayer(r, h) {
					w.Header().Set("Content-Length", strconv.FormatInt(h.layer.Size, 10))
					w.Write(h.blobs[h.layer.Digest][:1000])
					return true
				}
				return false
			}
		}, msg: "unexpected EOF"},
		{name: "endless blob", fault: func(h *hostile) func(http.ResponseWriter, *http.Request, string) bool {
			return func(w http.ResponseWriter, r *http.Request, kind string) bool {
				if kind == "blobs" && isLayer(r, h) {
					endless(w)
					return true
				}
				return false
			}
		}, kind: errdefs.ErrDigestMismatch},
		{name: "wrong Content-Length", fault: func(h *hostile) func(http.ResponseWriter, *http.Request, string) bool {
			return func(w http.ResponseWriter, r *http.Request, kind string) bool {
				if kind == "blobs" && isLayer(r, h) {
					data := append(bytes.Clone(h.blobs[h.layer.Digest]), "tail"...)
					w.Header().Set("Content-Length", strconv.Itoa(len(data)))
					w.Write(data)
					return true
				}
				return false
			}
		}, kind: errdefs.ErrDigestMismatch},
		{name: "wrong manifest media type", fault: func(h *hostile) func(http.ResponseWriter, *http.Request, string) bool {
			return func(w http.ResponseWriter, r *http.Request, kind string) bool {
				if kind == "manifests" {
					w.Header().Set("Content-Type", v1.MediaTypeImageIndex)
					w.Write(h.blobs[h.manifest.Digest])
					return true
				}
				return false
			}
		}, kind: errdefs.ErrInvalid},
		{name: "not a manifest", fault: func(h *hostile) func(http.ResponseWriter, *http.Request, string) bool {
			return func(w http.ResponseWriter, r *http.Request, kind string) bool {
				if kind == "manifests" {
					w.Header().Set("Content-Type", "text/html")
					w.Write([]byte("<html>hello</html>"))
					return true
				}
				return false
			}
		}, kind: errdefs.ErrInvalid},
		{name: "oversized manifest", fault: func(h *hostile) func(http.ResponseWriter, *http.Request, string) bool {
			return func(w http.ResponseWriter, r *http.Request, kind string) bool {
				if kind == "manifests" {
					endless(w)
					return true
				}
				return false
			}
		}, kind: errdefs.ErrInvalid},
		{name: "oversized manifest with Content-Length", fault: func(h *hostile) func(http.ResponseWriter, *http.Request, string) bool {
			return func(w http.ResponseWriter, r *http.Request, kind string) bool {
				if kind == "manifests" {
					w.Header().Set("Content-Length", strconv.Itoa(5<<20))
					endless(w)
					return true
				}
				return false
			}
		}, kind: errdefs.ErrInvalid},
		{name: "redirect loop", fault: func(h *hostile) func(http.ResponseWriter, *http.Request, string) bool {
			return func(w http.ResponseWriter, r *http.Request, kind string) bool {
				if kind == "blobs" {
					http.Redirect(w, r, r.URL.Path, http.StatusTemporaryRedirect)
					return true
				}
				return false
			}
		}, msg: "redirects"},
		{name: "401 that never ends", fault: func(h *hostile) func(http.ResponseWriter, *http.Request, string) bool {
			return func(w http.ResponseWriter, r *http.Request, kind string) bool {
				if kind == "token" {
					fmt.Fprint(w, `{"token":"t0k3n"}`)
					return true
				}
				w.Header().Set("WWW-Authenticate", `Bearer realm="`+h.srv.URL+`/token",service="hostile"`)
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
				return true
			}
		}, kind: errdefs.ErrUnauthorized, msg: "authentication required"},
		{name: "401 with Basic and wrong credentials", fault: func(h *hostile) func(http.ResponseWriter, *http.Request, string) bool {
			return func(w http.ResponseWriter, r *http.Request, kind string) bool {
				w.Header().Set("WWW-Authenticate", `Basic realm="hostile"`)
				w.WriteHeader(http.StatusUnauthorized)
				return true
			}
		}, opts: []registry.Option{registry.WithCredentials("u", "p")}, kind: errdefs.ErrUnauthorized},
		{name: "token endpoint garbage", fault: func(h *hostile) func(http.ResponseWriter, *http.Request, string) bool {
			return func(w http.ResponseWriter, r *http.Request, kind string) bool {
				if kind == "token" {
					fmt.Fprint(w, "\x00\x01 not json {{{")
					return true
				}
				if r.Header.Get("Authorization") == "" {
					w.Header().Set("WWW-Authenticate", `Bearer realm="`+h.srv.URL+`/token",service="hostile",scope="repository:hostile/img:pull"`)
					w.WriteHeader(http.StatusUnauthorized)
					return true
				}
				return false
			}
		}, kind: errdefs.ErrUnauthorized, msg: "malformed answer"},
		{name: "token endpoint endless", fault: func(h *hostile) func(http.ResponseWriter, *http.Request, string) bool {
			return func(w http.ResponseWriter, r *http.Request, kind string) bool {
				if kind == "token" {
					endless(w)
					return true
				}
				if r.Header.Get("Authorization") == "" {
					w.Header().Set("WWW-Authenticate", `Bearer realm="`+h.srv.URL+`/token"`)
					w.WriteHeader(http.StatusUnauthorized)
					return true
				}
				return false
			}
		}, kind: errdefs.ErrUnauthorized},
		{name: "slow-loris headers", fault: func(h *hostile) func(http.ResponseWriter, *http.Request, string) bool {
			return func(w http.ResponseWriter, r *http.Request, kind string) bool {
				if kind == "manifests" {
					<-r.Context().Done()
					return true
				}
				return false
			}
		}, opts: []registry.Option{registry.WithTimeout(200 * time.Millisecond)}, msg: "no answer for 200ms"},
		{name: "slow-loris /v2/", fault: func(h *hostile) func(http.ResponseWriter, *http.Request, string) bool {
			var probed atomic.Bool
			return func(w http.ResponseWriter, r *http.Request, kind string) bool {
				if kind != "v2" && !probed.Swap(true) {
					// The first request, sent as the ping, gets no
					// registry's answer: the client pings /v2/.
					w.WriteHeader(http.StatusBadRequest)
					return true
				}
				if kind == "v2" {
					w.Header().Set("Content-Length", "100")
					w.Write([]byte("{"))
					w.(http.Flusher).Flush()
					<-r.Context().Done()
					return true
				}
				return false
			}
		}, opts: []registry.Option{registry.WithTimeout(200 * time.Millisecond)}, msg: "no data for 200ms"},
		{name: "slow-loris body", fault: func(h *hostile) func(http.ResponseWriter, *http.Request, string) bool {
			return func(w http.ResponseWriter, r *http.Request, kind string) bool {
				if kind == "blobs" && isLayer(r, h) {
					w.Header().Set("Content-Length", strconv.FormatInt(h.layer.Size, 10))
					w.Write(h.blobs[h.layer.Digest][:100])
					w.(http.Flusher).Flush()
					<-r.Context().Done()
					return true
				}
				return false
			}
		}, opts: []registry.Option{registry.WithTimeout(200 * time.Millisecond)}, msg: "no data for 200ms"},
		{name: "server error", fault: func(h *hostile) func(http.ResponseWriter, *http.Request, string) bool {
			return func(w http.ResponseWriter, r *http.Request, kind string) bool {
				if kind == "blobs" {
					w.WriteHeader(http.StatusServiceUnavailable)
					fmt.Fprint(w, "\n\n<html>\nbusy\n</html>")
					return true
				}
				return false
			}
		}, msg: "registry answered 503: service unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHostile(t)
			h.fault = tt.fault(h)
			dst := filepath.Join(t.TempDir(), "dst")
			if _, err := layout.Init(ctx, dst); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, dst)
			_, err := CopyReference(ctx, h.ref(), "oci:"+dst+":copied", WithSourceRegistry(tt.opts...))
			if err == nil {
				t.Fatal("copy succeeded")
			}
			if strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "copy "+h.ref()+": ") {
				t.Errorf("error is not one line naming the source: %q", err)
			}
			if tt.kind != nil && !errors.Is(err, tt.kind) {
				t.Errorf("error %q is not of kind %v", err, tt.kind)
			}
			if tt.msg != "" && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
			if after := snapshot(t, dst); after != before {
				t.Errorf("the failed copy changed the destination:\n%s\n---\n%s", before, after)
			}
		})
	}
	t.Run("exact message", func(t *testing.T) {
		h := newHostile(t)
		_, err := CopyReference(ctx, "docker://"+h.host()+"/hostile/img:nope", "oci:"+t.TempDir())
		if want := "copy docker://" + h.host() + "/hostile/img:nope: manifest unknown"; err == nil || err.Error() != want {
			t.Fatalf("err = %v, want %q", err, want)
		}
	})
}

// TestCopyRegistryRetry: 429 and 5xx answers are retried with
// --retry-times (Retry-After honoured), and a download cut short resumes
// with a Range request from the bytes already verified.
func TestCopyRegistryRetry(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		fault   func(h *hostile, n *atomic.Int64) func(http.ResponseWriter, *http.Request, string) bool
		retries int
		ok      bool
	}{
		{"429 then ok", func(h *hostile, n *atomic.Int64) func(http.ResponseWriter, *http.Request, string) bool {
			return func(w http.ResponseWriter, r *http.Request, kind string) bool {
				if kind == "manifests" && n.Add(1) <= 2 {
					w.Header().Set("Retry-After", "0")
					w.WriteHeader(http.StatusTooManyRequests)
					return true
				}
				return false
			}
		}, 2, true},
		{"503 then ok, too few retries", func(h *hostile, n *atomic.Int64) func(http.ResponseWriter, *http.Request, string) bool {
			return func(w http.ResponseWriter, r *http.Request, kind string) bool {
				if kind == "blobs" && strings.HasSuffix(r.URL.Path, string(h.layer.Digest)) && n.Add(1) <= 2 {
					w.WriteHeader(http.StatusBadGateway)
					return true
				}
				return false
			}
		}, 1, false},
		{"cut short, resumed", func(h *hostile, n *atomic.Int64) func(http.ResponseWriter, *http.Request, string) bool {
			return func(w http.ResponseWriter, r *http.Request, kind string) bool {
				if kind != "blobs" || !strings.HasSuffix(r.URL.Path, string(h.layer.Digest)) {
					return false
				}
				if r.Header.Get("Range") != "" {
					n.Add(100) // a resumed request
					return false
				}
				w.Header().Set("Content-Length", strconv.FormatInt(h.layer.Size, 10))
				w.Write(h.blobs[h.layer.Digest][:h.layer.Size/2])
				w.(http.Flusher).Flush()
				conn, _, _ := w.(http.Hijacker).Hijack()
				conn.Close()
				return true
			}
		}, 1, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHostile(t)
			var n atomic.Int64
			h.fault = tt.fault(h, &n)
			dst := filepath.Join(t.TempDir(), "dst")
			rep, err := CopyReference(ctx, h.ref(), "oci:"+dst+":copied", WithSourceRegistry(registry.WithRetries(tt.retries)))
			if tt.ok != (err == nil) {
				t.Fatalf("copy: %v, want success %v", err, tt.ok)
			}
			if tt.ok && rep.Descriptor.Digest != h.manifest.Digest {
				t.Fatalf("copied %s, want %s", rep.Descriptor.Digest, h.manifest.Digest)
			}
			if strings.HasPrefix(tt.name, "cut short") && n.Load() < 100 {
				t.Fatal("no Range request resumed the download")
			}
		})
	}
}
