package layout

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func seedOf(img *Image) string {
	for _, e := range img.Config.Config.Env {
		if s, ok := strings.CutPrefix(e, "SEED="); ok {
			return s
		}
	}
	return ""
}

func TestResolve(t *testing.T) {
	ctx := context.Background()
	l, err := Open(ctx, fixture("valid"))
	must(t, err)
	host := HostPlatform()
	hostSeed := map[string]string{"amd64": "multi-amd64", "arm64": "multi-arm64", "arm": "multi-armv7"}[host.Architecture]
	p := func(s string) []ResolveOption {
		pl, err := ParsePlatform(s)
		must(t, err)
		return []ResolveOption{WithPlatform(pl)}
	}
	tests := []struct {
		name     string
		ref      string
		opts     []ResolveOption
		wantSeed string
		wantErr  error
		mention  []string
	}{
		{name: "single image", ref: "v1", wantSeed: "single"},
		{name: "single image, its platform", ref: "v1", opts: p("linux/amd64"), wantSeed: "single"},
		{name: "single image, other platform", ref: "v1", opts: p("linux/arm64"), wantErr: ErrNotFound, mention: []string{"linux/amd64"}},
		{name: "index arm64", ref: "multi", opts: p("linux/arm64"), wantSeed: "multi-arm64"},
		{name: "index arm64/v8", ref: "multi", opts: p("linux/arm64/v8"), wantSeed: "multi-arm64"},
		{name: "index arm/v7", ref: "multi", opts: p("linux/arm/v7"), wantSeed: "multi-armv7"},
		{name: "index arm any variant", ref: "multi", opts: p("linux/arm"), wantSeed: "multi-armv7"},
		{name: "index amd64", ref: "multi", opts: p("linux/amd64"), wantSeed: "multi-amd64"},
		{name: "index arm/v6 missing", ref: "multi", opts: p("linux/arm/v6"), wantErr: ErrNotFound,
			mention: []string{"linux/arm/v6", "linux/amd64", "linux/arm64/v8", "linux/arm/v7"}},
		{name: "index s390x missing", ref: "multi", opts: p("linux/s390x"), wantErr: ErrNotFound, mention: []string{"has: linux/amd64"}},
		{name: "nested index", ref: "nested", opts: p("linux/arm/v7"), wantSeed: "multi-armv7"},
		{name: "unknown tag", ref: "nope", wantErr: ErrNotFound, mention: []string{"multi, nested, sig, v1"}},
		{name: "digest of a nested manifest", ref: "", wantSeed: "multi-arm64"}, // filled below
		{name: "unknown digest", ref: string(digest.FromString("nothing")), wantErr: ErrNotFound},
		{name: "layer digest", ref: "", wantErr: ErrInvalidDocument}, // filled below
	}
	if hostSeed != "" && host.OS == "linux" {
		tests = append(tests, struct {
			name     string
			ref      string
			opts     []ResolveOption
			wantSeed string
			wantErr  error
			mention  []string
		}{name: "index host default", ref: "multi", wantSeed: hostSeed})
	}
	arm, err := l.Resolve(ctx, "multi", p("linux/arm64")...)
	must(t, err)
	tests[12].ref = string(arm.Descriptor.Digest)
	tests[14].ref = string(arm.Manifest.Layers[0].Digest)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := l.Resolve(ctx, tt.ref, tt.opts...)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				for _, m := range tt.mention {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("error %q does not mention %q", err, m)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := seedOf(img); got != tt.wantSeed {
				t.Fatalf("resolved %s (seed %q), want seed %q", img.Descriptor.Digest, got, tt.wantSeed)
			}
			if img.Manifest.Config.MediaType != v1.MediaTypeImageConfig || len(img.Config.RootFS.DiffIDs) != 1 {
				t.Fatalf("manifest/config not filled: %+v", img)
			}
		})
	}
	t.Run("artifact", func(t *testing.T) {
		img, err := l.Resolve(ctx, "sig")
		must(t, err)
		if img.Manifest.Subject == nil || img.Manifest.ArtifactType != "application/vnd.example.sig" || img.Config.OS != "" {
			t.Fatalf("artifact = %+v", img)
		}
	})
}

