package distribution

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/internal/registrytest"
	"github.com/ocikit/ocikit/internal/testutil"
	"github.com/ocikit/ocikit/layout"
	"github.com/ocikit/ocikit/platform"
	"github.com/ocikit/ocikit/registry"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestCopyRegistry copies layout → registry → layout with ocikit and with
// skopeo, against Debian's docker-registry, open and with Basic auth: the
// manifest digests are kept, a second push skips every blob, a copy
// within the registry mounts, and each tool reads what the other wrote.
func TestCopyRegistry(t *testing.T) {
	if testing.Short() {
		t.Skip("starts docker-registry")
	}
	skopeo := testutil.RequireTool(t, "skopeo")
	ti := newGzipImage(t)
	ctx := context.Background()
	for _, auth := range []bool{false, true} {
		name := "open"
		user, pass := "", ""
		if auth {
			name, user, pass = "htpasswd", "regclient", "s3cret:pw"
		}
		t.Run(name, func(t *testing.T) {
			reg := registrytest.Start(t, user, pass)
			var src, dst []registry.Option
			var skopeoSrc, skopeoDst []string
			if auth {
				src = []registry.Option{registry.WithCredentials(user, pass)}
				dst = src
				skopeoSrc = []string{"--src-creds", user + ":" + pass}
				skopeoDst = []string{"--dest-creds", user + ":" + pass}
			}
			opts := []Option{WithSourceRegistry(src...), WithDestinationRegistry(dst...)}
			all := append([]Option{WithAll()}, opts...)
			repo := "docker://" + reg.Host + "/regclient/img"
			hostM := ti.manifests[platform.Format(host)]
			for _, step := range []struct {
				src, dst string
				opts     []Option
				want     v1.Descriptor
				skipped  int
			}{
				{"oci:" + ti.dir + ":multi", repo + ":multi", all, ti.index, 0},
				{"oci:" + ti.dir + ":single", repo + ":single", opts, hostM, 4}, // it is there, so its config and layers are (one HEAD)
				{"oci:" + ti.dir + ":multi", repo + ":multi", all, ti.index, 7}, // again: everything under the index skipped
				{repo + ":multi", "oci:" + filepath.Join(t.TempDir(), "back") + ":b", all, ti.index, 0},
				{repo + "@" + string(hostM.Digest), "oci:" + filepath.Join(t.TempDir(), "bydigest") + ":b", opts, hostM, 0},
				{repo + ":multi", "docker://" + reg.Host + "/regclient/mounted:m", all, ti.index, 0},
			} {
				rep, err := CopyReference(ctx, step.src, step.dst, step.opts...)
				if err != nil {
					t.Fatalf("copy %s %s: %v", step.src, step.dst, err)
				}
				if rep.Descriptor.Digest != step.want.Digest || rep.Skipped != step.skipped {
					t.Fatalf("copy %s %s: %s, %d skipped; want %s, %d skipped", step.src, step.dst, rep.Descriptor.Digest, rep.Skipped, step.want.Digest, step.skipped)
				}
				if strings.HasPrefix(step.dst, "oci:") {
					dir, tag, _ := strings.Cut(strings.TrimPrefix(step.dst, "oci:"), ":")
					l, err := layout.Open(ctx, dir)
					if err != nil {
						t.Fatal(err)
					}
					if d, err := l.Lookup(ctx, tag); err != nil || d.Digest != step.want.Digest {
						t.Fatalf("%s: %s, %v; want %s", step.dst, d.Digest, err, step.want.Digest)
					}
				}
			}
			mounted, err := registry.New(reg.Host, "regclient/mounted", src...)
			if err != nil {
				t.Fatal(err)
			}
			if d, err := mounted.Lookup(ctx, "m"); err != nil || d.Digest != ti.index.Digest {
				t.Fatalf("mounted copy: %s, %v", d.Digest, err)
			}

			// skopeo pushes the same image: same digest.
			run := func(args ...string) {
				t.Helper()
				out, err := exec.Command(skopeo, append([]string{"--insecure-policy", "copy", "-q"}, args...)...).CombinedOutput()
				if err != nil {
					t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, out)
				}
			}
			run(append(append([]string{"--all", "--dest-tls-verify=false"}, skopeoDst...), "oci:"+ti.dir+":multi", repo+":skopeo")...)
			r, err := registry.New(reg.Host, "regclient/img", src...)
			if err != nil {
				t.Fatal(err)
			}
			if d, err := r.Lookup(ctx, "skopeo"); err != nil || d.Digest != ti.index.Digest {
				t.Fatalf("skopeo's push: %s, %v; want %s", d.Digest, err, ti.index.Digest)
			}
			// Docker's media types (skopeo converts to them with --format
			// v2s2): ocikit pulls the docker manifest byte for byte.
			run(append(append([]string{"--format", "v2s2", "--dest-tls-verify=false"}, skopeoDst...), "oci:"+ti.dir+":single", repo+":v2s2")...)
			v2s2, err := r.Lookup(ctx, "v2s2")
			if err != nil || v2s2.MediaType != layout.MediaTypeDockerManifest {
				t.Fatalf("skopeo's v2s2 push: %+v, %v", v2s2, err)
			}
			dockerDir := filepath.Join(t.TempDir(), "docker")
			if rep, err := CopyReference(ctx, repo+":v2s2", "oci:"+dockerDir+":d", opts...); err != nil || rep.Descriptor.Digest != v2s2.Digest {
				t.Fatalf("pull of a docker manifest: %v, %v; want %s", rep, err, v2s2.Digest)
			}
			// skopeo pulls what ocikit pushed.
			back := filepath.Join(t.TempDir(), "skopeo-back")
			run(append(append([]string{"--all", "--src-tls-verify=false"}, skopeoSrc...), repo+":multi", "oci:"+back+":b")...)
			l, err := layout.Open(ctx, back)
			if err != nil {
				t.Fatal(err)
			}
			if d, err := l.Lookup(ctx, "b"); err != nil || d.Digest != ti.index.Digest {
				t.Fatalf("skopeo's pull: %s, %v; want %s", d.Digest, err, ti.index.Digest)
			}

			if auth {
				for _, creds := range [][]registry.Option{nil, {registry.WithCredentials(user, "wrong")}} {
					_, err := CopyReference(ctx, repo+":multi", "oci:"+t.TempDir(), WithSourceRegistry(append(creds, registry.WithAuthFile(filepath.Join(t.TempDir(), "none.json")))...))
					if err == nil {
						// an absent --authfile is an error; try without
						t.Fatal("copy with a missing --authfile succeeded")
					}
					_, err = CopyReference(ctx, repo+":multi", "oci:"+t.TempDir(), WithSourceRegistry(append(creds, registry.WithGetenv(func(string) string { return "" }))...))
					if !errors.Is(err, errdefs.ErrUnauthorized) || strings.Contains(err.Error(), "\n") {
						t.Fatalf("copy without the right credentials: %v, want one line of kind %v", err, errdefs.ErrUnauthorized)
					}
				}
			}
		})
	}
}

