package mutate

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/layer"
	"github.com/ocikit/ocikit/layout"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

var epoch = time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC)

func newLayout(t *testing.T) *layout.Layout {
	t.Helper()
	l, err := layout.Init(context.Background(), filepath.Join(t.TempDir(), "layout"))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func tree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc/hello"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// diffIDOf decompresses a stored layer and hashes it.
func diffIDOf(t *testing.T, l *layout.Layout, desc v1.Descriptor) digest.Digest {
	t.Helper()
	ctx := context.Background()
	rc, err := l.OpenBlob(ctx, desc)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	dr, err := layer.Decompress(desc.MediaType, rc)
	if err != nil {
		t.Fatal(err)
	}
	defer dr.Close()
	d, err := digest.SHA256.FromReader(dr)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestNewAppendEdit(t *testing.T) {
	ctx := context.Background()
	l := newLayout(t)
	p := v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	d0, err := New(ctx, l, "app", p, WithCreated(epoch))
	if err != nil {
		t.Fatal(err)
	}
	img, err := l.Resolve(ctx, "app", layout.WithPlatform(p))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := l.ReadBlob(ctx, img.Manifest.Config)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"rootfs":{"type":"layers","diff_ids":[]}`) || len(img.Manifest.Layers) != 0 {
		t.Fatalf("empty image: config %s, %d layers", raw, len(img.Manifest.Layers))
	}
	if img.Config.Created == nil || !img.Config.Created.Equal(epoch) || img.Config.Variant != "v8" {
		t.Errorf("config created %v variant %q", img.Config.Created, img.Config.Variant)
	}

	for _, c := range []layer.Compression{layer.Gzip, layer.Zstd, layer.Uncompressed} {
		t.Run("append "+c.String(), func(t *testing.T) {
			before, err := l.Resolve(ctx, "app", layout.WithPlatform(p))
			if err != nil {
				t.Fatal(err)
			}
			h := v1.History{CreatedBy: "test", Comment: c.String()}
			desc, err := AppendLayer(ctx, l, "app", before.Manifest, before.Config, DirLayer(tree(t)),
				WithCompression(c), WithHistory(h), WithCreated(epoch))
			if err != nil {
				t.Fatal(err)
			}
			if desc.Platform == nil || desc.Platform.Architecture != "arm64" {
				t.Errorf("tagged descriptor platform %+v", desc.Platform)
			}
			after, err := l.Resolve(ctx, "app", layout.WithPlatform(p))
			if err != nil {
				t.Fatal(err)
			}
			n := len(after.Manifest.Layers)
			if n != len(before.Manifest.Layers)+1 || len(after.Config.RootFS.DiffIDs) != n || len(after.Config.History) != len(before.Config.History)+1 {
				t.Fatalf("%d layers, %d diff_ids, %d history", n, len(after.Config.RootFS.DiffIDs), len(after.Config.History))
			}
			top := after.Manifest.Layers[n-1]
			if top.MediaType != c.MediaType() {
				t.Errorf("media type %s, want %s", top.MediaType, c.MediaType())
			}
			if got := diffIDOf(t, l, top); got != after.Config.RootFS.DiffIDs[n-1] {
				t.Errorf("diff_id %s, layer hashes to %s", after.Config.RootFS.DiffIDs[n-1], got)
			}
			last := after.Config.History[len(after.Config.History)-1]
			if last.Comment != c.String() || last.CreatedBy != "test" || !last.Created.Equal(epoch) || last.EmptyLayer {
				t.Errorf("history %+v", last)
			}
			// The previous image stays until GC.
			if _, err := l.StatBlob(ctx, before.Descriptor.Digest); err != nil {
				t.Errorf("previous manifest gone: %v", err)
			}
		})
	}

	before, err := l.Resolve(ctx, "app", layout.WithPlatform(p))
	if err != nil {
		t.Fatal(err)
	}
	ep := []string{"/bin/sh", "-c"}
	_, err = EditConfig(ctx, l, "app", before.Manifest, before.Config, ConfigChange{Entrypoint: &ep, Env: []string{"A=1"}, Annotations: map[string]string{"k": "v"}},
		WithHistory(v1.History{Comment: "cfg"}), WithCreated(epoch))
	if err != nil {
		t.Fatal(err)
	}
	after, err := l.Resolve(ctx, "app", layout.WithPlatform(p))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(after.Config.Config.Entrypoint, ep) || !reflect.DeepEqual(after.Config.Config.Env, []string{"A=1"}) || after.Manifest.Annotations["k"] != "v" {
		t.Errorf("config %+v annotations %v", after.Config.Config, after.Manifest.Annotations)
	}
	if !reflect.DeepEqual(after.Manifest.Layers, before.Manifest.Layers) {
		t.Error("config edit changed the layers")
	}
	if last := after.Config.History[len(after.Config.History)-1]; !last.EmptyLayer || last.Comment != "cfg" {
		t.Errorf("history %+v, want an empty_layer entry", last)
	}
	if d0.Digest == after.Descriptor.Digest {
		t.Error("tag did not move")
	}
}

func TestReproducible(t *testing.T) {
	ctx := context.Background()
	src := tree(t)
	build := func() digest.Digest {
		l := newLayout(t)
		if _, err := New(ctx, l, "x", v1.Platform{OS: "linux", Architecture: "amd64"}, WithCreated(epoch)); err != nil {
			t.Fatal(err)
		}
		img, err := l.Resolve(ctx, "x", layout.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}))
		if err != nil {
			t.Fatal(err)
		}
		d, err := AppendLayer(ctx, l, "x", img.Manifest, img.Config, DirLayer(src, layer.WithSourceDateEpoch(epoch)), WithCreated(epoch))
		if err != nil {
			t.Fatal(err)
		}
		return d.Digest
	}
	if a, b := build(), build(); a != b {
		t.Errorf("same input, different manifests: %s %s", a, b)
	}
}

func TestTarLayer(t *testing.T) {
	ctx := context.Background()
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	tw.WriteHeader(&tar.Header{Name: "f", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg})
	tw.Write([]byte("hi"))
	tw.Close()
	var gzBuf bytes.Buffer
	zw := gzip.NewWriter(&gzBuf)
	zw.Write(tarBuf.Bytes())
	zw.Close()
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		file    string
		want    []byte
		wantErr error
	}{
		{"tar", write("a.tar", tarBuf.Bytes()), tarBuf.Bytes(), nil},
		{"tar.gz", write("a.tar.gz", gzBuf.Bytes()), tarBuf.Bytes(), nil},
		{"text", write("a.txt", []byte(strings.Repeat("not a tar\n", 100))), nil, ErrNotTar},
		{"empty", write("empty", nil), nil, ErrNotTar},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := TarLayer(tt.file)(ctx, &out)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), tt.want) {
				t.Errorf("copied %d bytes, want the %d of the archive", out.Len(), len(tt.want))
			}
		})
	}
}

func TestCommitChecks(t *testing.T) {
	ctx := context.Background()
	l := newLayout(t)
	bad := v1.Image{RootFS: v1.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromString("x")}}}
	if _, err := Commit(ctx, l, "t", v1.Manifest{}, bad); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("diff_ids without layers: %v", err)
	}
	if _, err := Commit(ctx, l, "t", v1.Manifest{}, v1.Image{}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("no rootfs type: %v", err)
	}
	if _, err := New(ctx, l, "t", v1.Platform{}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("no platform: %v", err)
	}
	failing := func(context.Context, io.Writer) error { return errors.New("boom") }
	img := v1.Image{RootFS: v1.RootFS{Type: "layers"}}
	if _, err := AppendLayer(ctx, l, "t", v1.Manifest{}, img, failing); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("failing generator: %v", err)
	}
}

func TestConfigChangeApply(t *testing.T) {
	str := func(s string) *string { return &s }
	list := func(s ...string) *[]string { return &s }
	base := func() (v1.Manifest, v1.Image) {
		return v1.Manifest{Annotations: map[string]string{"a": "1"}}, v1.Image{Config: v1.ImageConfig{
			Env:          []string{"PATH=/bin", "HOME=/root"},
			Entrypoint:   []string{"/bin/sh"},
			Cmd:          []string{"-c", "true"},
			Labels:       map[string]string{"l": "1"},
			ExposedPorts: map[string]struct{}{"80/tcp": {}},
			Volumes:      map[string]struct{}{"/data": {}},
		}}
	}
	tests := []struct {
		name    string
		change  ConfigChange
		check   func(m v1.Manifest, c v1.ImageConfig) bool
		wantErr bool
	}{
		{"env replace and add", ConfigChange{Env: []string{"PATH=/usr/bin", "X=1=2"}},
			func(_ v1.Manifest, c v1.ImageConfig) bool {
				return reflect.DeepEqual(c.Env, []string{"PATH=/usr/bin", "HOME=/root", "X=1=2"})
			}, false},
		{"clear env", ConfigChange{ClearEnv: true, Env: []string{"A="}},
			func(_ v1.Manifest, c v1.ImageConfig) bool { return reflect.DeepEqual(c.Env, []string{"A="}) }, false},
		{"entrypoint clear, cmd set", ConfigChange{Entrypoint: list(), Cmd: list("echo", "hi")},
			func(_ v1.Manifest, c v1.ImageConfig) bool {
				return c.Entrypoint == nil && reflect.DeepEqual(c.Cmd, []string{"echo", "hi"})
			}, false},
		{"scalars", ConfigChange{WorkingDir: str("/w"), User: str("1000:1000"), StopSignal: str("SIGRTMIN+3")},
			func(_ v1.Manifest, c v1.ImageConfig) bool {
				return c.WorkingDir == "/w" && c.User == "1000:1000" && c.StopSignal == "SIGRTMIN+3"
			}, false},
		{"ports and volumes", ConfigChange{ExposedPorts: []string{"53/udp", "8080"}, ClearVolumes: true, Volumes: []string{"/v"}},
			func(_ v1.Manifest, c v1.ImageConfig) bool {
				return len(c.ExposedPorts) == 3 && hasKey(c.ExposedPorts, "8080/tcp") && hasKey(c.ExposedPorts, "53/udp") &&
					len(c.Volumes) == 1 && hasKey(c.Volumes, "/v")
			}, false},
		{"labels and annotations", ConfigChange{Labels: map[string]string{"m": "2"}, ClearAnnotations: true, Annotations: map[string]string{"b": ""}},
			func(m v1.Manifest, c v1.ImageConfig) bool {
				return reflect.DeepEqual(c.Labels, map[string]string{"l": "1", "m": "2"}) && reflect.DeepEqual(m.Annotations, map[string]string{"b": ""})
			}, false},
		{"bad env", ConfigChange{Env: []string{"=x"}}, nil, true},
		{"bad port", ConfigChange{ExposedPorts: []string{"80/icmp"}}, nil, true},
		{"port zero", ConfigChange{ExposedPorts: []string{"0"}}, nil, true},
		{"relative volume", ConfigChange{Volumes: []string{"data"}}, nil, true},
		{"bad signal", ConfigChange{StopSignal: str("TERM now")}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, img := base()
			m0, img0 := base()
			err := tt.change.Apply(&m, &img)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("err %v, want ErrInvalidConfig", err)
				}
				if !reflect.DeepEqual(m, m0) || !reflect.DeepEqual(img, img0) {
					t.Error("failed change modified the image")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(m, img.Config) {
				got, _ := json.Marshal(img.Config)
				t.Errorf("config %s annotations %v", got, m.Annotations)
			}
		})
	}
}

func hasKey(m map[string]struct{}, k string) bool { _, ok := m[k]; return ok }

func TestParseArgList(t *testing.T) {
	tests := []struct {
		in      []string
		want    []string
		wantErr bool
	}{
		{[]string{"/bin/sh", "-c", "echo hi"}, []string{"/bin/sh", "-c", "echo hi"}, false},
		{[]string{`["/bin/sh","-c","echo hi"]`}, []string{"/bin/sh", "-c", "echo hi"}, false},
		{[]string{`[]`}, []string{}, false},
		{[]string{"[oops"}, nil, true},
		{[]string{`[1,2]`}, nil, true},
		{[]string{"[a", "b]"}, []string{"[a", "b]"}, false}, // several values: elements, not JSON
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.in, " "), func(t *testing.T) {
			got, err := ParseArgList(tt.in)
			if (err != nil) != tt.wantErr || (!tt.wantErr && !reflect.DeepEqual(got, tt.want)) {
				t.Errorf("got %q %v", got, err)
			}
		})
	}
	if _, err := ParseKeyValues("label", []string{"novalue"}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("label without '=': %v", err)
	}
	if m, err := ParseKeyValues("label", []string{"a=b=c", "e="}); err != nil || m["a"] != "b=c" || m["e"] != "" {
		t.Errorf("got %v %v", m, err)
	}
}

// narrowStore hides everything of a layout but what Store asks for.
type narrowStore struct {
	content.Ingester
	content.Tagger
}

// failTagger refuses every tag, as a store missing the target would.
type failTagger struct{}

func (failTagger) Tag(context.Context, string, v1.Descriptor) error {
	return fmt.Errorf("tag: %w", errdefs.ErrNotFound)
}

// TestStore writes through nothing but content.Ingester and content.Tagger,
// and passes a failing Tag through with its kind.
func TestStore(t *testing.T) {
	ctx := context.Background()
	l := newLayout(t)
	p := v1.Platform{OS: "linux", Architecture: "amd64"}
	if _, err := New(ctx, narrowStore{l, l}, "app", p, WithCreated(epoch)); err != nil {
		t.Fatal(err)
	}
	img, err := l.Resolve(ctx, "app", layout.WithPlatform(p))
	if err != nil {
		t.Fatal(err)
	}
	dir := tree(t)
	gen := DirLayer(dir)
	d, err := AppendLayer(ctx, narrowStore{l, l}, "app", img.Manifest, img.Config, gen, WithCreated(epoch))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := l.Lookup(ctx, "app"); err != nil || got.Digest != d.Digest {
		t.Fatalf("app is %s, %v; want %s", got.Digest, err, d.Digest)
	}
	_, err = AppendLayer(ctx, narrowStore{l, failTagger{}}, "app", img.Manifest, img.Config, gen, WithCreated(epoch))
	if !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("AppendLayer with a failing tagger: err = %v, want kind errdefs.ErrNotFound", err)
	}
}
