//go:build linux

package integration

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/internal/registrytest"
	"github.com/ocikit/ocikit/internal/testutil"
	"github.com/ocikit/ocikit/layout"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// addArtifact puts an artifact manifest whose subject is subject into the
// layout dir and lists it in index.json untagged.
func addArtifact(t *testing.T, dir, artifactType, data string, subject v1.Descriptor) v1.Descriptor {
	t.Helper()
	ctx := context.Background()
	l, err := layout.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	empty, err := l.PutBlob(ctx, strings.NewReader("{}"), v1.Descriptor{MediaType: v1.MediaTypeEmptyJSON})
	if err != nil {
		t.Fatal(err)
	}
	blob, err := l.PutBlob(ctx, strings.NewReader(data), v1.Descriptor{MediaType: artifactType})
	if err != nil {
		t.Fatal(err)
	}
	sub := v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	m, err := content.PutJSON(ctx, l, v1.MediaTypeImageManifest, v1.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageManifest, ArtifactType: artifactType, Config: empty, Layers: []v1.Descriptor{blob}, Subject: &sub})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.AddReferrer(ctx, sub.Digest, m); err != nil {
		t.Fatal(err)
	}
	return m
}

// requireReferrer fails unless the layout dir lists exactly ref as the
// referrer of subject.
func requireReferrer(t *testing.T, dir string, subject, ref digest.Digest) {
	t.Helper()
	l, err := layout.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	refs, err := l.Referrers(context.Background(), subject)
	if err != nil || len(refs) != 1 || refs[0].Digest != ref {
		t.Fatalf("%s: referrers of %s = %v, %v; want %s", dir, subject, refs, err, ref)
	}
}

// TestImageReferrers: `image push --referrers` of a busybox image with an
// SBOM and a signature of the SBOM, to ocikit image serve (referrers API)
// and to Debian's docker-registry (referrers tag), and `image pull
// --referrers` back: both artifacts arrive with their subject links; in
// serve's root the pushed layout lists them as well.
func TestImageReferrers(t *testing.T) {
	bin := testutil.Binary(t)
	lay, img := serveImage(t)
	l, err := layout.Open(context.Background(), lay)
	if err != nil {
		t.Fatal(err)
	}
	imgDesc, err := l.Lookup(context.Background(), "v1")
	if err != nil {
		t.Fatal(err)
	}
	sbom := addArtifact(t, lay, "application/spdx+json", `{"spdxVersion":"SPDX-2.3"}`, imgDesc)
	sig := addArtifact(t, lay, "application/vnd.example.signature", "signature", sbom)
	root := t.TempDir()
	hosts := map[string]string{"serve": startServe(t, root).addr}
	if !testing.Short() {
		hosts["docker-registry"] = registrytest.Start(t, "", "").Host
	}
	for name, host := range hosts {
		t.Run(name, func(t *testing.T) {
			ref := host + "/referrers/busybox:v1"
			out := runTool(t, bin, "image", "push", "--referrers", "--progress", "none", lay+":v1", ref)
			if !strings.Contains(out, img) || !strings.Contains(out, "2 referrers") {
				t.Fatalf("push: %q, want %s with 2 referrers", out, img)
			}
			if name == "serve" {
				pushed := filepath.Join(root, "referrers", "busybox")
				requireReferrer(t, pushed, imgDesc.Digest, sbom.Digest)
				requireReferrer(t, pushed, sbom.Digest, sig.Digest)
			}
			back := filepath.Join(t.TempDir(), "back")
			out = runTool(t, bin, "image", "pull", "--referrers", "--progress", "none", ref, back+":v1")
			if !strings.Contains(out, "2 referrers") {
				t.Fatalf("pull: %q, want 2 referrers", out)
			}
			requireReferrer(t, back, imgDesc.Digest, sbom.Digest)
			requireReferrer(t, back, sbom.Digest, sig.Digest)
			requireValid(t, back, "v1")
		})
	}
}
