package layout

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

func addFixtureSeeds(f *testing.F, name string) {
	matches, _ := filepath.Glob(filepath.Join("testdata", "layouts", "*", name))
	for _, m := range matches {
		if data, err := os.ReadFile(m); err == nil {
			f.Add(data)
		}
	}
}

func FuzzParseIndex(f *testing.F) {
	addFixtureSeeds(f, "index.json")
	f.Add([]byte(`{"schemaVersion":2,"manifests":[{"mediaType":"a/b","digest":"sha256:x","size":1,"platform":{"os":"linux","architecture":"amd64"}}],"subject":{"mediaType":"a/b","digest":"x:y","size":0}}`))
	f.Add([]byte(`{"schemaVersion":2,"manifests":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, err := ParseIndex(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidDocument) && !errors.Is(err, ErrInvalidDigest) {
				t.Fatalf("error without sentinel: %v", err)
			}
			return
		}
		if idx.SchemaVersion != 2 || idx.Manifests == nil {
			t.Fatalf("accepted %+v", idx)
		}
		for _, d := range idx.Manifests {
			if d.MediaType == "" || d.Size < 0 {
				t.Fatalf("accepted descriptor %+v", d)
			}
		}
		// What parses must survive the rest of the read path.
		_, _ = choosePlatform(idx, HostPlatform(), false)
		_ = Tags(idx)
		if _, err := marshalIndex(idx); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzParseManifest(f *testing.F) {
	matches, _ := filepath.Glob(filepath.Join("testdata", "layouts", "valid", "blobs", "sha256", "*"))
	for _, m := range matches {
		if data, err := os.ReadFile(m); err == nil && len(data) < 4096 {
			f.Add(data)
		}
	}
	f.Add([]byte(`{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"sha256:0","size":0},"layers":[{}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidDocument) && !errors.Is(err, ErrInvalidDigest) {
				t.Fatalf("error without sentinel: %v", err)
			}
			return
		}
		if m.SchemaVersion != 2 || m.Config.MediaType == "" {
			t.Fatalf("accepted %+v", m)
		}
		_ = sniff(data)
	})
}

func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"oci", "oci:v1", "a/b:c:d", "x@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "a@b:c", "@", ":", "a@b/c:d", "oci@md5:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := ParseReference(s)
		if err != nil {
			return
		}
		if ref.Dir == "" || (ref.Tag == "") == (ref.Digest == "") {
			t.Fatalf("%q parsed to %+v", s, ref)
		}
		if ref.Digest != "" {
			if err := CheckDigest(ref.Digest); err != nil {
				t.Fatalf("%q: accepted digest: %v", s, err)
			}
		} else if err := ValidateTag(ref.Tag); err != nil {
			t.Fatalf("%q: accepted tag: %v", s, err)
		}
		again, err := ParseReference(ref.String())
		if err != nil || again != ref {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, ref, ref.String(), again, err)
		}
	})
}

func FuzzParsePlatform(f *testing.F) {
	for _, s := range []string{"linux/amd64", "linux/arm64/v8", "a/b/c/d", "/", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePlatform(s)
		if err != nil {
			return
		}
		if FormatPlatform(p) != s {
			t.Fatalf("%q -> %+v -> %q", s, p, FormatPlatform(p))
		}
	})
}

// digestGrammarRE is descriptor.md's digest grammar as a regular
// expression, the reference for the hand-written validDigestSyntax.
var digestGrammarRE = regexp.MustCompile(`^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$`)

func FuzzDigestSyntax(f *testing.F) {
	for _, s := range []string{"sha256:abc", "a+b.c_d-e:x=", "a..b:c", ".a:c", "a.:c", ":", "a:", ":b", "sha256:ABC-_=", "a:b:c", "A:b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validDigestSyntax(s), digestGrammarRE.MatchString(s); got != want {
			t.Fatalf("validDigestSyntax(%q) = %v, grammar says %v", s, got, want)
		}
	})
}
