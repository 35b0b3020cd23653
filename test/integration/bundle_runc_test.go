package integration

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ocikit/ocikit/internal/testutil"
	"github.com/ocikit/ocikit/layer"
	"github.com/ocikit/ocikit/layout"
	"github.com/ocikit/ocikit/validate"
)

// bundleTestImage writes a layout holding a busybox image tagged "v1": one
// tar+gzip layer of testutil.BusyboxRootfs and the given config.
func bundleTestImage(t *testing.T, cfg v1.ImageConfig) string {
	t.Helper()
	ctx := context.Background()
	src := t.TempDir()
	testutil.BusyboxRootfs(t, src)
	// root in a supplementary group too, which a rootless bundle must drop.
	group := "root:x:0:\nwheel:x:10:user,root\nuser:x:1000:\nnogroup:x:65534:\n"
	if err := os.WriteFile(filepath.Join(src, "etc", "group"), []byte(group), 0o644); err != nil {
		t.Fatal(err)
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
	dir := filepath.Join(t.TempDir(), "layout")
	l, err := layout.Init(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	layerDesc, err := l.PutBlob(ctx, &gzBuf, v1.Descriptor{MediaType: v1.MediaTypeImageLayerGzip})
	if err != nil {
		t.Fatal(err)
	}
	img := v1.Image{
		Platform: v1.Platform{OS: "linux", Architecture: layout.HostPlatform().Architecture},
		Config:   cfg,
		RootFS:   v1.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromBytes(tarBuf.Bytes())}},
	}
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
	if err := l.Tag(ctx, "v1", mDesc); err != nil {
		t.Fatal(err)
	}
	return dir
}

// bundleImageConfig prints what the runc test checks: the args, the ids,
// the working directory and two environment variables.
var bundleImageConfig = v1.ImageConfig{
	User:       "user",
	Entrypoint: []string{"/bin/sh", "-c"},
	Cmd:        []string{`echo "hello from $0"; id -u; id -g; id -G; pwd; echo "GREETING=$GREETING HOME=$HOME"`},
	Env:        []string{"PATH=/bin", "GREETING=hi"},
	WorkingDir: "/home/user",
	Volumes:    map[string]struct{}{"/data": {}},
}

