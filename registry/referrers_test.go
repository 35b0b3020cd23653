package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/registry/server"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// noReferrersAPI is a registry (ocikit's server) that has no referrers API:
// it answers the referrers endpoint with status and never sends
// OCI-Subject, as registries that predate distribution-spec 1.1 do.
type noReferrersAPI struct {
	h      http.Handler
	status int
}

func (n noReferrersAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.Contains(r.URL.Path, "/referrers/") {
		code := "UNSUPPORTED"
		if n.status == http.StatusForbidden {
			code = "DENIED"
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(n.status)
		fmt.Fprintf(w, `{"errors":[{"code":%q,"message":"status %d"}]}`, code, n.status)
		return
	}
	n.h.ServeHTTP(noSubjectHeader{w}, r)
}

// noSubjectHeader drops OCI-Subject from a response.
type noSubjectHeader struct{ http.ResponseWriter }

func (w noSubjectHeader) WriteHeader(code int) {
	w.Header().Del("OCI-Subject")
	w.ResponseWriter.WriteHeader(code)
}

func (w noSubjectHeader) Write(p []byte) (int, error) {
	w.Header().Del("OCI-Subject")
	return w.ResponseWriter.Write(p)
}

// putDoc stores v (a manifest) with its blobs through r.
func putDoc(t *testing.T, r *Repository, mt string, v any, blobs ...[]byte) v1.Descriptor {
	t.Helper()
	ctx := context.Background()
	for _, b := range blobs {
		if _, err := r.PutBlob(ctx, bytes.NewReader(b), v1.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(b), Size: int64(len(b))}); err != nil {
			t.Fatal(err)
		}
	}
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	d, err := r.PutBlob(ctx, bytes.NewReader(data), v1.Descriptor{MediaType: mt, Digest: digest.FromBytes(data), Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestReferrersFallbackStatuses: a registry answering the referrers
// endpoint 404 (distribution-spec's word for "no referrers API"), 400 or
// 405 (what registries in the wild answer) has no referrers API: the
// client records a referrer in the referrers tag and lists referrers from
// it. Any other error stays an error.
func TestReferrersFallbackStatuses(t *testing.T) {
	ctx := context.Background()
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	layerData := []byte("a layer")
	empty := []byte("{}")
	for _, tt := range []struct {
		status int
		ok     bool
	}{
		{http.StatusNotFound, true},
		{http.StatusBadRequest, true},
		{http.StatusMethodNotAllowed, true},
		{http.StatusForbidden, false},
	} {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			s, err := server.New(ctx, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			srv := httptest.NewServer(noReferrersAPI{s, tt.status})
			defer srv.Close()
			r, err := New(strings.TrimPrefix(srv.URL, "http://"), "ref/img", WithPush(), WithGetenv(func(string) string { return "" }))
			if err != nil {
				t.Fatal(err)
			}
			subject := putDoc(t, r, v1.MediaTypeImageManifest, v1.Manifest{
				Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageManifest,
				Config: v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Digest: digest.FromBytes(cfg), Size: int64(len(cfg))},
				Layers: []v1.Descriptor{{MediaType: v1.MediaTypeImageLayer, Digest: digest.FromBytes(layerData), Size: int64(len(layerData))}},
			}, cfg, layerData)
			sbom := putDoc(t, r, v1.MediaTypeImageManifest, v1.Manifest{
				Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageManifest, ArtifactType: "application/vnd.example.sbom",
				Config:  v1.DescriptorEmptyJSON,
				Layers:  []v1.Descriptor{{MediaType: "application/vnd.example.sbom", Digest: digest.FromBytes(layerData), Size: int64(len(layerData))}},
				Subject: &v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size},
			}, empty)
			sbom.ArtifactType = "application/vnd.example.sbom"
			err = r.AddReferrer(ctx, subject.Digest, sbom)
			if !tt.ok {
				if !errors.Is(err, errdefs.ErrUnauthorized) {
					t.Fatalf("AddReferrer with the referrers endpoint answering %d: %v, want an unauthorized error", tt.status, err)
				}
				if _, err := r.Referrers(ctx, subject.Digest); !errors.Is(err, errdefs.ErrUnauthorized) {
					t.Fatalf("Referrers with the referrers endpoint answering %d: %v, want an unauthorized error", tt.status, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("AddReferrer: %v", err)
			}
			if _, err := r.Lookup(ctx, FallbackTag(subject.Digest)); err != nil {
				t.Fatalf("referrers tag %s: %v", FallbackTag(subject.Digest), err)
			}
			refs, err := r.Referrers(ctx, subject.Digest)
			if err != nil || len(refs) != 1 || refs[0].Digest != sbom.Digest || refs[0].ArtifactType != sbom.ArtifactType {
				t.Fatalf("Referrers = %v, %v; want [%s] from the referrers tag", refs, err, sbom.Digest)
			}
		})
	}
}
