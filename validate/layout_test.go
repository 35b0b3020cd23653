package validate

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocikit/ocikit/layout"
)

// fixture is a valid layout written by ocikit's layout package: one image
// tagged "v1" (a gzip layer, a config with its diff_id, a manifest).
type fixture struct {
	dir      string
	layer    v1.Descriptor
	diffID   digest.Digest
	config   v1.Descriptor
	manifest v1.Descriptor
	cfg      v1.Image
	man      v1.Manifest
	ref      string // a WithRef name a test case computes
}

func tarGz(t testing.TB, files map[string]string) (gz, raw []byte) {
	t.Helper()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, name := range sortedKeys(files) {
		body := files[name]
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	if _, err := zw.Write(tb.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return zb.Bytes(), tb.Bytes()
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	l, err := layout.Init(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	gz, raw := tarGz(t, map[string]string{"etc/hello": "hello\n", "bin/tool": "#!/bin/sh\n"})
	f := &fixture{dir: dir, diffID: digest.FromBytes(raw)}
	f.layer, err = l.PutBlob(ctx, bytes.NewReader(gz), v1.Descriptor{MediaType: v1.MediaTypeImageLayerGzip})
	if err != nil {
		t.Fatal(err)
	}
	f.cfg = v1.Image{
		Platform: v1.Platform{OS: "linux", Architecture: "amd64"},
		Config:   v1.ImageConfig{Env: []string{"PATH=/bin"}, Cmd: []string{"/bin/tool"}},
		RootFS:   v1.RootFS{Type: "layers", DiffIDs: []digest.Digest{f.diffID}},
		History:  []v1.History{{CreatedBy: "test"}},
	}
	f.config, err = l.PutJSON(ctx, v1.MediaTypeImageConfig, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.man = v1.Manifest{
		MediaType: v1.MediaTypeImageManifest,
		Config:    f.config,
		Layers:    []v1.Descriptor{f.layer},
	}
	f.man.SchemaVersion = 2
	f.manifest, err = l.PutJSON(ctx, v1.MediaTypeImageManifest, f.man)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Tag(ctx, "v1", f.manifest); err != nil {
		t.Fatal(err)
	}
	return f
}

// putRaw stores data as a blob by hand, bypassing every check.
func (f *fixture) putRaw(t testing.TB, mediaType string, data []byte) v1.Descriptor {
	t.Helper()
	d := digest.FromBytes(data)
	p := filepath.Join(f.dir, "blobs", "sha256", d.Encoded())
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return v1.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
}

func (f *fixture) putJSON(t testing.TB, mediaType string, v any) v1.Descriptor {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return f.putRaw(t, mediaType, data)
}

// setManifest stores m and points tag v1 at it (by rewriting index.json).
func (f *fixture) setManifest(t testing.TB, m v1.Manifest) v1.Descriptor {
	t.Helper()
	d := f.putJSON(t, v1.MediaTypeImageManifest, m)
	f.setIndexEntries(t, withTag(d, "v1"))
	return d
}

func (f *fixture) setConfig(t testing.TB, c v1.Image) {
	t.Helper()
	m := f.man
	m.Config = f.putJSON(t, v1.MediaTypeImageConfig, c)
	f.setManifest(t, m)
}

func withTag(d v1.Descriptor, tag string) v1.Descriptor {
	d.Annotations = map[string]string{v1.AnnotationRefName: tag}
	return d
}

func (f *fixture) setIndexEntries(t testing.TB, ds ...v1.Descriptor) {
	t.Helper()
	idx := v1.Index{MediaType: v1.MediaTypeImageIndex, Manifests: ds}
	idx.SchemaVersion = 2
	f.writeFile(t, "index.json", mustJSON(t, idx))
}

func (f *fixture) writeFile(t testing.TB, name string, data []byte) {
	t.Helper()
	p := filepath.Join(f.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// want is an expected problem: every non-empty field must be contained in
// the problem's.
type want struct {
	sev    Severity
	path   string
	file   string
	msg    string
	clause string
}

func (w want) matches(p Problem) bool {
	return p.Severity == w.sev && strings.Contains(p.Path, w.path) && strings.Contains(p.File, w.file) &&
		strings.Contains(p.Message, w.msg) && strings.Contains(p.Clause, w.clause)
}

func TestLayoutValid(t *testing.T) {
	f := newFixture(t)
	for _, opts := range [][]Option{nil, {WithRef("v1")}, {WithRef(string(f.manifest.Digest))}, {WithAllBlobs(), WithLayerContents(), WithStrict()}} {
		r, err := Layout(context.Background(), f.dir, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Problems) != 0 || !r.Valid {
			t.Fatalf("fixture layout: %d problems:\n%v", len(r.Problems), problemsText(r))
		}
		c := r.Checked
		if c.Manifests != 1 || c.Configs != 1 || c.Layers != 1 || c.Blobs < 3 {
			t.Errorf("checked %+v, want 1 manifest, 1 config, 1 layer, 3 blobs", c)
		}
	}
}

func problemsText(r *Report) string {
	var b strings.Builder
	for _, p := range r.Problems {
		b.WriteString(p.Severity.String() + ": " + p.Error() + " [" + p.File + "]\n")
	}
	return b.String()
}

func TestLayoutProblems(t *testing.T) {
	tests := []struct {
		name   string
		opts   []Option
		mutate func(t *testing.T, f *fixture)
		want   []want
	}{
		{
			name:   "missing oci-layout",
			mutate: func(t *testing.T, f *fixture) { os.Remove(filepath.Join(f.dir, "oci-layout")) },
			want:   []want{{sev: Error, path: "oci-layout", file: "oci-layout", msg: "oci-layout file is missing", clause: "image-layout.md#content"}},
		},
		{
			name:   "bad layout version",
			mutate: func(t *testing.T, f *fixture) { f.writeFile(t, "oci-layout", []byte(`{"imageLayoutVersion":"2.0.0"}`)) },
			want:   []want{{sev: Error, path: "oci-layout → imageLayoutVersion", file: "oci-layout", msg: `got "2.0.0", want "1.0.0"`, clause: "image-layout.md#oci-layout-file"}},
		},
		{
			name:   "oci-layout not JSON",
			mutate: func(t *testing.T, f *fixture) { f.writeFile(t, "oci-layout", []byte(`imageLayoutVersion: 1.0.0`)) },
			want:   []want{{sev: Error, path: "oci-layout", file: "oci-layout", msg: "malformed JSON: invalid character 'i'", clause: "RFC 8259"}},
		},
		{
			name:   "oci-layout not an object",
			mutate: func(t *testing.T, f *fixture) { f.writeFile(t, "oci-layout", []byte(`["1.0.0"]`)) },
			want:   []want{{sev: Error, path: "oci-layout", msg: "oci-layout must be a JSON object, got an array"}},
		},
		{
			name: "malformed index.json",
			mutate: func(t *testing.T, f *fixture) {
				f.writeFile(t, "index.json", []byte("{\n  \"schemaVersion\": 2,\n  \"manifests\": [\n"))
			},
			want: []want{{sev: Error, path: "index.json", file: "index.json", msg: "malformed JSON: unexpected end of input"}},
		},
		{
			name:   "missing index.json",
			mutate: func(t *testing.T, f *fixture) { os.Remove(filepath.Join(f.dir, "index.json")) },
			want:   []want{{sev: Error, path: "index.json", msg: "index.json is missing", clause: "image-layout.md#content"}},
		},
		{
			name:   "missing blobs directory",
			mutate: func(t *testing.T, f *fixture) { os.RemoveAll(filepath.Join(f.dir, "blobs")) },
			want: []want{
				{sev: Error, path: "blobs", msg: "blobs directory is missing"},
				{sev: Error, path: "index.json → manifests[0]", msg: "referenced blob " + "sha256:"},
			},
		},
		{
			name: "malformed manifest",
			mutate: func(t *testing.T, f *fixture) {
				d := f.putRaw(t, v1.MediaTypeImageManifest, []byte(`{"schemaVersion": 2, "config": }`))
				f.setIndexEntries(t, withTag(d, "v1"))
			},
			want: []want{{sev: Error, path: "index.json → manifests[0]", file: "blobs/sha256/", msg: "malformed JSON: invalid character '}' looking for beginning of value at line 1, column 32"}},
		},
		{
			name: "descriptor size wrong",
			mutate: func(t *testing.T, f *fixture) {
				d := f.manifest
				d.Size++
				f.setIndexEntries(t, withTag(d, "v1"))
			},
			want: []want{{sev: Error, path: "index.json → manifests[0]", msg: "size mismatch", clause: "descriptor.md#properties"}},
		},
		{
			name: "layer size wrong",
			mutate: func(t *testing.T, f *fixture) {
				m := f.man
				m.Layers = []v1.Descriptor{f.layer}
				m.Layers[0].Size--
				f.setManifest(t, m)
			},
			want: []want{{sev: Error, path: "index.json → manifests[0] → layers[0]", msg: "size mismatch", clause: "descriptor.md#properties"}},
		},
		{
			name: "altered layer blob",
			mutate: func(t *testing.T, f *fixture) {
				p := filepath.Join(f.dir, filepath.FromSlash(blobFile(f.layer.Digest)))
				data, _ := os.ReadFile(p)
				data[len(data)-5] ^= 0xff
				os.WriteFile(p, data, 0o644)
			},
			want: []want{{sev: Error, path: "index.json → manifests[0] → layers[0]", file: "blobs/sha256/", msg: "does not match its digest", clause: "image-layout.md#blobs"}},
		},
		{
			name: "altered config blob",
			mutate: func(t *testing.T, f *fixture) {
				p := filepath.Join(f.dir, filepath.FromSlash(blobFile(f.config.Digest)))
				data, _ := os.ReadFile(p)
				os.WriteFile(p, bytes.Replace(data, []byte("amd64"), []byte("arm64"), 1), 0o644)
			},
			want: []want{{sev: Error, path: "index.json → manifests[0] → config", msg: "does not match its digest"}},
		},
		{
			name: "dangling layer descriptor",
			mutate: func(t *testing.T, f *fixture) {
				m := f.man
				m.Layers = []v1.Descriptor{f.layer, {MediaType: v1.MediaTypeImageLayerGzip, Digest: digest.FromString("nothing"), Size: 7}}
				f.setManifest(t, m)
			},
			want: []want{
				{sev: Error, path: "index.json → manifests[0] → layers[1]", file: "blobs/sha256/" + digest.FromString("nothing").Encoded(), msg: "referenced blob " + string(digest.FromString("nothing")) + " is missing"},
				{sev: Error, path: "index.json → manifests[0] → config", msg: "rootfs.diff_ids has 1 entry, the manifest has 2 layers"},
			},
		},
		{
			name: "dangling index entry",
			mutate: func(t *testing.T, f *fixture) {
				f.setIndexEntries(t, withTag(f.manifest, "v1"), v1.Descriptor{MediaType: v1.MediaTypeImageManifest, Digest: digest.FromString("x"), Size: 3})
			},
			want: []want{{sev: Error, path: "index.json → manifests[1]", msg: "is missing"}},
		},
		{
			name: "unknown digest algorithm",
			mutate: func(t *testing.T, f *fixture) {
				f.writeFile(t, "blobs/md5/0123abcd", []byte("abc"))
				f.setIndexEntries(t, withTag(f.manifest, "v1"), v1.Descriptor{MediaType: "application/octet-stream", Digest: "md5:0123abcd", Size: 3})
			},
			want: []want{
				{sev: Warning, path: "index.json → manifests[1].digest", file: "index.json", msg: `digest algorithm "md5" is not registered`, clause: "descriptor.md#registered-algorithms"},
				{sev: Warning, path: "index.json → manifests[1]", file: "blobs/md5/0123abcd", msg: "not verified"},
			},
		},
		{
			name: "bad sha256 encoding",
			mutate: func(t *testing.T, f *fixture) {
				d := f.manifest
				d.Digest = digest.Digest(strings.ToUpper(string(d.Digest)[:7]) + string(d.Digest)[7:])
				d.Digest = "sha256:" + digest.Digest(strings.ToUpper(d.Digest.Encoded()))
				f.setIndexEntries(t, withTag(d, "v1"))
			},
			want: []want{{sev: Error, path: "index.json → manifests[0].digest", msg: "64 lowercase hex", clause: "descriptor.md#sha-256"}},
		},
		{
			name: "index entry calls a manifest an index",
			mutate: func(t *testing.T, f *fixture) {
				d := f.manifest
				d.MediaType = v1.MediaTypeImageIndex
				f.setIndexEntries(t, withTag(d, "v1"))
			},
			want: []want{{sev: Error, path: "index.json → manifests[0]", msg: "content is an image manifest, not the image index", clause: "media-types.md"}},
		},
		{
			name: "manifest mediaType field wrong",
			mutate: func(t *testing.T, f *fixture) {
				m := f.man
				m.MediaType = v1.MediaTypeImageIndex
				f.setManifest(t, m)
			},
			want: []want{{sev: Error, path: "index.json → manifests[0] → mediaType", msg: "mediaType field is " + v1.MediaTypeImageIndex, clause: "manifest.md"}},
		},
		{
			name: "config descriptor points at the manifest",
			mutate: func(t *testing.T, f *fixture) {
				m := f.man
				m.Config = f.manifest
				m.Config.MediaType = v1.MediaTypeImageConfig
				f.setManifest(t, m)
			},
			want: []want{{sev: Error, path: "index.json → manifests[0] → config", msg: "content is an image manifest, not the image config"}},
		},
		{
			name: "diff_ids count",
			mutate: func(t *testing.T, f *fixture) {
				c := f.cfg
				c.RootFS.DiffIDs = append(c.RootFS.DiffIDs, digest.FromString("second"))
				c.History = nil
				f.setConfig(t, c)
			},
			want: []want{{sev: Error, path: "index.json → manifests[0] → config", msg: "rootfs.diff_ids has 2 entries, the manifest has 1 layer", clause: "config.md"}},
		},
		{
			name: "diff_id value (WithLayerContents)",
			opts: []Option{WithLayerContents()},
			mutate: func(t *testing.T, f *fixture) {
				c := f.cfg
				c.RootFS.DiffIDs = []digest.Digest{digest.FromString("other")}
				f.setConfig(t, c)
			},
			want: []want{{sev: Error, path: "index.json → manifests[0] → layers[0]", msg: "uncompressed layer hashes to " + "sha256:", clause: "config.md#layer-diffid"}},
		},
		{
			name: "layer tar problems (WithLayerContents)",
			opts: []Option{WithLayerContents()},
			mutate: func(t *testing.T, f *fixture) {
				var tb bytes.Buffer
				tw := tar.NewWriter(&tb)
				for _, e := range []struct {
					name string
					body string
					typ  byte
				}{
					{"etc/", "", tar.TypeDir},
					{"etc/hosts", "a", tar.TypeReg},
					{"./etc/hosts", "b", tar.TypeReg},
					{"etc/.wh.hosts", "", tar.TypeReg},
					{"etc/.wh.passwd", "not empty", tar.TypeReg},
					{"../evil", "x", tar.TypeReg},
				} {
					if err := tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body))}); err != nil {
						t.Fatal(err)
					}
					tw.Write([]byte(e.body))
				}
				tw.Close()
				var zb bytes.Buffer
				zw := gzip.NewWriter(&zb)
				zw.Write(tb.Bytes())
				zw.Close()
				d := f.putRaw(t, v1.MediaTypeImageLayerGzip, zb.Bytes())
				m := f.man
				m.Layers = []v1.Descriptor{d}
				c := f.cfg
				c.RootFS.DiffIDs = []digest.Digest{digest.FromBytes(tb.Bytes())}
				m.Config = f.putJSON(t, v1.MediaTypeImageConfig, c)
				f.setManifest(t, m)
			},
			want: []want{
				{sev: Error, path: "index.json → manifests[0] → layers[0]", msg: `duplicate tar entry "./etc/hosts"`, clause: "layer.md#distributable-format"},
				{sev: Error, path: "index.json → manifests[0] → layers[0]", msg: `whiteout for "etc/hosts" in the layer that adds it`, clause: "layer.md#whiteouts"},
				{sev: Warning, msg: `whiteout "etc/.wh.passwd" is not an empty regular file`},
				{sev: Warning, msg: `tar entry "../evil" points outside the root`},
			},
		},
		{
			name: "layer not a tar (WithLayerContents)",
			opts: []Option{WithLayerContents()},
			mutate: func(t *testing.T, f *fixture) {
				var zb bytes.Buffer
				zw := gzip.NewWriter(&zb)
				zw.Write([]byte(strings.Repeat("not a tar archive ", 100)))
				zw.Close()
				d := f.putRaw(t, v1.MediaTypeImageLayerGzip, zb.Bytes())
				m := f.man
				m.Layers = []v1.Descriptor{d}
				f.setManifest(t, m)
			},
			want: []want{
				{sev: Error, path: "index.json → manifests[0] → layers[0]", msg: "content is not a tar archive"},
			},
		},
		{
			name: "truncated gzip (WithLayerContents)",
			opts: []Option{WithLayerContents()},
			mutate: func(t *testing.T, f *fixture) {
				gz, _ := tarGz(t, map[string]string{"a": strings.Repeat("x", 5000)})
				d := f.putRaw(t, v1.MediaTypeImageLayerGzip, gz[:len(gz)-20])
				m := f.man
				m.Layers = []v1.Descriptor{d}
				f.setManifest(t, m)
			},
			want: []want{
				{sev: Error, path: "index.json → manifests[0] → layers[0]", msg: `tar entry "a": unexpected EOF`},
			},
		},
		{
			name: "config schema and semantics",
			mutate: func(t *testing.T, f *fixture) {
				d := f.putRaw(t, v1.MediaTypeImageConfig, []byte(`{"architecture":"amd64","os":"linux","config":{"Env":["NOEQUALS"],"User":7},"rootfs":{"type":"layers","diff_ids":["`+string(f.diffID)+`"]}}`))
				m := f.man
				m.Config = d
				f.setManifest(t, m)
			},
			want: []want{{sev: Error, path: "index.json → manifests[0] → config → config.User", msg: "got number, want string", clause: "config.md#properties"}},
		},
		{
			name: "config Env",
			mutate: func(t *testing.T, f *fixture) {
				c := f.cfg
				c.Config.Env = []string{"PATH=/bin", "BROKEN"}
				f.setConfig(t, c)
			},
			want: []want{{sev: Error, path: "index.json → manifests[0] → config → config.Env[1]", msg: `Env entry "BROKEN" is not VARNAME=VARVALUE`}},
		},
		{
			name: "layer says gzip, is plain tar",
			mutate: func(t *testing.T, f *fixture) {
				_, raw := tarGz(t, map[string]string{"a": "b"})
				d := f.putRaw(t, v1.MediaTypeImageLayerGzip, raw)
				m := f.man
				m.Layers = []v1.Descriptor{d}
				c := f.cfg
				c.RootFS.DiffIDs = []digest.Digest{d.Digest}
				m.Config = f.putJSON(t, v1.MediaTypeImageConfig, c)
				f.setManifest(t, m)
			},
			want: []want{{sev: Error, path: "index.json → manifests[0] → layers[0]", msg: "says gzip, but the content is not compressed", clause: "layer.md#gzip-media-types"}},
		},
		{
			name: "absent non-distributable and urls layers, absent subject",
			mutate: func(t *testing.T, f *fixture) {
				m := f.man
				m.Layers = []v1.Descriptor{
					f.layer,
					{MediaType: v1.MediaTypeImageLayerNonDistributableGzip, Digest: digest.FromString("foreign"), Size: 10}, //nolint:staticcheck
					{MediaType: v1.MediaTypeImageLayerGzip, Digest: digest.FromString("remote"), Size: 10, URLs: []string{"https://example.com/layer"}},
				}
				m.Subject = &v1.Descriptor{MediaType: v1.MediaTypeImageManifest, Digest: digest.FromString("subject"), Size: 10}
				c := f.cfg
				c.RootFS.DiffIDs = []digest.Digest{f.diffID, digest.FromString("a"), digest.FromString("b")}
				c.History = nil
				m.Config = f.putJSON(t, v1.MediaTypeImageConfig, c)
				f.setManifest(t, m)
			},
			want: []want{{sev: Warning, path: "index.json → manifests[0] → layers[1].mediaType", msg: "deprecated", clause: "layer.md#non-distributable-layers"}},
		},
		{
			name: "embedded data does not match",
			mutate: func(t *testing.T, f *fixture) {
				m := f.man
				m.Config.Data = []byte(`{"not":"it"}`)
				f.setManifest(t, m)
			},
			want: []want{{sev: Error, path: "index.json → manifests[0] → config.data", msg: "data holds 12 bytes, size says", clause: "descriptor.md#properties"}},
		},
		{
			name: "empty config needs artifactType",
			mutate: func(t *testing.T, f *fixture) {
				m := f.man
				m.Config = f.putRaw(t, v1.MediaTypeEmptyJSON, []byte("{}"))
				m.Layers = []v1.Descriptor{m.Config}
				f.setManifest(t, m)
			},
			want: []want{{sev: Error, path: "index.json → manifests[0] → artifactType", msg: "artifactType MUST be set", clause: "manifest.md#guidelines-for-artifact-usage"}},
		},
		{
			name: "bad ref.name",
			mutate: func(t *testing.T, f *fixture) {
				f.setIndexEntries(t, withTag(f.manifest, "v1"), withTag(f.manifest, "-bad tag"))
			},
			want: []want{{sev: Error, path: `index.json → manifests[1].annotations["org.opencontainers.image.ref.name"]`, msg: "does not match the reference grammar", clause: "annotations.md"}},
		},
		{
			name: "duplicate tag",
			mutate: func(t *testing.T, f *fixture) {
				f.setIndexEntries(t, withTag(f.manifest, "v1"), withTag(f.manifest, "v1"))
			},
			want: []want{{sev: Warning, path: "index.json → manifests[1]", msg: `ref.name "v1" is also on manifests[0]`}},
		},
		{
			name: "duplicate JSON key",
			mutate: func(t *testing.T, f *fixture) {
				f.writeFile(t, "index.json", []byte(`{"schemaVersion":2,"manifests":[],"annotations":{"a":"1","a":"2"}}`))
			},
			want: []want{{sev: Error, path: "index.json → annotations.a", msg: `duplicate key "a"`, clause: "annotations.md#rules"}},
		},
		{
			name: "index platform differs from config",
			mutate: func(t *testing.T, f *fixture) {
				d := withTag(f.manifest, "v1")
				d.Platform = &v1.Platform{OS: "linux", Architecture: "arm64"}
				f.setIndexEntries(t, d)
			},
			want: []want{{sev: Warning, path: "index.json → manifests[0].platform", file: "index.json", msg: "platform linux/arm64 differs from the image config's linux/amd64"}},
		},
		{
			name: "unknown platform values",
			mutate: func(t *testing.T, f *fixture) {
				d := withTag(f.manifest, "v1")
				d.Platform = &v1.Platform{OS: "linux", Architecture: "amd64", Variant: "v9"}
				f.setIndexEntries(t, d)
			},
			want: []want{{sev: Warning, path: "index.json → manifests[0].platform.variant", msg: `variant "v9" is not a known variant of amd64`, clause: "image-index.md#platform-variants"}},
		},
		{
			name: "bad blob file name",
			mutate: func(t *testing.T, f *fixture) {
				f.writeFile(t, "blobs/sha256/NOT-HEX", []byte("x"))
				f.writeFile(t, "blobs/Bad Alg/abc", []byte("x"))
			},
			want: []want{
				{sev: Error, path: "blobs/sha256/NOT-HEX", msg: "not a valid sha256 encoding"},
				{sev: Error, path: "blobs/Bad Alg", msg: "does not match the digest algorithm grammar", clause: "image-layout.md#blobs"},
			},
		},
		{
			name: "altered unreferenced blob (WithAllBlobs)",
			opts: []Option{WithAllBlobs()},
			mutate: func(t *testing.T, f *fixture) {
				f.writeFile(t, "blobs/sha256/"+digest.FromString("a").Encoded(), []byte("b"))
			},
			want: []want{{sev: Error, path: "blobs/sha256/" + digest.FromString("a").Encoded(), msg: "does not match its digest"}},
		},
		{
			name:   "missing tag (WithRef)",
			opts:   []Option{WithRef("v2")},
			mutate: func(t *testing.T, f *fixture) {},
			want:   []want{{sev: Error, path: "index.json", msg: `no entry with ref.name "v2"`}},
		},
		{
			name: "untagged manifest by digest (WithRef)",
			mutate: func(t *testing.T, f *fixture) {
				m := f.man
				m.Layers = []v1.Descriptor{{MediaType: v1.MediaTypeImageLayerGzip, Digest: digest.FromString("gone"), Size: 4}}
				d := f.putJSON(t, v1.MediaTypeImageManifest, m)
				// Point the option at the new, untagged manifest.
				f.ref = string(d.Digest)
			},
			want: []want{
				{sev: Error, path: "blobs/sha256/", msg: "referenced blob " + string(digest.FromString("gone")) + " is missing"},
			},
		},
		{
			name: "nested index",
			mutate: func(t *testing.T, f *fixture) {
				bad := f.manifest
				bad.Size = 1
				idx := v1.Index{MediaType: v1.MediaTypeImageIndex, Manifests: []v1.Descriptor{f.manifest, bad}}
				idx.SchemaVersion = 2
				d := f.putJSON(t, v1.MediaTypeImageIndex, idx)
				f.setIndexEntries(t, withTag(d, "v1"))
			},
			want: []want{{sev: Error, path: "index.json → manifests[0] → manifests[1]", msg: "size mismatch"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			tt.mutate(t, f)
			opts := tt.opts
			if f.ref != "" {
				opts = append(opts, WithRef(f.ref))
			}
			r, err := Layout(context.Background(), f.dir, opts...)
			if err != nil {
				t.Fatal(err)
			}
			got := problemsText(r)
			t.Log("\n" + got)
			matched := make([]bool, len(r.Problems))
			for _, w := range tt.want {
				found := false
				for i, p := range r.Problems {
					if w.matches(p) {
						found, matched[i] = true, true
					}
				}
				if !found {
					t.Errorf("missing problem %+v; got:\n%s", w, got)
				}
			}
			for i, p := range r.Problems {
				if !matched[i] && p.Severity == Error {
					t.Errorf("unexpected error: %v [%s]", p, p.File)
				}
			}
			wantValid := true
			for _, w := range tt.want {
				if w.sev == Error {
					wantValid = false
				}
			}
			if r.Valid != wantValid {
				t.Errorf("Valid = %v, want %v", r.Valid, wantValid)
			}
			if !r.Valid && r.Err() == nil {
				t.Error("invalid report with nil Err")
			}
		})
	}
}

func TestLayoutNotADirectory(t *testing.T) {
	_, err := Layout(context.Background(), filepath.Join(t.TempDir(), "nope"))
	if !errors.Is(err, ErrNotLayout) {
		t.Fatalf("err = %v, want ErrNotLayout", err)
	}
}

func TestLayoutCancelled(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Layout(ctx, f.dir); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestLocString(t *testing.T) {
	l := rootLoc("index.json").field("manifests").index(0).enter().field("layers").index(2)
	if got, want := l.String(), "index.json → manifests[0] → layers[2]"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	l = rootLoc("index.json").field("annotations").field("org.opencontainers.image.ref.name")
	if got, want := l.String(), `index.json → annotations["org.opencontainers.image.ref.name"]`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func FuzzDocument(f *testing.F) {
	for _, s := range []string{
		`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"sha256:` + strings.Repeat("a", 64) + `","platform":{"os":"linux","architecture":"arm","variant":"v7"}}]}`,
		`{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.empty.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","data":"e30="},"layers":[]}`,
		`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:x"]},"history":[{"empty_layer":true}]}`,
		`{"imageLayoutVersion":"1.0.0"}`,
		`{"a":1,"a":[1,2,{"b":null}]}`,
		`[`,
	} {
		f.Add(s)
	}
	types := []string{v1.MediaTypeImageIndex, v1.MediaTypeImageManifest, v1.MediaTypeImageConfig, v1.MediaTypeDescriptor, v1.MediaTypeLayoutHeader}
	f.Fuzz(func(t *testing.T, doc string) {
		for _, mt := range types {
			r := Document(mt, []byte(doc))
			if r.Valid != (r.Err() == nil) {
				t.Fatalf("Valid=%v but Err=%v", r.Valid, r.Err())
			}
		}
	})
}

// BenchmarkLayout validates a layout of 200 images sharing a base layer,
// each with its own small layer, config and manifest.
func BenchmarkLayout(b *testing.B) {
	f := newFixture(b)
	var entries []v1.Descriptor
	for i := 0; i < 200; i++ {
		gz, raw := tarGz(b, map[string]string{"srv/id": strings.Repeat("x", i)})
		top := f.putRaw(b, v1.MediaTypeImageLayerGzip, gz)
		c := f.cfg
		c.RootFS.DiffIDs = []digest.Digest{f.diffID, digest.FromBytes(raw)}
		c.History = nil
		m := f.man
		m.Config = f.putJSON(b, v1.MediaTypeImageConfig, c)
		m.Layers = []v1.Descriptor{f.layer, top}
		entries = append(entries, withTag(f.putJSON(b, v1.MediaTypeImageManifest, m), "img-"+strings.Repeat("1", i%7+1)+string(rune('a'+i%26))))
	}
	f.setIndexEntries(b, entries...)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := Layout(context.Background(), f.dir)
		if err != nil || r.Errors != 0 {
			b.Fatalf("%v %v", err, r.Err())
		}
	}
}

// FuzzLayoutIndex walks a layout whose index.json and one manifest blob are
// fuzzed: the walker must not panic whatever the documents say.
func FuzzLayoutIndex(f *testing.F) {
	fx := newFixture(f)
	idx, err := os.ReadFile(filepath.Join(fx.dir, "index.json"))
	if err != nil {
		f.Fatal(err)
	}
	man, err := os.ReadFile(filepath.Join(fx.dir, filepath.FromSlash(blobFile(fx.manifest.Digest))))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(idx, man)
	f.Add([]byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:`+fx.manifest.Digest.Encoded()+`","size":1,"data":"e30="}]}`), man)
	f.Add([]byte(`{"manifests":[{"digest":"md5:x","size":-1,"mediaType":"a/b","urls":["::"]}]}`), []byte(`{"layers":[{"digest":"sha256:`+strings.Repeat("0", 64)+`"}]}`))
	// One directory for every input (a fuzz worker runs them one at a
	// time): the fixture's blobs, then the fuzzed files written over.
	dir := f.TempDir()
	for _, name := range []string{"oci-layout", filepath.FromSlash(blobFile(fx.config.Digest)), filepath.FromSlash(blobFile(fx.layer.Digest))} {
		data, err := os.ReadFile(filepath.Join(fx.dir, name))
		if err != nil {
			f.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, index, manifest []byte) {
		// The fuzzed manifest is stored under the digest index.json's
		// first entry may name (the fixture's) and under its own.
		own := filepath.Join(dir, filepath.FromSlash(blobFile(digest.FromBytes(manifest))))
		defer os.Remove(own)
		for _, p := range []string{filepath.Join(dir, filepath.FromSlash(blobFile(fx.manifest.Digest))), own} {
			if err := os.WriteFile(p, manifest, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "index.json"), index, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Layout(context.Background(), dir, WithLayerContents(), WithAllBlobs())
		if err != nil {
			t.Fatal(err)
		}
		if r.Valid != (r.Err() == nil) {
			t.Fatalf("Valid=%v, Err=%v", r.Valid, r.Err())
		}
	})
}

func TestDeepJSON(t *testing.T) {
	for _, depth := range []int{9000, 200000} {
		doc := strings.Repeat("[", depth) + strings.Repeat("]", depth)
		r := Document(v1.MediaTypeImageIndex, []byte(doc))
		if r.Valid || len(r.Problems) != 1 {
			t.Errorf("depth %d: %v", depth, r.Problems)
		}
		doc = `{"a":` + strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth+1)
		r = Document(v1.MediaTypeImageConfig, []byte(doc))
		if r.Valid {
			t.Errorf("depth %d: valid", depth)
		}
	}
}