func ocikit(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(testutil.Binary(t), args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

// runcRun runs the bundle with runc in the foreground and returns its
// output; the container is deleted afterwards whatever happens.
func runcRun(t *testing.T, bundle string) string {
	t.Helper()
	runc := testutil.RequireTool(t, "runc")
	state := t.TempDir()
	id := fmt.Sprintf("ocikit-bundle-%d", time.Now().UnixNano())
	t.Cleanup(func() { _ = exec.Command(runc, "--root", state, "delete", "-f", id).Run() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, runc, "--root", state, "run", "--bundle", bundle, id)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("runc run: %v\nstdout: %s\nstderr: %s", err, out.String(), errb.String())
	}
	return out.String()
}

func checkLines(t *testing.T, got string, want []string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(got, "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("output:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d = %q, want %q", i+1, lines[i], want[i])
		}
	}
}

func TestBundleRunc(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "runc")
	dir := bundleTestImage(t, bundleImageConfig)

	t.Run("image config", func(t *testing.T) {
		b := filepath.Join(t.TempDir(), "bundle")
		if _, stderr, err := ocikit(t, "image", "unpack", dir+":v1", b); err != nil {
			t.Fatalf("unpack: %v: %s", err, stderr)
		}
		bundleValidate(t, b)
		checkLines(t, runcRun(t, b), []string{
			"hello from /bin/sh", "1000", "1000", "1000 10", "/home/user", "GREETING=hi HOME=/home/user",
		})
	})

	t.Run("overrides", func(t *testing.T) {
		b := filepath.Join(t.TempDir(), "bundle")
		_, stderr, err := ocikit(t, "image", "unpack", "--user", "nobody:wheel", "--cwd", "/tmp",
			"--env", "GREETING=yo", "-e", "HOME=/h", dir+":v1", b,
			"--", `echo "args $0"; id -u; id -g; id -G; pwd; echo "GREETING=$GREETING HOME=$HOME"`)
		if err != nil {
			t.Fatalf("unpack: %v: %s", err, stderr)
		}
		bundleValidate(t, b)
		checkLines(t, runcRun(t, b), []string{
			"args /bin/sh", "65534", "10", "10", "/tmp", "GREETING=yo HOME=/h",
		})
	})

	t.Run("entrypoint", func(t *testing.T) {
		b := filepath.Join(t.TempDir(), "bundle")
		_, stderr, err := ocikit(t, "image", "unpack", "--entrypoint", "/bin/echo", "--args", "one", "--args", "two words", dir+":v1", b)
		if err != nil {
			t.Fatalf("unpack: %v: %s", err, stderr)
		}
		checkLines(t, runcRun(t, b), []string{"one two words"})
	})

	t.Run("volumes as mounts", func(t *testing.T) {
		b := filepath.Join(t.TempDir(), "bundle")
		_, stderr, err := ocikit(t, "image", "unpack", "--volumes-as-mounts", dir+":v1", b,
			"--", `echo data > /data/file && stat -c '%u %a' /data && grep -c ' /data tmpfs ' /proc/mounts`)
		if err != nil {
			t.Fatalf("unpack: %v: %s", err, stderr)
		}
		bundleValidate(t, b)
		checkLines(t, runcRun(t, b), []string{"1000 755", "1"})
		if _, err := os.Stat(filepath.Join(b, "rootfs", "data", "file")); !os.IsNotExist(err) {
			t.Errorf("volume data reached the rootfs: %v", err)
		}
	})

	t.Run("rootless config", func(t *testing.T) {
		b := filepath.Join(t.TempDir(), "bundle")
		_, stderr, err := ocikit(t, "image", "unpack", "--rootless", "--user", "0", dir+":v1", b, "--", "id -u; id -G; cat /proc/self/uid_map")
		if err != nil {
			t.Fatalf("unpack: %v: %s", err, stderr)
		}
		bundleValidate(t, b)
		out := runcRun(t, b)
		fields := strings.Fields(out)
		if strings.Join(fields, " ") != "0 0 0 0 1" {
			t.Errorf("output %q, want uid 0, groups 0, in a user namespace mapping one id", out)
		}
	})

	t.Run("rootfs only", func(t *testing.T) {
		r := filepath.Join(t.TempDir(), "rootfs")
		if _, stderr, err := ocikit(t, "image", "unpack", "--rootfs-only", dir+":v1", r); err != nil {
			t.Fatalf("unpack: %v: %s", err, stderr)
		}
		for _, name := range []string{"bin/busybox", "etc/passwd"} {
			if _, err := os.Stat(filepath.Join(r, name)); err != nil {
				t.Error(err)
			}
		}
		if _, err := os.Stat(filepath.Join(r, "config.json")); !os.IsNotExist(err) {
			t.Errorf("rootfs-only wrote config.json: %v", err)
		}
	})
}

