package bundle

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/convert"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/layer"
	"github.com/ocikit/ocikit/layout"
	"github.com/ocikit/ocikit/repack"
	"github.com/ocikit/ocikit/validate"
)

// testImage stores in a new layout an image of one gzip layer holding
// files (name -> content; a name ending in "/" is a directory) and the
// given config, tags it "t" and returns it resolved.
func testImage(t *testing.T, files map[string]string, cfg v1.ImageConfig) (*layout.Layout, *layout.Image) {
	t.Helper()
	ctx := context.Background()
	src := t.TempDir()
	for name, content := range files {
		p := filepath.Join(src, name)
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var tarBuf, gzBuf bytes.Buffer
	if err := layer.GenerateDir(ctx, &tarBuf, src); err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(&gzBuf)
	if _, err := zw.Write(tarBuf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	l, err := layout.Init(ctx, filepath.Join(t.TempDir(), "layout"))
	if err != nil {
		t.Fatal(err)
	}
	layerDesc, err := l.PutBlob(ctx, bytes.NewReader(gzBuf.Bytes()), v1.Descriptor{MediaType: v1.MediaTypeImageLayerGzip})
	if err != nil {
		t.Fatal(err)
	}
	img := v1.Image{
		Platform: layout.HostPlatform(),
		Config:   cfg,
		RootFS:   v1.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromBytes(tarBuf.Bytes())}},
	}
	img.OS = "linux"
	cfgDesc, err := l.PutJSON(ctx, v1.MediaTypeImageConfig, img)
	if err != nil {
		t.Fatal(err)
	}
	m := v1.Manifest{MediaType: v1.MediaTypeImageManifest, Config: cfgDesc, Layers: []v1.Descriptor{layerDesc}}
	m.SchemaVersion = 2
	mDesc, err := l.PutJSON(ctx, v1.MediaTypeImageManifest, m)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Tag(ctx, "t", mDesc); err != nil {
		t.Fatal(err)
	}
	resolved, err := l.Resolve(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	return l, resolved
}

var baseFiles = map[string]string{
	"etc/passwd":  "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n",
	"etc/group":   "root:x:0:\nwheel:x:10:alice\nalice:x:1000:\n",
	"bin/app":     "#!/bin/sh\n",
	"home/alice/": "",
}

var baseConfig = v1.ImageConfig{
	User:       "alice",
	Entrypoint: []string{"/bin/app"},
	Cmd:        []string{"--serve"},
	Env:        []string{"PATH=/bin", "A=1"},
	WorkingDir: "/home/alice",
	Volumes:    map[string]struct{}{"/data": {}},
}

func readConfig(t *testing.T, dir string) *specs.Spec {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func TestUnpack(t *testing.T) {
	ctx := context.Background()
	l, img := testImage(t, baseFiles, baseConfig)
	dir := filepath.Join(t.TempDir(), "bundle")
	err := Unpack(ctx, l, img, dir,
		WithTag("t"),
		WithConvertOptions(convert.WithEnv("B=2"), convert.WithVolumesAsMounts()))
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != dirMode {
		t.Errorf("bundle dir: %v %v, want mode %o", fi.Mode(), err, dirMode)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "rootfs", "bin", "app")); err != nil || string(data) != "#!/bin/sh\n" {
		t.Errorf("rootfs/bin/app = %q, %v", data, err)
	}
	fi, err = os.Stat(filepath.Join(dir, ConfigFile))
	if err != nil || fi.Mode().Perm() != configMode {
		t.Errorf("config.json: %v, want mode %o", err, configMode)
	}
	s := readConfig(t, dir)
	p := s.Process
	if !slices.Equal(p.Args, []string{"/bin/app", "--serve"}) || p.Cwd != "/home/alice" ||
		p.User.UID != 1000 || p.User.GID != 1000 || !slices.Equal(p.User.AdditionalGids, []uint32{10}) {
		t.Errorf("process = %+v", p)
	}
	if !slices.Equal(p.Env, []string{"PATH=/bin", "A=1", "B=2", "HOME=/home/alice"}) {
		t.Errorf("env = %q", p.Env)
	}
	if s.Root.Path != RootfsDir || s.Root.Readonly || p.Terminal {
		t.Errorf("root = %+v terminal = %v", s.Root, p.Terminal)
	}
	if m := s.Mounts[len(s.Mounts)-1]; m.Destination != "/data" || m.Type != "tmpfs" {
		t.Errorf("last mount = %+v, want the /data volume", m)
	}
	// The config in the bundle is exactly what convert produces.
	want, err := convert.RuntimeSpec(img.Config, filepath.Join(dir, "rootfs"), convert.WithEnv("B=2"), convert.WithVolumesAsMounts())
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, _ := json.Marshal(want)
	gotJSON, _ := json.Marshal(s)
	if !bytes.Equal(wantJSON, gotJSON) {
		t.Errorf("config.json differs from convert.RuntimeSpec:\n%s\n%s", gotJSON, wantJSON)
	}
	r, err := validate.Bundle(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Err(); err != nil {
		t.Errorf("invalid bundle: %v", err)
	}
	snap, err := repack.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Source.Digest != img.Descriptor.Digest || snap.Source.Annotations[v1.AnnotationRefName] != "t" {
		t.Errorf("snapshot source = %+v", snap.Source)
	}
	if abs, _ := filepath.Abs(l.Dir()); snap.Layout != abs {
		t.Errorf("snapshot layout = %q, want %q", snap.Layout, abs)
	}
}

func TestUnpackIntoEmptyDir(t *testing.T) {
	l, img := testImage(t, baseFiles, baseConfig)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := Unpack(context.Background(), l, img, dir); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o750 {
		t.Errorf("existing dir's mode changed: %v %v", fi.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(dir, ConfigFile)); err != nil {
		t.Error(err)
	}
}

func TestUnpackRootfsOnly(t *testing.T) {
	l, img := testImage(t, baseFiles, baseConfig)
	for _, existing := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "rootfs")
		if existing {
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		// The user is not resolved: no config.json is written.
		err := Unpack(context.Background(), l, img, dir, WithRootfsOnly(),
			WithConvertOptions(convert.WithUser("nobody-here")))
		if err != nil {
			t.Fatal(err)
		}
		names := entries(t, dir)
		if !slices.Equal(names, []string{"bin", "etc", "home"}) {
			t.Errorf("rootfs holds %q, want just the image's files", names)
		}
	}
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestUnpackErrorsLeaveTargetAlone(t *testing.T) {
	l, img := testImage(t, baseFiles, baseConfig)
	artifact := *img
	artifact.Manifest.Config.MediaType = "application/vnd.example.thing"
	tests := []struct {
		name  string
		img   *layout.Image
		opts  []Option
		setup string // "", "empty" or "full"
		want  error
		msg   string
	}{
		{"unknown user", img, []Option{WithConvertOptions(convert.WithUser("mallory"))}, "", convert.ErrUnknownUser, `convert: unknown user "mallory": not in /etc/passwd`},
		{"unknown user into empty dir", img, []Option{WithConvertOptions(convert.WithUser("mallory"))}, "empty", convert.ErrUnknownUser, ""},
		{"unknown group", img, []Option{WithConvertOptions(convert.WithUser("alice:nogroup"))}, "empty", convert.ErrUnknownGroup, `convert: unknown group "nogroup": not in /etc/group`},
		{"not empty", img, nil, "full", ErrNotEmpty, ""},
		{"not empty rootfs-only", img, []Option{WithRootfsOnly()}, "full", ErrNotEmpty, ""},
		{"bad env", img, []Option{WithConvertOptions(convert.WithEnv("X"))}, "", convert.ErrInvalidEnv, ""},
		{"artifact", &artifact, nil, "", ErrNotImage, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "b")
			switch tt.setup {
			case "empty":
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
			case "full":
				if err := os.MkdirAll(filepath.Join(dir, "keep"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			err := Unpack(context.Background(), l, tt.img, dir, tt.opts...)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.msg != "" && err.Error() != tt.msg {
				t.Errorf("message %q, want %q", err, tt.msg)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("multi-line error %q", err)
			}
			switch tt.setup {
			case "":
				if names := entries(t, parent); len(names) != 0 {
					t.Errorf("parent holds %q after failure", names)
				}
			case "empty":
				if names := entries(t, dir); len(names) != 0 {
					t.Errorf("bundle holds %q after failure", names)
				}
				if names := entries(t, parent); !slices.Equal(names, []string{"b"}) {
					t.Errorf("parent holds %q after failure", names)
				}
			case "full":
				if names := entries(t, dir); !slices.Equal(names, []string{"keep"}) {
					t.Errorf("bundle holds %q after failure", names)
				}
			}
		})
	}
}

// An image with neither Entrypoint nor Cmd unpacks, as with umoci: one
// warning, and config.json without process.args for the caller to set.
func TestUnpackNoCommand(t *testing.T) {
	l, img := testImage(t, baseFiles, baseConfig)
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	dir := filepath.Join(t.TempDir(), "b")
	if err := Unpack(context.Background(), l, img, dir, WithLogger(log), WithConvertOptions(convert.WithEntrypoint())); err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	if len(spec.Process.Args) != 0 {
		t.Errorf("process.args = %q, want none", spec.Process.Args)
	}
	if n := strings.Count(logged.String(), "level=WARN"); n != 1 || !strings.Contains(logged.String(), "neither Entrypoint nor Cmd") {
		t.Errorf("log = %q, want one warning naming the missing command", logged.String())
	}
}

func TestUnpackMissingParent(t *testing.T) {
	l, img := testImage(t, baseFiles, baseConfig)
	dir := filepath.Join(t.TempDir(), "no", "such", "bundle")
	err := Unpack(context.Background(), l, img, dir)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want not exist", err)
	}
}

func TestUnpackCancelled(t *testing.T) {
	l, img := testImage(t, baseFiles, baseConfig)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	parent := t.TempDir()
	err := Unpack(ctx, l, img, filepath.Join(parent, "b"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if names := entries(t, parent); len(names) != 0 {
		t.Errorf("parent holds %q after cancel", names)
	}
}

// onlyProvider hides everything of a layout but content.Provider.
type onlyProvider struct{ content.Provider }

// lyingProvider serves other bytes than the blob's, unverified, as a
// hostile registry would.
type lyingProvider struct{}

func (lyingProvider) OpenBlob(context.Context, v1.Descriptor) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("not the layer")), nil
}

// TestUnpackFromProvider unpacks through nothing but a content.Provider:
// the bundle is the same, and its snapshot names no layout, as the
// provider is not a local one. Content that is not the blob's is refused
// and leaves nothing behind.
func TestUnpackFromProvider(t *testing.T) {
	ctx := context.Background()
	l, img := testImage(t, baseFiles, baseConfig)
	dir := filepath.Join(t.TempDir(), "b")
	if err := Unpack(ctx, onlyProvider{l}, img, dir); err != nil {
		t.Fatal(err)
	}
	for name, want := range baseFiles {
		if strings.HasSuffix(name, "/") {
			continue
		}
		if got, err := os.ReadFile(filepath.Join(dir, RootfsDir, name)); err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
	snap, err := repack.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Layout != "" || snap.Source.Digest != img.Descriptor.Digest {
		t.Errorf("snapshot source = %q %s, want no layout and %s", snap.Layout, snap.Source.Digest, img.Descriptor.Digest)
	}

	parent := t.TempDir()
	err = Unpack(ctx, lyingProvider{}, img, filepath.Join(parent, "b"))
	if !errors.Is(err, errdefs.ErrDigestMismatch) {
		t.Fatalf("unpack of content that is not the layer: err = %v, want a digest mismatch", err)
	}
	if names := entries(t, parent); len(names) != 0 {
		t.Errorf("parent holds %q after a failed unpack", names)
	}
}