// newGzipImage is newImage's layout with real gzip-compressed tar layers
// (and their diff_ids), which skopeo copies unchanged.
func newGzipImage(t *testing.T) *testImage {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "src")
	l, err := layout.Init(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	ti := &testImage{dir: dir, manifests: map[string]v1.Descriptor{}, layers: map[string]v1.Descriptor{}}
	layer := func(name string, data []byte) (v1.Descriptor, digest.Digest) {
		var tarBuf, gzBuf bytes.Buffer
		tw := tar.NewWriter(&tarBuf)
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
		tw.Close()
		zw := gzip.NewWriter(&gzBuf)
		zw.Write(tarBuf.Bytes())
		zw.Close()
		d, err := l.PutBlob(ctx, bytes.NewReader(gzBuf.Bytes()), v1.Descriptor{MediaType: v1.MediaTypeImageLayerGzip})
		if err != nil {
			t.Fatal(err)
		}
		return d, digest.FromBytes(tarBuf.Bytes())
	}
	shared, sharedID := layer("shared", bytes.Repeat([]byte("shared layer "), 5000))
	var entries []v1.Descriptor
	for _, p := range []v1.Platform{host, other} {
		name := platform.Format(p)
		own, ownID := layer("own", []byte("layer of "+name))
		ti.layers[name] = own
		cfg, err := content.PutJSON(ctx, l, v1.MediaTypeImageConfig, v1.Image{Platform: p, RootFS: v1.RootFS{Type: "layers", DiffIDs: []digest.Digest{sharedID, ownID}}})
		if err != nil {
			t.Fatal(err)
		}
		m, err := content.PutJSON(ctx, l, v1.MediaTypeImageManifest, v1.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageManifest, Config: cfg, Layers: []v1.Descriptor{shared, own}})
		if err != nil {
			t.Fatal(err)
		}
		ti.manifests[name] = m
		e := m
		e.Platform = &p
		entries = append(entries, e)
	}
	ti.index, err = content.PutJSON(ctx, l, v1.MediaTypeImageIndex, v1.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageIndex, Manifests: entries})
	if err != nil {
		t.Fatal(err)
	}
	for tag, d := range map[string]v1.Descriptor{"single": ti.manifests[platform.Format(host)], "multi": ti.index} {
		if err := l.Tag(ctx, tag, d); err != nil {
			t.Fatal(err)
		}
	}
	return ti
}