// TestBundleUnpackBadInput: each bad input fails with one line naming the
// problem, and BUNDLE is left as it was.
func TestBundleUnpackBadInput(t *testing.T) {
	dir := bundleTestImage(t, bundleImageConfig)
	tests := []struct {
		name   string
		args   []string // {REF, BUNDLE} substituted
		setup  string   // "", "empty" or "full"
		expect string   // substring of the error line
	}{
		{"missing tag", []string{"image", "unpack", "REF:nope", "BUNDLE"}, "", `nope`},
		{"unknown user", []string{"image", "unpack", "--user", "mallory", "REF:v1", "BUNDLE"}, "", `unknown user "mallory"`},
		{"unknown user in empty dir", []string{"image", "unpack", "-u", "mallory", "REF:v1", "BUNDLE"}, "empty", `unknown user "mallory"`},
		{"unknown group", []string{"image", "unpack", "--user", "user:staff", "REF:v1", "BUNDLE"}, "", `unknown group "staff"`},
		{"bundle not empty", []string{"image", "unpack", "REF:v1", "BUNDLE"}, "full", "not an empty directory"},
		{"bad platform", []string{"image", "unpack", "--platform", "linux", "REF:v1", "BUNDLE"}, "", `platform "linux"`},
		{"other platform", []string{"image", "unpack", "--platform", "linux/s390x", "REF:v1", "BUNDLE"}, "", "s390x"},
		{"relative cwd", []string{"image", "unpack", "--cwd", "rel", "REF:v1", "BUNDLE"}, "", `"rel": must be absolute`},
		{"bad env", []string{"image", "unpack", "--env", "=x", "REF:v1", "BUNDLE"}, "", `"=x"`},
		{"args twice", []string{"image", "unpack", "--args", "a", "REF:v1", "BUNDLE", "--", "b"}, "", "not both"},
		{"no layout", []string{"image", "unpack", "/nonexistent/layout:v1", "BUNDLE"}, "", "/nonexistent/layout"},
		{"one argument", []string{"image", "unpack", "REF:v1"}, "", "want DIR[:TAG] BUNDLE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			b := filepath.Join(parent, "b")
			switch tt.setup {
			case "empty":
				if err := os.Mkdir(b, 0o755); err != nil {
					t.Fatal(err)
				}
			case "full":
				if err := os.MkdirAll(filepath.Join(b, "keep"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				a = strings.Replace(a, "REF", dir, 1)
				args[i] = strings.Replace(a, "BUNDLE", b, 1)
			}
			_, stderr, err := ocikit(t, args...)
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v, want status 1 (stderr %q)", err, stderr)
			}
			if !strings.HasPrefix(stderr, "ocikit: ") || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tt.expect) {
				t.Errorf("stderr = %q, want one line containing %q", stderr, tt.expect)
			}
			var want []string
			switch tt.setup {
			case "empty":
				want = []string{"b"}
				if es, _ := os.ReadDir(b); len(es) != 0 {
					t.Errorf("BUNDLE holds %d entries after failure", len(es))
				}
			case "full":
				want = []string{"b"}
				if es, _ := os.ReadDir(b); len(es) != 1 || es[0].Name() != "keep" {
					t.Errorf("BUNDLE changed after failure: %v", es)
				}
			}
			es, _ := os.ReadDir(parent)
			var got []string
			for _, e := range es {
				got = append(got, e.Name())
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("BUNDLE's parent holds %q after failure, want %q", got, want)
			}
		})
	}
}

// bundleValidate checks the bundle with the validate package: the
// runtime-spec v1.3.0 schema plus the semantic rules of config.md.
func bundleValidate(t *testing.T, bundle string) {
	t.Helper()
	r, err := validate.Bundle(context.Background(), bundle)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Err(); err != nil {
		t.Errorf("invalid bundle: %v", err)
	}
}

