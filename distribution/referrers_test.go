package distribution

import (
	"bytes"
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/internal/registrytest"
	"github.com/ocikit/ocikit/layer"
	"github.com/ocikit/ocikit/layout"
	"github.com/ocikit/ocikit/platform"
	"github.com/ocikit/ocikit/registry"
	"github.com/ocikit/ocikit/registry/server"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// putArtifact adds to l an artifact manifest (an empty config, one blob
// of data) whose subject is subject, listed in index.json untagged.
func putArtifact(t *testing.T, l *layout.Layout, artifactType, data string, subject v1.Descriptor) v1.Descriptor {
	t.Helper()
	ctx := context.Background()
	empty, err := l.PutBlob(ctx, strings.NewReader("{}"), v1.Descriptor{MediaType: v1.MediaTypeEmptyJSON})
	if err != nil {
		t.Fatal(err)
	}
	blob, err := l.PutBlob(ctx, strings.NewReader(data), v1.Descriptor{MediaType: artifactType})
	if err != nil {
		t.Fatal(err)
	}
	subject = v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	m, err := content.PutJSON(ctx, l, v1.MediaTypeImageManifest, v1.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageManifest, ArtifactType: artifactType, Config: empty, Layers: []v1.Descriptor{blob}, Subject: &subject})
	if err != nil {
		t.Fatal(err)
	}
	m.ArtifactType = artifactType
	if err := l.AddReferrer(ctx, subject.Digest, m); err != nil {
		t.Fatal(err)
	}
	return m
}

// referrerDigests lists the digests of the referrers of d.
func referrerDigests(t *testing.T, src interface {
	Referrers(context.Context, digest.Digest) ([]v1.Descriptor, error)
}, d digest.Digest) []digest.Digest {
	t.Helper()
	refs, err := src.Referrers(context.Background(), d)
	if err != nil {
		t.Fatalf("referrers of %s: %v", d, err)
	}
	var out []digest.Digest
	for _, r := range refs {
		out = append(out, r.Digest)
	}
	return out
}

// TestCopyReferrers copies an image with an SBOM and a signature of the
// SBOM layout → registry → layout with WithReferrers, through ocikit's
// registry (referrers API, OCI-Subject) and Debian's docker-registry (no
// referrers API: the referrers tag). Both arrive with their blobs and
// their subject links; a referrer of a platform not copied stays behind;
// copying again adds no second entry to the referrers tag.
func TestCopyReferrers(t *testing.T) {
	ctx := context.Background()
	ti := newGzipImage(t)
	src, err := layout.Open(ctx, ti.dir)
	if err != nil {
		t.Fatal(err)
	}
	hostM := ti.manifests[platform.Format(host)]
	sbom := putArtifact(t, src, "application/spdx+json", `{"spdxVersion":"SPDX-2.3"}`, hostM)
	sig := putArtifact(t, src, "application/vnd.example.signature", "signature of the sbom", sbom)
	putArtifact(t, src, "application/vnd.example.other", "of the other platform", ti.manifests[platform.Format(other)])

	srvRoot := t.TempDir()
	srv, err := server.New(ctx, srvRoot)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	registries := []struct {
		name     string
		host     func(t *testing.T) string
		fallback bool // the registry has no referrers API
	}{
		{"serve", func(*testing.T) string { return strings.TrimPrefix(hs.URL, "http://") }, false},
		{"docker-registry", func(t *testing.T) string {
			if testing.Short() {
				t.Skip("starts docker-registry")
			}
			return registrytest.Start(t, "", "").Host
		}, true},
	}
	for _, reg := range registries {
		t.Run(reg.name, func(t *testing.T) {
			host := reg.host(t)
			repo := "docker://" + host + "/ref/img:single"
			for round := 0; round < 2; round++ {
				rep, err := CopyReference(ctx, "oci:"+ti.dir+":single", repo, WithReferrers())
				if err != nil {
					t.Fatalf("push round %d: %v", round, err)
				}
				if rep.Descriptor.Digest != hostM.Digest || rep.Referrers != 2 {
					t.Fatalf("push round %d: %s with %d referrers, want %s with 2", round, rep.Descriptor.Digest, rep.Referrers, hostM.Digest)
				}
			}
			r, err := registry.New(host, "ref/img")
			if err != nil {
				t.Fatal(err)
			}
			for _, link := range []struct{ subject, ref digest.Digest }{{hostM.Digest, sbom.Digest}, {sbom.Digest, sig.Digest}} {
				if got := referrerDigests(t, r, link.subject); len(got) != 1 || got[0] != link.ref {
					t.Fatalf("registry: referrers of %s = %v, want [%s]", link.subject, got, link.ref)
				}
				_, err := r.Lookup(ctx, registry.FallbackTag(link.subject))
				if reg.fallback != (err == nil) {
					t.Fatalf("registry: referrers tag of %s: %v (want one: %v)", link.subject, err, reg.fallback)
				}
			}

			back := filepath.Join(t.TempDir(), "back")
			rep, err := CopyReference(ctx, repo, "oci:"+back+":b", WithReferrers())
			if err != nil || rep.Referrers != 2 {
				t.Fatalf("pull: %+v, %v; want 2 referrers", rep, err)
			}
			l, err := layout.Open(ctx, back)
			if err != nil {
				t.Fatal(err)
			}
			if got := referrerDigests(t, l, hostM.Digest); len(got) != 1 || got[0] != sbom.Digest {
				t.Fatalf("layout: referrers of the image = %v, want [%s]", got, sbom.Digest)
			}
			if got := referrerDigests(t, l, sbom.Digest); len(got) != 1 || got[0] != sig.Digest {
				t.Fatalf("layout: referrers of the sbom = %v, want [%s]", got, sig.Digest)
			}
			data, err := l.ReadBlob(ctx, sig)
			if err != nil {
				t.Fatal(err)
			}
			m, err := layout.ParseManifest(data)
			if err != nil {
				t.Fatal(err)
			}
			if blob, err := l.ReadBlob(ctx, m.Layers[0]); err != nil || !bytes.Equal(blob, []byte("signature of the sbom")) {
				t.Fatalf("layout: the signature's blob: %q, %v", blob, err)
			}
			if got := referrerDigests(t, l, ti.manifests[platform.Format(other)].Digest); len(got) != 0 {
				t.Fatalf("layout: the other platform's referrer came along: %v", got)
			}
		})
	}
}

