package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocikit/ocikit/internal/testutil"
	"github.com/ocikit/ocikit/layer"
	"github.com/ocikit/ocikit/layout"
	"github.com/ocikit/ocikit/validate"
)

// Image-layout interoperability: layouts written by umoci and skopeo are
// read, listed and validated by ocikit; a layout written by ocikit is read
// by skopeo, umoci and podman.

func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// requireValid validates the layout (every blob, every diff_id) and fails
// on any error or warning, logging the report.
func requireValid(t *testing.T, dir, ref string) *validate.Report {
	t.Helper()
	opts := []validate.Option{validate.WithAllBlobs(), validate.WithLayerContents()}
	if ref != "" {
		opts = append(opts, validate.WithRef(ref))
	}
	r, err := validate.Layout(context.Background(), dir, opts...)
	if err != nil {
		t.Fatalf("validate %s: %v", dir, err)
	}
	for _, p := range r.Problems {
		t.Errorf("validate %s: %s: %v [%s]", dir, p.Severity, p, p.File)
	}
	if !r.Valid {
		t.Fatalf("validate %s: %s", dir, r.Summary())
	}
	if r.Checked.Manifests == 0 || r.Checked.Layers == 0 {
		t.Fatalf("validate %s checked nothing: %s", dir, r.Summary())
	}
	t.Log(r.Summary())
	return r
}