// TestBundleMatchesUmoci unpacks one image with ocikit and umoci and
// compares what conversion.md fixes: args, cwd, user and groups, the
// image's environment and the implicit annotations.
func TestBundleMatchesUmoci(t *testing.T) {
	testutil.RequireRoot(t)
	umoci := testutil.RequireTool(t, "umoci")
	cfg := bundleImageConfig
	cfg.ExposedPorts = map[string]struct{}{"8080/tcp": {}, "53/udp": {}}
	cfg.StopSignal = "SIGTERM"
	dir := bundleTestImage(t, cfg)
	ours := filepath.Join(t.TempDir(), "ocikit")
	if _, stderr, err := ocikit(t, "image", "unpack", dir+":v1", ours); err != nil {
		t.Fatalf("ocikit unpack: %v: %s", err, stderr)
	}
	theirs := filepath.Join(t.TempDir(), "umoci")
	if out, err := exec.Command(umoci, "unpack", "--image", dir+":v1", theirs).CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack: %v: %s", err, out)
	}
	read := func(b string) specs.Spec {
		var s specs.Spec
		data, err := os.ReadFile(filepath.Join(b, "config.json"))
		if err == nil {
			err = json.Unmarshal(data, &s)
		}
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	o, u := read(ours), read(theirs)
	if strings.Join(o.Process.Args, "\x00") != strings.Join(u.Process.Args, "\x00") {
		t.Errorf("args: ocikit %q, umoci %q", o.Process.Args, u.Process.Args)
	}
	if o.Process.Cwd != u.Process.Cwd {
		t.Errorf("cwd: ocikit %q, umoci %q", o.Process.Cwd, u.Process.Cwd)
	}
	if fmt.Sprint(o.Process.User) != fmt.Sprint(u.Process.User) {
		t.Errorf("user: ocikit %+v, umoci %+v", o.Process.User, u.Process.User)
	}
	if o.Root.Path != u.Root.Path {
		t.Errorf("root.path: ocikit %q, umoci %q", o.Root.Path, u.Root.Path)
	}
	for _, e := range append(slices.Clone(cfg.Env), "HOME=/home/user") {
		if !slices.Contains(o.Process.Env, e) || !slices.Contains(u.Process.Env, e) {
			t.Errorf("env %q: ocikit %q, umoci %q", e, o.Process.Env, u.Process.Env)
		}
	}
	for _, k := range []string{"org.opencontainers.image.os", "org.opencontainers.image.architecture",
		"org.opencontainers.image.exposedPorts", "org.opencontainers.image.stopSignal"} {
		if o.Annotations[k] == "" || o.Annotations[k] != u.Annotations[k] {
			t.Errorf("annotation %s: ocikit %q, umoci %q", k, o.Annotations[k], u.Annotations[k])
		}
	}
}

// TestBundleRootlessRunc unpacks and runs a bundle as an unprivileged user
// (nobody): image unpack defaults to rootless, and runc runs the result in
// its single-id user namespace.
func TestBundleRootlessRunc(t *testing.T) {
	testutil.RequireRoot(t)
	runc := testutil.RequireTool(t, "runc")
	const nobody = 65534
	dir := bundleTestImage(t, bundleImageConfig)
	// The layout must be readable by nobody: open up the test directories
	// above it.
	for d := filepath.Dir(dir); d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := exec.Command("chmod", "-R", "a+rX", dir).Run(); err != nil {
		t.Fatal(err)
	}
	base, err := os.MkdirTemp("", "ocikit-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chown(base, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "ocikit")
	data, err := os.ReadFile(testutil.Binary(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	asNobody := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(name, args...)
		cmd.Dir = base
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + base, "XDG_RUNTIME_DIR=" + base}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}}
		return cmd
	}
	b := filepath.Join(base, "bundle")
	if out, err := asNobody(bin, "image", "unpack", "--user", "0", dir+":v1", b, "--",
		`echo "hello $0"; id -u; id -G; stat -c %u /bin/busybox`).CombinedOutput(); err != nil {
		t.Fatalf("unpack as nobody: %v: %s", err, out)
	}
	bundleValidate(t, b)
	id := fmt.Sprintf("ocikit-rootless-%d", time.Now().UnixNano())
	state := filepath.Join(base, "runc")
	t.Cleanup(func() { _ = asNobody(runc, "--root", state, "delete", "-f", id).Run() })
	var out, errb bytes.Buffer
	cmd := asNobody(runc, "--root", state, "run", "--bundle", b, id)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("runc run as nobody: %v\n%s%s", err, out.String(), errb.String())
	}
	checkLines(t, out.String(), []string{"hello /bin/sh", "0", "0", "0"})
}

