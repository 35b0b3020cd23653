package layout

import (
	"context"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestReferrers(t *testing.T) {
	ctx := context.Background()
	l := newLayout(t)
	subject := putImage(t, l, v1.Platform{OS: "linux", Architecture: "amd64"}, "subject")
	mustTag(t, l, "v1", subject)
	empty, err := l.PutBlob(ctx, strings.NewReader("{}"), v1.Descriptor{MediaType: v1.MediaTypeEmptyJSON})
	must(t, err)
	artifact := func(artifactType, configType string, n string) v1.Descriptor {
		cfg := empty
		cfg.MediaType = configType
		m := v1.Manifest{Versioned: specsVersioned(), MediaType: v1.MediaTypeImageManifest, ArtifactType: artifactType,
			Config: cfg, Layers: []v1.Descriptor{}, Subject: &subject, Annotations: map[string]string{"n": n}}
		d, err := l.PutJSON(ctx, v1.MediaTypeImageManifest, m)
		must(t, err)
		return d
	}
	// An untagged entry, with artifactType; a tagged one whose config
	// type stands in for it; one only in a referrers-tag-schema index.
	sig := artifact("application/vnd.example.sig", v1.MediaTypeEmptyJSON, "1")
	must(t, l.UpdateIndex(ctx, func(idx *v1.Index) error { idx.Manifests = append(idx.Manifests, sig); return nil }))
	sbom := artifact("", "application/vnd.example.sbom", "2")
	mustTag(t, l, "sbom", sbom)
	old := artifact("application/vnd.example.old", v1.MediaTypeEmptyJSON, "3")
	fallback, err := l.PutJSON(ctx, v1.MediaTypeImageIndex, v1.Index{Versioned: specsVersioned(), MediaType: v1.MediaTypeImageIndex, Manifests: []v1.Descriptor{old}})
	must(t, err)
	mustTag(t, l, "sha256-"+subject.Digest.Encoded(), fallback)
	// Something else entirely, and an unrelated image.
	other := putImage(t, l, v1.Platform{OS: "linux", Architecture: "arm64"}, "other")
	mustTag(t, l, "other", other)

	got, err := l.Referrers(ctx, subject.Digest)
	must(t, err)
	want := map[digest.Digest]string{sig.Digest: "application/vnd.example.sig", sbom.Digest: "application/vnd.example.sbom", old.Digest: "application/vnd.example.old"}
	if len(got) != len(want) {
		t.Fatalf("Referrers = %+v, want %d", got, len(want))
	}
	for _, r := range got {
		if want[r.Digest] != r.ArtifactType || r.MediaType != v1.MediaTypeImageManifest || r.Annotations["n"] == "" || r.Size == 0 {
			t.Errorf("referrer %+v", r)
		}
	}
	none, err := l.Referrers(ctx, other.Digest)
	if err != nil || none == nil || len(none) != 0 {
		t.Errorf("Referrers(unreferenced) = %#v, %v; want empty", none, err)
	}
}
