package distribution

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
)

// TestPushAgainRequests: pushing an image the registry holds already asks
// for the manifest once by digest and once by tag, and nothing about its
// blobs (the registry took the manifest, so it has them); the report
// counts them all as skipped.
func TestPushAgainRequests(t *testing.T) {
	ctx := context.Background()
	ti := newGzipImage(t)
	srv := newRegistry(t)
	var mu sync.Mutex
	var reqs []string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := "other"
		switch {
		case strings.Contains(r.URL.Path, "/blobs/"):
			kind = "blobs"
		case strings.Contains(r.URL.Path, "/manifests/sha256:"):
			kind = "manifest-by-digest"
		case strings.Contains(r.URL.Path, "/manifests/"):
			kind = "manifest-by-tag"
		}
		mu.Lock()
		reqs = append(reqs, r.Method+" "+kind)
		mu.Unlock()
		srv.ServeHTTP(w, r)
	}))
	defer hs.Close()
	dst := "docker://" + strings.TrimPrefix(hs.URL, "http://") + "/again/img:single"
	if _, err := CopyReference(ctx, "oci:"+ti.dir+":single", dst); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	reqs = nil
	mu.Unlock()
	rep, err := CopyReference(ctx, "oci:"+ti.dir+":single", dst)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := append([]string(nil), reqs...)
	mu.Unlock()
	sort.Strings(got)
	if want := "[GET other HEAD manifest-by-digest HEAD manifest-by-tag]"; fmt.Sprint(got) != want {
		t.Errorf("second push asked %v, want %s", got, want)
	}
	if rep.Blobs != 4 || rep.Skipped != 4 || rep.Bytes != 0 {
		t.Errorf("report %+v: want 4 blobs, all skipped, no bytes", rep)
	}
}