// TestBundleOcikitRun runs an unpacked bundle with ocikit's own runtime,
// expecting what runc prints in TestBundleRunc.
func TestBundleOcikitRun(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.BusyboxRootfs(t, t.TempDir()) // skips without busybox-static
	dir := bundleTestImage(t, bundleImageConfig)
	b := filepath.Join(t.TempDir(), "bundle")
	if _, stderr, err := ocikit(t, "image", "unpack", dir+":v1", b); err != nil {
		t.Fatalf("unpack: %v: %s", err, stderr)
	}
	state := t.TempDir()
	id := fmt.Sprintf("ocikit-bundle-%d", time.Now().UnixNano())
	t.Cleanup(func() {
		_, _, _ = ocikit(t, "--root", state, "delete", "-f", id)
		// The runtime keeps a read-only bind mount of its binary in the
		// state directory (CVE-2019-5736); it outlives the container.
		mounts, _ := filepath.Glob(filepath.Join(state, ".ocikit-*"))
		for _, m := range mounts {
			_ = syscall.Unmount(m, syscall.MNT_DETACH)
		}
	})
	out, stderr, err := ocikit(t, "--root", state, "run", "--bundle", b, id)
	if err != nil {
		t.Fatalf("ocikit run: %v\nstdout: %s\nstderr: %s", err, out, stderr)
	}
	checkLines(t, out, []string{
		"hello from /bin/sh", "1000", "1000", "1000 10", "/home/user", "GREETING=hi HOME=/home/user",
	})
}

// TestBundleUnpackPlatform: from an image index, image unpack takes the
// host's manifest by default and the one --platform names otherwise.
func TestBundleUnpackPlatform(t *testing.T) {
	ctx := context.Background()
	dir := bundleTestImage(t, bundleImageConfig)
	l, err := layout.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	host, err := l.Resolve(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	// A second manifest for another architecture, sharing the layer.
	other := "s390x"
	if host.Config.Architecture == other {
		other = "arm64"
	}
	cfg := host.Config
	cfg.Architecture = other
	cfg.Config.Cmd = []string{"echo other"}
	cfgDesc, err := l.PutJSON(ctx, v1.MediaTypeImageConfig, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := host.Manifest
	m.Config = cfgDesc
	mDesc, err := l.PutJSON(ctx, v1.MediaTypeImageManifest, m)
	if err != nil {
		t.Fatal(err)
	}
	hostDesc := host.Descriptor
	hostDesc.Annotations = nil
	hostDesc.Platform = &v1.Platform{OS: "linux", Architecture: host.Config.Architecture}
	mDesc.Platform = &v1.Platform{OS: "linux", Architecture: other}
	idx := v1.Index{MediaType: v1.MediaTypeImageIndex, Manifests: []v1.Descriptor{mDesc, hostDesc}}
	idx.SchemaVersion = 2
	idxDesc, err := l.PutJSON(ctx, v1.MediaTypeImageIndex, idx)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Tag(ctx, "multi", idxDesc); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		platform, arch, arg string
	}{
		{"", host.Config.Architecture, "echo \"hello from $0\"; id -u; id -g; id -G; pwd; echo \"GREETING=$GREETING HOME=$HOME\""},
		{"linux/" + other, other, "echo other"},
	} {
		b := filepath.Join(t.TempDir(), "bundle")
		args := []string{"image", "unpack", dir + ":multi", b}
		if tt.platform != "" {
			args = append(args, "--platform", tt.platform)
		}
		if _, stderr, err := ocikit(t, args...); err != nil {
			t.Fatalf("unpack %q: %v: %s", tt.platform, err, stderr)
		}
		var s specs.Spec
		data, err := os.ReadFile(filepath.Join(b, "config.json"))
		if err == nil {
			err = json.Unmarshal(data, &s)
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Annotations["org.opencontainers.image.architecture"]; got != tt.arch {
			t.Errorf("--platform %q: architecture %q, want %q", tt.platform, got, tt.arch)
		}
		if got := s.Process.Args[len(s.Process.Args)-1]; got != tt.arg {
			t.Errorf("--platform %q: last arg %q, want %q", tt.platform, got, tt.arg)
		}
	}
}