// umociImage builds an image with umoci in a new layout: umoci new, unpack
// (rootless, so no root is needed), add files, repack, set a command.
func umociImage(t *testing.T, tag string) string {
	t.Helper()
	umoci := testutil.RequireTool(t, "umoci")
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "umoci-layout")
	bundle := filepath.Join(tmp, "bundle")
	runTool(t, umoci, "init", "--layout", dir)
	runTool(t, umoci, "new", "--image", dir+":"+tag)
	runTool(t, umoci, "unpack", "--rootless", "--image", dir+":"+tag, bundle)
	for name, body := range map[string]string{"etc/motd": "built by umoci\n", "usr/share/doc/x/README": "readme\n"} {
		p := filepath.Join(bundle, "rootfs", filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runTool(t, umoci, "repack", "--image", dir+":"+tag, bundle)
	runTool(t, umoci, "config", "--image", dir+":"+tag, "--config.cmd", "/bin/sh", "--config.env", "FOO=bar")
	return dir
}

// checkReadByOcikit reads a foreign layout through the library and the CLI.
func checkReadByOcikit(t *testing.T, dir, tag string, wantLayers int) {
	t.Helper()
	ctx := context.Background()
	l, err := layout.Open(ctx, dir)
	if err != nil {
		t.Fatalf("layout.Open: %v", err)
	}
	img, err := l.Resolve(ctx, tag)
	if err != nil {
		t.Fatalf("Resolve %s: %v", tag, err)
	}
	if len(img.Manifest.Layers) != wantLayers || len(img.Config.RootFS.DiffIDs) != wantLayers {
		t.Fatalf("image %s: %d layers, %d diff_ids, want %d", tag, len(img.Manifest.Layers), len(img.Config.RootFS.DiffIDs), wantLayers)
	}
	for _, d := range img.Manifest.Layers {
		rc, err := l.OpenBlob(ctx, d)
		if err != nil {
			t.Fatalf("OpenBlob %s: %v", d.Digest, err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			t.Fatalf("read layer %s: %v", d.Digest, err)
		}
		rc.Close()
	}

	bin := testutil.Binary(t)
	out := runTool(t, bin, "image", "ls", dir)
	if !strings.Contains(out, tag) || !strings.Contains(out, string(img.Descriptor.Digest)) {
		t.Errorf("ocikit image ls %s does not list %s %s:\n%s", dir, tag, img.Descriptor.Digest, out)
	}
	out = runTool(t, bin, "image", "inspect", dir+":"+tag)
	var inspected struct {
		Manifest v1.Manifest `json:"manifest"`
		Config   *v1.Image   `json:"config"`
	}
	if err := json.Unmarshal([]byte(out), &inspected); err != nil {
		t.Fatalf("ocikit image inspect output: %v\n%s", err, out)
	}
	if inspected.Manifest.Config.Digest != img.Manifest.Config.Digest || inspected.Config == nil {
		t.Errorf("ocikit image inspect: config %s, want %s", inspected.Manifest.Config.Digest, img.Manifest.Config.Digest)
	}
	out = runTool(t, bin, "image", "validate", dir+":"+tag)
	if !strings.Contains(out, ": valid") {
		t.Errorf("ocikit image validate %s:%s:\n%s", dir, tag, out)
	}
	out = runTool(t, bin, "image", "validate", "--json", dir)
	var rep validate.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || !rep.Valid {
		t.Errorf("ocikit image validate --json %s: valid=%v err=%v\n%s", dir, rep.Valid, err, out)
	}
}

func TestImageInteropUmociLayout(t *testing.T) {
	dir := umociImage(t, "t")
	requireValid(t, dir, "")
	requireValid(t, dir, "t")
	checkReadByOcikit(t, dir, "t", 1)
}

func TestImageInteropSkopeoLayout(t *testing.T) {
	skopeo := testutil.RequireTool(t, "skopeo")
	src := umociImage(t, "t")
	dst := filepath.Join(t.TempDir(), "skopeo-layout")
	runTool(t, skopeo, "copy", "oci:"+src+":t", "oci:"+dst+":copied")
	requireValid(t, dst, "")
	checkReadByOcikit(t, dst, "copied", 1)
}

// ocikitImage writes an image with ocikit's own packages: a tar+gzip layer
// generated from a small directory, a config with its diff_id, a manifest
// and a tag.
func ocikitImage(t *testing.T, tag string) (dir string, manifest v1.Descriptor, layerDesc v1.Descriptor) {
	t.Helper()
	ctx := context.Background()
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	for name, body := range map[string]string{"etc/motd": "built by ocikit\n", "bin/hello": "#!/bin/sh\necho hello\n"} {
		p := filepath.Join(src, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var tarBuf, gzBuf bytes.Buffer
	if err := layer.GenerateDir(ctx, &tarBuf, src); err != nil {
		t.Fatal(err)
	}
	zw, err := layer.Compress(&gzBuf, layer.Gzip)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(tarBuf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(tmp, "ocikit-layout")
	l, err := layout.Init(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	layerDesc, err = l.PutBlob(ctx, &gzBuf, v1.Descriptor{MediaType: v1.MediaTypeImageLayerGzip})
	if err != nil {
		t.Fatal(err)
	}
	cfg := v1.Image{
		Platform: v1.Platform{OS: "linux", Architecture: layout.HostPlatform().Architecture},
		Config:   v1.ImageConfig{Env: []string{"PATH=/bin"}, Cmd: []string{"/bin/hello"}},
		RootFS:   v1.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromBytes(tarBuf.Bytes())}},
		History:  []v1.History{{CreatedBy: "ocikit integration test"}},
	}
	cfgDesc, err := l.PutJSON(ctx, v1.MediaTypeImageConfig, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := v1.Manifest{MediaType: v1.MediaTypeImageManifest, Config: cfgDesc, Layers: []v1.Descriptor{layerDesc}}
	m.SchemaVersion = 2
	manifest, err = l.PutJSON(ctx, v1.MediaTypeImageManifest, m)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Tag(ctx, tag, manifest); err != nil {
		t.Fatal(err)
	}
	return dir, manifest, layerDesc
}

func TestImageInteropOcikitLayout(t *testing.T) {
	dir, manifest, layerDesc := ocikitImage(t, "v1")
	r := requireValid(t, dir, "v1")
	// Ours must pass the pedantic checks too.
	if rs, err := validate.Layout(context.Background(), dir, validate.WithStrict()); err != nil || len(rs.Problems) != 0 {
		t.Fatalf("strict validation: err %v, problems %v", err, rs.Err())
	}
	if r.Checked.Layers != 1 {
		t.Fatalf("checked %d layers", r.Checked.Layers)
	}

	t.Run("skopeo", func(t *testing.T) {
		skopeo := testutil.RequireTool(t, "skopeo")
		out := runTool(t, skopeo, "inspect", "oci:"+dir+":v1")
		var info struct {
			Digest string
			Layers []string
		}
		if err := json.Unmarshal([]byte(out), &info); err != nil {
			t.Fatalf("skopeo inspect output: %v\n%s", err, out)
		}
		if info.Digest != string(manifest.Digest) || len(info.Layers) != 1 || info.Layers[0] != string(layerDesc.Digest) {
			t.Fatalf("skopeo inspect: digest %s layers %v, want %s [%s]", info.Digest, info.Layers, manifest.Digest, layerDesc.Digest)
		}
		// And a copy skopeo makes of our image validates too.
		dst := filepath.Join(t.TempDir(), "copy")
		runTool(t, skopeo, "copy", "oci:"+dir+":v1", "oci:"+dst+":v1")
		requireValid(t, dst, "v1")
	})

	t.Run("umoci", func(t *testing.T) {
		umoci := testutil.RequireTool(t, "umoci")
		out := runTool(t, umoci, "ls", "--layout", dir)
		if strings.TrimSpace(out) != "v1" {
			t.Fatalf("umoci ls --layout: %q, want v1", out)
		}
		bundle := filepath.Join(t.TempDir(), "bundle")
		runTool(t, umoci, "unpack", "--rootless", "--image", dir+":v1", bundle)
		got, err := os.ReadFile(filepath.Join(bundle, "rootfs", "etc", "motd"))
		if err != nil || string(got) != "built by ocikit\n" {
			t.Fatalf("umoci unpack: etc/motd = %q, %v", got, err)
		}
	})

	t.Run("podman", func(t *testing.T) {
		testutil.RequireRoot(t)
		podman := testutil.RequireTool(t, "podman")
		// podman refuses a runroot longer than 50 characters, which
		// t.TempDir's names exceed.
		store, err := os.MkdirTemp("", "ocikit-podman-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(store) })
		base := []string{"--storage-driver", "vfs", "--root", filepath.Join(store, "root"), "--runroot", filepath.Join(store, "run"),
			"--cgroup-manager", "cgroupfs", "--events-backend", "file"}
		// podman names the image after the path, which must be lowercase.
		img := filepath.Join(store, "image")
		if err := os.Symlink(dir, img); err != nil {
			t.Fatal(err)
		}
		out := runTool(t, podman, append(base, "pull", "oci:"+img+":v1")...)
		lines := strings.Fields(out)
		cfgDigest := inspectConfigDigest(t, dir)
		// podman prints the image ID, the config digest, last.
		if len(lines) == 0 || lines[len(lines)-1] != cfgDigest.Encoded() {
			t.Fatalf("podman pull printed %q, want image ID %s", out, cfgDigest.Encoded())
		}
		out = runTool(t, podman, append(base, "image", "inspect", "--format", "{{len .RootFS.Layers}}", cfgDigest.Encoded())...)
		if strings.TrimSpace(out) != "1" {
			t.Fatalf("podman image inspect: %q layers, want 1", out)
		}
	})
}

func inspectConfigDigest(t *testing.T, dir string) digest.Digest {
	t.Helper()
	l, err := layout.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	img, err := l.Resolve(context.Background(), "v1")
	if err != nil {
		t.Fatal(err)
	}
	return img.Manifest.Config.Digest
}

// TestImageValidateCLI runs `ocikit image validate` on a valid layout, on
// broken ones (which layout.Open refuses) and on single documents.
func TestImageValidateCLI(t *testing.T) {
	bin := testutil.Binary(t)
	run := func(args ...string) (string, int) {
		cmd := exec.Command(bin, args...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if errb.Len() > 0 {
			t.Logf("stderr: %s", errb.String())
		}
		return out.String(), code
	}
	dir, manifest, layerDesc := ocikitImage(t, "v1")

	out, code := run("image", "validate", dir+":v1")
	if code != 0 || !strings.HasSuffix(strings.TrimSpace(out), "valid (1 tag, 1 index, 1 manifest, 1 config, 1 layer, 3 blobs checked)") {
		t.Fatalf("valid layout: exit %d\n%s", code, out)
	}

	// Alter the layer and break oci-layout: both reported, exit 1.
	layerPath := filepath.Join(dir, "blobs", "sha256", layerDesc.Digest.Encoded())
	data, err := os.ReadFile(layerPath)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 1
	if err := os.WriteFile(layerPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion": "9.9"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = run("image", "validate", dir)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 1 || len(lines) != 3 {
		t.Fatalf("broken layout: exit %d, want 1 with 2 problems and a summary:\n%s", code, out)
	}
	for _, want := range []string{
		`error: oci-layout → imageLayoutVersion: got "9.9", want "1.0.0" (image-layout.md#oci-layout-file)`,
		"error: index.json → manifests[0] → layers[0]: content of blobs/sha256/" + layerDesc.Digest.Encoded() + " does not match its digest (image-layout.md#blobs)",
		": invalid: 2 errors",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, code = run("image", "validate", "--json", dir)
	var rep validate.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 || rep.Valid || rep.Errors != 2 || len(rep.Problems) != 2 {
		t.Fatalf("--json: exit %d, err %v, report %+v", code, err, rep)
	}
	if p := rep.Problems[1]; p.File != "blobs/sha256/"+layerDesc.Digest.Encoded() || p.Path != "index.json → manifests[0] → layers[0]" || p.Clause != "image-layout.md#blobs" {
		t.Errorf("--json problem: %+v", p)
	}

	// Single documents.
	mdata, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", manifest.Digest.Encoded()))
	if err != nil {
		t.Fatal(err)
	}
	doc := filepath.Join(t.TempDir(), "manifest.json")
	if err := os.WriteFile(doc, mdata, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := run("image", "validate", "--type", "manifest", doc); code != 0 {
		t.Errorf("--type manifest on a valid manifest: exit %d\n%s", code, out)
	}
	out, code = run("image", "validate", "--type", "config", doc)
	if code != 1 || !strings.Contains(out, "content is an image manifest, not the image config") {
		t.Errorf("--type config on a manifest: exit %d\n%s", code, out)
	}

	// Not a directory: a one-line error from main, exit 1.
	if _, code := run("image", "validate", filepath.Join(dir, "nope")); code != 1 {
		t.Errorf("missing directory: exit %d, want 1", code)
	}
}