// TestCopyReferrersRefused: recompression with referrers, a destination
// that cannot record them, and a referrer whose subject is not the one the
// source listed it for are refused.
func TestCopyReferrersRefused(t *testing.T) {
	ctx := context.Background()
	ti := newGzipImage(t)
	src, err := layout.Open(ctx, ti.dir)
	if err != nil {
		t.Fatal(err)
	}
	hostM := ti.manifests[platform.Format(host)]
	sbom := putArtifact(t, src, "application/spdx+json", "{}", hostM)
	putArtifact(t, src, "application/vnd.example.signature", "sig", sbom)
	if _, err := CopyReference(ctx, "oci:"+ti.dir+":single", "oci:"+filepath.Join(t.TempDir(), "d"), WithReferrers(), WithCompression(layer.Gzip, 0)); !errdefs.IsInvalid(err) {
		t.Fatalf("referrers with recompression: %v, want %v", err, errdefs.ErrInvalid)
	}
	if _, err := CopyReference(ctx, "oci:"+ti.dir+":single", "docker-archive:"+filepath.Join(t.TempDir(), "a.tar"), WithReferrers()); !errdefs.IsUnsupported(err) {
		t.Fatalf("referrers into a docker archive: %v, want %v", err, errdefs.ErrUnsupported)
	}
	l, err := layout.Init(ctx, filepath.Join(t.TempDir(), "l"))
	if err != nil {
		t.Fatal(err)
	}
	lying := lyingSource{src, hostM.Digest, sbom.Digest}
	if _, err := Copy(ctx, lying, "single", l, "x", WithReferrers()); !errdefs.IsInvalid(err) {
		t.Fatalf("a referrer naming another subject: %v, want %v", err, errdefs.ErrInvalid)
	}
	if _, err := l.Lookup(ctx, "x"); err == nil {
		t.Fatal("the failed copy tagged its image")
	}
}

// lyingSource lists the referrers of other as the image's.
type lyingSource struct {
	*layout.Layout
	image, other digest.Digest
}

func (s lyingSource) Referrers(ctx context.Context, d digest.Digest) ([]v1.Descriptor, error) {
	if d == s.image {
		d = s.other
	}
	return s.Layout.Referrers(ctx, d)
}
