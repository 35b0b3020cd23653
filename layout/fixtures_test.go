package layout

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

var updateFixtures = flag.Bool("update-fixtures", false, "regenerate layout/testdata/layouts")

var (
	amd64   = v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64   = v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	armv7   = v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}
	s390x   = v1.Platform{OS: "linux", Architecture: "s390x"}
	windows = v1.Platform{OS: "windows", Architecture: "amd64"}
)

// buildValid makes the "valid" fixture: a single-platform image, a
// multi-platform index, a nested index and an artifact whose subject is
// the single image.
func buildValid(t testing.TB, dir string) {
	ctx := context.Background()
	l, err := Init(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	single := putImage(t, l, amd64, "single")
	mustTag(t, l, "v1", single)
	multi := putIndex(t, l,
		withPlatform(putImage(t, l, amd64, "multi-amd64"), amd64),
		withPlatform(putImage(t, l, arm64, "multi-arm64"), arm64),
		withPlatform(putImage(t, l, armv7, "multi-armv7"), armv7),
	)
	mustTag(t, l, "multi", multi)
	mustTag(t, l, "nested", putIndex(t, l, multi))
	art := v1.Manifest{
		Versioned:    specsVersioned(),
		MediaType:    v1.MediaTypeImageManifest,
		ArtifactType: "application/vnd.example.sig",
		Config:       v1.DescriptorEmptyJSON,
		Layers:       []v1.Descriptor{v1.DescriptorEmptyJSON},
		Subject:      &single,
	}
	if _, err := l.PutBlob(ctx, bytes.NewReader([]byte("{}")), v1.DescriptorEmptyJSON); err != nil {
		t.Fatal(err)
	}
	ad, err := l.PutJSON(ctx, v1.MediaTypeImageManifest, art)
	if err != nil {
		t.Fatal(err)
	}
	ad.ArtifactType = art.ArtifactType
	mustTag(t, l, "sig", ad)
}

// brokenFixtures derive from a one-image layout (tag "latest"); each
// mutation breaks one thing. want is the sentinel Open or Resolve reports.
var brokenFixtures = []struct {
	name   string
	mutate func(t testing.TB, dir string, manifest, config v1.Descriptor)
}{
	{"no-oci-layout", func(t testing.TB, dir string, _, _ v1.Descriptor) {
		must(t, os.Remove(filepath.Join(dir, "oci-layout")))
	}},
	{"bad-version", func(t testing.TB, dir string, _, _ v1.Descriptor) {
		writeFile(t, filepath.Join(dir, "oci-layout"), `{"imageLayoutVersion":"2.0.0"}`)
	}},
	{"bad-oci-layout-json", func(t testing.TB, dir string, _, _ v1.Descriptor) {
		writeFile(t, filepath.Join(dir, "oci-layout"), `{"imageLayoutVersion":`)
	}},
	{"bad-index-json", func(t testing.TB, dir string, _, _ v1.Descriptor) {
		data, err := os.ReadFile(filepath.Join(dir, "index.json"))
		must(t, err)
		writeFile(t, filepath.Join(dir, "index.json"), string(data[:len(data)/2]))
	}},
	{"index-schema-1", func(t testing.TB, dir string, _, _ v1.Descriptor) {
		editIndex(t, dir, func(m map[string]any) { m["schemaVersion"] = 1 })
	}},
	{"altered-manifest", func(t testing.TB, dir string, manifest, _ v1.Descriptor) {
		path := filepath.Join(dir, "blobs", "sha256", manifest.Digest.Encoded())
		data, err := os.ReadFile(path)
		must(t, err)
		data = bytes.Replace(data, []byte(`"schemaVersion":2`), []byte(`"schemaVersion":3`), 1)
		writeFile(t, path, string(data))
	}},
	{"truncated-config", func(t testing.TB, dir string, _, config v1.Descriptor) {
		path := filepath.Join(dir, "blobs", "sha256", config.Digest.Encoded())
		data, err := os.ReadFile(path)
		must(t, err)
		writeFile(t, path, string(data[:len(data)-5]))
	}},
	{"dangling-manifest", func(t testing.TB, dir string, manifest, _ v1.Descriptor) {
		must(t, os.Remove(filepath.Join(dir, "blobs", "sha256", manifest.Digest.Encoded())))
	}},
	{"unknown-digest", func(t testing.TB, dir string, _, _ v1.Descriptor) {
		editIndex(t, dir, func(m map[string]any) {
			m["manifests"].([]any)[0].(map[string]any)["digest"] = "md5:d41d8cd98f00b204e9800998ecf8427e"
		})
	}},
	{"wrong-size", func(t testing.TB, dir string, manifest, _ v1.Descriptor) {
		editIndex(t, dir, func(m map[string]any) {
			m["manifests"].([]any)[0].(map[string]any)["size"] = manifest.Size + 7
		})
	}},
	{"invalid-digest", func(t testing.TB, dir string, _, _ v1.Descriptor) {
		editIndex(t, dir, func(m map[string]any) {
			m["manifests"].([]any)[0].(map[string]any)["digest"] = "sha256:NOT-HEX"
		})
	}},
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	must(t, os.WriteFile(path, []byte(content), 0o644))
}

func editIndex(t testing.TB, dir string, fn func(map[string]any)) {
	t.Helper()
	path := filepath.Join(dir, "index.json")
	data, err := os.ReadFile(path)
	must(t, err)
	var m map[string]any
	must(t, json.Unmarshal(data, &m))
	fn(m)
	out, err := json.Marshal(m)
	must(t, err)
	writeFile(t, path, string(out))
}

func buildBroken(t testing.TB, dir string, mutate func(testing.TB, string, v1.Descriptor, v1.Descriptor)) {
	l, err := Init(context.Background(), dir)
	must(t, err)
	m := putImage(t, l, amd64, "broken")
	mustTag(t, l, "latest", m)
	data, err := l.ReadBlob(context.Background(), m)
	must(t, err)
	man, err := ParseManifest(data)
	must(t, err)
	mutate(t, dir, m, man.Config)
}

func fixture(name string) string { return filepath.Join("testdata", "layouts", name) }

// TestFixtures regenerates the fixture layouts with -update-fixtures and
// otherwise checks that the checked-in ones are what the generator makes,
// so fixtures and code cannot drift apart.
func TestFixtures(t *testing.T) {
	build := func(t *testing.T, name string, fn func(string)) {
		gen := filepath.Join(t.TempDir(), name)
		fn(gen)
		if *updateFixtures {
			must(t, os.RemoveAll(fixture(name)))
			must(t, os.MkdirAll(filepath.Dir(fixture(name)), 0o755))
			must(t, os.Rename(gen, fixture(name)))
			return
		}
		if got, want := treeHash(t, fixture(name)), treeHash(t, gen); got != want {
			t.Fatalf("fixture %s differs from the generator; run go test ./layout -run TestFixtures -update-fixtures\nchecked in:\n%s\ngenerated:\n%s", name, got, want)
		}
	}
	t.Run("valid", func(t *testing.T) { build(t, "valid", func(d string) { buildValid(t, d) }) })
	for _, bf := range brokenFixtures {
		t.Run(bf.name, func(t *testing.T) { build(t, bf.name, func(d string) { buildBroken(t, d, bf.mutate) }) })
	}
}