func TestChoosePlatform(t *testing.T) {
	m := func(p *v1.Platform, seed string) v1.Descriptor {
		return v1.Descriptor{MediaType: v1.MediaTypeImageManifest, Digest: digest.FromString(seed), Size: 1, Platform: p}
	}
	arm64NoVariant := v1.Platform{OS: "linux", Architecture: "arm64"}
	armv5 := v1.Platform{OS: "linux", Architecture: "arm", Variant: "v5"}
	armv6 := v1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}
	xml := v1.Descriptor{MediaType: "application/xml", Digest: digest.FromString("xml"), Size: 1}
	tests := []struct {
		name    string
		entries []v1.Descriptor
		want    v1.Platform
		pick    string
		err     error
	}{
		{"first match wins", []v1.Descriptor{m(&amd64, "a"), m(&amd64, "b")}, amd64, "a", nil},
		{"arm64 without variant is v8", []v1.Descriptor{m(&arm64NoVariant, "a")}, arm64, "a", nil},
		{"v8 satisfies plain arm64", []v1.Descriptor{m(&arm64, "a")}, arm64NoVariant, "a", nil},
		{"windows skipped", []v1.Descriptor{m(&windows, "w"), m(&amd64, "l")}, amd64, "l", nil},
		{"single unplatformed", []v1.Descriptor{xml, m(nil, "u")}, s390x, "u", nil},
		{"two unplatformed", []v1.Descriptor{m(nil, "u"), m(nil, "v")}, s390x, "", ErrAmbiguous},
		{"platformed beats unplatformed", []v1.Descriptor{m(nil, "u"), m(&s390x, "s")}, s390x, "s", nil},
		{"nothing", []v1.Descriptor{xml}, amd64, "", ErrNotFound},
		{"arm v7 runs v6", []v1.Descriptor{m(&armv5, "v5"), m(&armv6, "v6")}, armv7, "v6", nil},
		{"exact beats earlier fallback", []v1.Descriptor{m(&armv6, "v6"), m(&armv7, "v7")}, armv7, "v7", nil},
		{"arm v6 does not run v7", []v1.Descriptor{m(&armv7, "v7")}, armv6, "", ErrNotFound},
		{"arm without variant is v7", []v1.Descriptor{m(&v1.Platform{OS: "linux", Architecture: "arm"}, "a")}, armv7, "a", nil},
		{"amd64 v3 runs v2", []v1.Descriptor{m(&v1.Platform{OS: "linux", Architecture: "amd64", Variant: "v2"}, "v2")}, v1.Platform{OS: "linux", Architecture: "amd64", Variant: "v3"}, "v2", nil},
		{"x86_64 alias", []v1.Descriptor{m(&v1.Platform{OS: "linux", Architecture: "x86_64"}, "x")}, amd64, "x", nil},
		{"arm64 is not arm", []v1.Descriptor{m(&arm64, "a")}, armv7, "", ErrNotFound},
		{"empty", nil, amd64, "", ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := choosePlatform(&v1.Index{Manifests: tt.entries}, tt.want, true)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil || d.Digest != digest.FromString(tt.pick) {
				t.Fatalf("picked %s, %v; want %s", d.Digest, err, tt.pick)
			}
		})
	}
}

func TestResolveNestingLimit(t *testing.T) {
	ctx := context.Background()
	l := newLayout(t)
	d := withPlatform(putImage(t, l, amd64, "deep"), amd64)
	for range maxDepth + 2 {
		d = putIndex(t, l, d)
	}
	mustTag(t, l, "deep", d)
	if _, err := l.Resolve(ctx, "deep", WithPlatform(amd64)); !errors.Is(err, ErrInvalidDocument) {
		t.Fatalf("err = %v", err)
	}
}

func TestParsePlatform(t *testing.T) {
	tests := []struct {
		in   string
		want v1.Platform
		ok   bool
	}{
		{"linux/amd64", amd64, true},
		{"linux/arm64/v8", arm64, true},
		{"windows/amd64", windows, true},
		{"linux", v1.Platform{}, false},
		{"linux/", v1.Platform{}, false},
		{"/amd64", v1.Platform{}, false},
		{"linux/arm/v7/x", v1.Platform{}, false},
		{"linux/am d64", v1.Platform{}, false},
		{"", v1.Platform{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePlatform(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v", err)
			}
			if tt.ok && (got.OS != tt.want.OS || got.Architecture != tt.want.Architecture || got.Variant != tt.want.Variant) {
				t.Fatalf("got %+v", got)
			}
			if tt.ok && FormatPlatform(got) != tt.in {
				t.Fatalf("FormatPlatform = %q", FormatPlatform(got))
			}
			if !tt.ok && !errors.Is(err, ErrInvalidReference) {
				t.Fatalf("err %v is not ErrInvalidReference", err)
			}
		})
	}
}