func TestPullPushReferences(t *testing.T) {
	for _, tt := range []struct {
		cmd, a, b string
		src, dst  string
		kind      error
	}{
		{"pull", "h.example/a/b:v1", "", "docker://h.example/a/b:v1", "oci:b:v1", nil},
		{"pull", "docker://h.example/a/b", "dir", "docker://h.example/a/b", "oci:dir", nil},
		{"pull", "h.example/a/b:v1", "dir:other", "docker://h.example/a/b:v1", "oci:dir:other", nil},
		{"pull", "h.example/b@" + dgst, "", "docker://h.example/b@" + dgst, "oci:b", nil},
		{"pull", "h.example/b", "dir@" + dgst, "", "", errdefs.ErrInvalid},
		{"pull", "b:v1", "", "", "", errdefs.ErrInvalid}, // no registry
		{"pull", "https://h.example/a/b:v1", "", "", "", errdefs.ErrInvalid},
		{"pull", "oci://dir", "", "", "", errdefs.ErrInvalid},
		{"push", "img:v1", "https://h.example/a/b", "", "", errdefs.ErrInvalid},
		{"push", "img:v1", "h.example/a/b", "oci:img:v1", "docker://h.example/a/b:v1", nil},
		{"push", "dir", "docker://h.example/a/b:v2", "oci:dir", "docker://h.example/a/b:v2", nil},
		{"push", "img:v1", "h.example/a/b:v2", "oci:img:v1", "docker://h.example/a/b:v2", nil},
		{"push", "oci-archive:f.tar", "h.example/a/b", "", "", errdefs.ErrInvalid},
	} {
		f := PullReferences
		if tt.cmd == "push" {
			f = PushReferences
		}
		src, dst, err := f(tt.a, tt.b)
		if tt.kind != nil {
			if !errors.Is(err, tt.kind) {
				t.Errorf("%s %s %s: %v, want kind %v", tt.cmd, tt.a, tt.b, err, tt.kind)
			}
			continue
		}
		if err != nil || src.String() != tt.src || dst.String() != tt.dst {
			t.Errorf("%s %s %s = %s %s, %v; want %s %s", tt.cmd, tt.a, tt.b, src, dst, err, tt.src, tt.dst)
		}
	}
}

// TestPullPushCLI runs ocikit image push, pull and copy against
// docker-registry with Basic auth, credentials from --authfile and
// --dest-creds.
func TestPullPushCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts docker-registry")
	}
	bin := testutil.Binary(t)
	ti := newGzipImage(t)
	reg := registrytest.Start(t, "regclient", "pw")
	tmp := t.TempDir()
	authfile := filepath.Join(tmp, "auth.json")
	if err := os.WriteFile(authfile, []byte(`{"auths":{"`+reg.Host+`":{"auth":"`+base64.StdEncoding.EncodeToString([]byte("regclient:pw"))+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(wantOK bool, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "HOME="+tmp, "XDG_RUNTIME_DIR=", "REGISTRY_AUTH_FILE=", "DOCKER_CONFIG=")
		out, err := cmd.CombinedOutput()
		if (err == nil) != wantOK {
			t.Fatalf("ocikit %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run(true, "image", "push", "-q", "--authfile", authfile, ti.dir+":multi", reg.Host+"/regclient/cli", "--all")
	out := run(false, "image", "pull", "-q", reg.Host+"/regclient/cli:multi", filepath.Join(tmp, "noauth"))
	if !strings.Contains(out, "unauthorized") || strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Fatalf("pull without credentials: %q, want one line saying unauthorized", out)
	}
	run(true, "image", "pull", "-q", "--authfile", authfile, "--all", reg.Host+"/regclient/cli:multi", filepath.Join(tmp, "pulled"))
	run(true, "image", "copy", "-q", "--src-creds", "regclient:pw", "--dest-creds", "regclient:pw", "docker://"+reg.Host+"/regclient/cli:multi", "docker://"+reg.Host+"/regclient/copied:c")
	run(true, "image", "pull", "-q", "--src-creds", "regclient:pw", reg.Host+"/regclient/copied:c", filepath.Join(tmp, "copied"))
	ctx := context.Background()
	for dir, want := range map[string]v1.Descriptor{"pulled:multi": ti.index, "copied:c": ti.manifests[platform.Format(host)]} {
		name, tag, _ := strings.Cut(dir, ":")
		l, err := layout.Open(ctx, filepath.Join(tmp, name))
		if err != nil {
			t.Fatal(err)
		}
		if d, err := l.Lookup(ctx, tag); err != nil || d.Digest != want.Digest {
			t.Fatalf("%s: %s, %v; want %s", dir, d.Digest, err, want.Digest)
		}
	}
}