func TestParseReference(t *testing.T) {
	d := digest.FromString("x")
	tests := []struct {
		in      string
		want    Reference
		wantErr error
	}{
		{"oci", Reference{Dir: "oci", Tag: "latest"}, nil},
		{"oci:v1", Reference{Dir: "oci", Tag: "v1"}, nil},
		{"./a/b:v1.0-debug", Reference{Dir: "./a/b", Tag: "v1.0-debug"}, nil},
		{"/abs/path:tag", Reference{Dir: "/abs/path", Tag: "tag"}, nil},
		{"oci:v1:debug", Reference{Dir: "oci", Tag: "v1:debug"}, nil},
		{"oci:team/app", Reference{Dir: "oci", Tag: "team/app"}, nil},
		{"oci:a@b", Reference{Dir: "oci", Tag: "a@b"}, nil},
		{"oci@" + string(d), Reference{Dir: "oci", Digest: d}, nil},
		{"me@host/oci@" + string(d), Reference{Dir: "me@host/oci", Digest: d}, nil},
		{"me@host/oci:v1", Reference{Dir: "me@host/oci", Tag: "v1"}, nil},
		{"./a@b/:v1", Reference{Dir: "./a@b/", Tag: "v1"}, nil},
		{"./a@b/", Reference{Dir: "./a@b/", Tag: "latest"}, nil},
		{"a:b@" + string(d), Reference{Dir: "a", Tag: "b@" + string(d)}, nil},
		{"a@b", Reference{}, ErrInvalidDigest},
		{"a@b:c", Reference{}, ErrUnsupportedDigest},
		{"oci@" + string(digest.SHA512.FromString("x")), Reference{Dir: "oci", Digest: digest.SHA512.FromString("x")}, nil},
		{"", Reference{}, ErrInvalidReference},
		{":v1", Reference{}, ErrInvalidReference},
		{"oci:", Reference{}, ErrInvalidReference},
		{"oci:bad tag", Reference{}, ErrInvalidReference},
		{"oci:-x", Reference{}, ErrInvalidReference},
		{"@" + string(d), Reference{}, ErrInvalidReference},
		{"oci@sha256:abc", Reference{}, ErrInvalidDigest},
		{"oci@md5:d41d8cd98f00b204e9800998ecf8427e", Reference{}, ErrUnsupportedDigest},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseReference(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
			again, err := ParseReference(got.String())
			if err != nil || again != got {
				t.Fatalf("String() %q does not round-trip: %+v %v", got.String(), again, err)
			}
			if want := slices.Contains([]string{string(got.Digest), got.Tag}, got.Name()); !want {
				t.Fatalf("Name() = %q", got.Name())
			}
		})
	}
}

// TestResolveTaggedManifestPlatform: an explicit platform must also match a
// manifest a tag names directly when index.json gives its platform.
func TestResolveTaggedManifestPlatform(t *testing.T) {
	ctx := context.Background()
	l, err := Init(ctx, t.TempDir())
	must(t, err)
	cfg, err := l.PutJSON(ctx, v1.MediaTypeImageConfig, v1.Image{
		Platform: v1.Platform{OS: "linux", Architecture: "amd64"},
		RootFS:   v1.RootFS{Type: "layers"},
	})
	must(t, err)
	man, err := l.PutJSON(ctx, v1.MediaTypeImageManifest, v1.Manifest{
		Versioned: specsVersioned(), MediaType: v1.MediaTypeImageManifest, Config: cfg, Layers: []v1.Descriptor{},
	})
	must(t, err)
	man.Platform = &v1.Platform{OS: "linux", Architecture: "amd64"}
	must(t, l.Tag(ctx, "app", man))
	for _, tt := range []struct {
		platform string
		wantErr  error
	}{
		{"linux/amd64", nil},
		{"linux/arm64", ErrNotFound},
	} {
		t.Run(tt.platform, func(t *testing.T) {
			p, err := ParsePlatform(tt.platform)
			must(t, err)
			_, err = l.Resolve(ctx, "app", WithPlatform(p))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Resolve(app, %s) err = %v, want %v", tt.platform, err, tt.wantErr)
			}
		})
	}
}
