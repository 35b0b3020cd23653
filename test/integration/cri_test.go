//go:build linux

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ocikit/ocikit/internal/testutil"
)

// The CRI tools come from sigs.k8s.io/cri-tools, pinned in the module
// test/cri (its own go.mod, so ocikit's stays free of Kubernetes).
const criToolsVersion = "v1.37.0"

var (
	criToolsMu    sync.Mutex
	criToolsBuilt = map[string]string{}
)

// criTool returns the path of crictl or critest, built from the module
// test/cri into test/cri/bin once (critest is the test binary of
// cri-tools' cmd/critest, built with go test -c as cri-tools' Makefile
// does). The first build downloads the modules through the module proxy
// and takes minutes; the Go build cache makes later ones quick.
func criTool(t *testing.T, name string) string {
	t.Helper()
	criToolsMu.Lock()
	defer criToolsMu.Unlock()
	if p, ok := criToolsBuilt[name]; ok {
		return p
	}
	goBin := testutil.RequireTool(t, "go")
	dir := filepath.Join(testutil.ModuleRoot(t), "test", "cri")
	out := filepath.Join(dir, "bin", name)
	ldflags := "-X sigs.k8s.io/cri-tools/pkg/version.Version=" + criToolsVersion
	args := []string{"build", "-trimpath", "-ldflags", ldflags, "-o", out, "sigs.k8s.io/cri-tools/cmd/" + name}
	if name == "critest" {
		args = []string{"test", "-c", "-trimpath", "-ldflags", ldflags, "-o", out, "sigs.k8s.io/cri-tools/cmd/critest"}
	}
	cmd := exec.Command(goBin, args...)
	cmd.Dir = dir
	t0 := time.Now()
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", name, err, o)
	}
	t.Logf("built %s in %v", name, time.Since(t0).Round(time.Second))
	criToolsBuilt[name] = out
	return out
}

// criSetup is what a containerd with its CRI plugin needs from a test.
type criSetup struct {
	binary      string // the runc shim's BinaryName: ocikit or runc
	sandbox     string // sandbox (pause) image
	cniConfDir  string // "" for no CNI configuration (host-network pods only)
	mirrorsDir  string // registry hosts directory (hosts.toml), "" for none
	streamPort  int
	snapshotter string
}

// criConfig is the CRI plugin's configuration: the runc shim v2 with
// BinaryName, its runtime state under dir/runc (startContainerdWith's
// runcRoot), a stream server on 127.0.0.1, and CNI from Debian's
// containernetworking-plugins.
func criConfig(dir string, s criSetup) string {
	cfg := fmt.Sprintf(`
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  stream_server_address = "127.0.0.1"
  stream_server_port = "%d"
  enable_selinux = false
  # Sandboxes ask for oomScoreAdj -998; a host without CAP_SYS_RESOURCE
  # (this one) cannot lower a score, and runc and ocikit then fail: scores
  # stay at or above containerd's own.
  restrict_oom_score_adj = %t
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = %q
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = %q
        Root = %q
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %q
`, s.sandbox, s.streamPort, !hasCap(unix.CAP_SYS_RESOURCE), s.snapshotter, s.binary, filepath.Join(dir, "runc"), s.cniConfDir)
	if s.mirrorsDir != "" {
		cfg += fmt.Sprintf(`  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = %q
`, s.mirrorsDir)
	}
	return cfg
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// busyboxImageTag builds, with ocikit, a busybox image in the layout dir
// under tag: every applet of Debian's static busybox installed in /bin,
// PATH set, and the given config flags (image config).
func busyboxImageTag(t *testing.T, bin, rootfs, layout, tag string, config ...string) {
	t.Helper()
	for _, args := range [][]string{
		{"image", "new", layout + ":" + tag, "--platform", "linux/" + goruntime.GOARCH},
		{"image", "add-layer", layout + ":" + tag, rootfs},
		append([]string{"image", "config", layout + ":" + tag, "--env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, config...),
	} {
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("ocikit %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// fullBusybox is BusyboxRootfs with every applet in /bin, hard links to
// busybox as in the busybox image (a masked /bin/ls must not mask the
// shell: ocikit refuses masked paths through symbolic links).
func fullBusybox(t *testing.T, dir string) string {
	t.Helper()
	rootfs := filepath.Join(dir, "busybox-rootfs")
	testutil.BusyboxRootfs(t, rootfs)
	bb := filepath.Join(rootfs, "bin", "busybox")
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	for _, a := range strings.Fields(string(out)) {
		p := filepath.Join(rootfs, "bin", a)
		if a == "busybox" {
			continue
		}
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if err := os.Link(bb, p); err != nil {
			t.Fatal(err)
		}
	}
	return rootfs
}

// importLayout imports tag of an image layout into containerd's k8s.io
// namespace as name (ctr images import of the layout as an OCI archive).
func (c *containerd) importLayout(t *testing.T, layout, tag, baseName string) {
	t.Helper()
	archive := layout + "-" + tag + ".tar"
	if out, err := exec.Command("tar", "-C", layout, "-cf", archive, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	c.mustRun("images", "import", "--base-name", baseName, "--snapshotter", "native", archive)
}

// crictl runs crictl against the daemon's CRI socket.
type crictl struct {
	t    *testing.T
	bin  string
	conf string
}

func newCrictl(t *testing.T, dir string, c *containerd) *crictl {
	conf := filepath.Join(dir, "crictl.yaml")
	ep := "unix://" + c.sock
	data := fmt.Sprintf("runtime-endpoint: %s\nimage-endpoint: %s\ntimeout: 60\n", ep, ep)
	if err := os.WriteFile(conf, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return &crictl{t: t, bin: criTool(t, "crictl"), conf: conf}
}

func (cc *crictl) run(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, cc.bin, append([]string{"--config", cc.conf}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (cc *crictl) must(args ...string) string {
	cc.t.Helper()
	out, err := cc.run("", args...)
	if err != nil {
		cc.t.Fatalf("crictl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

// jsonFile writes v as JSON to path and returns path.
func jsonFile(t *testing.T, path string, v any) string {
	t.Helper()
	writeJSON(t, path, v)
	return path
}

// TestCRI: containerd's CRI plugin with the runc shim v2 and ocikit as its
// BinaryName, driven by crictl as a kubelet would, with runc first as the
// reference: a pod sandbox (host network: no CNI is needed) and a
// container in it run, exec (ExecSync and a streamed exec with stdin),
// logs, stop and remove, and each container of the pod is the runtime's
// (its own state shows it).
func TestCRI(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "containerd")
	dir := t.TempDir()
	bin := testutil.Binary(t)
	rootfs := fullBusybox(t, dir)
	layout := filepath.Join(dir, "layout")
	busyboxImageTag(t, bin, rootfs, layout, "busybox", "--cmd", "sh")
	busyboxImageTag(t, bin, rootfs, layout, "pause", "--entrypoint", "sleep", "--cmd", "2147483647")
	// runc first, the reference: the same steps give the same answers.
	for _, rt := range []string{"runc", "ocikit"} {
		t.Run(rt, func(t *testing.T) {
			binary := bin
			if rt != "ocikit" {
				binary = testutil.RequireTool(t, rt)
			}
			criPod(t, binary, layout)
		})
	}
}

// criPod runs one pod and its container through crictl, with binary as
// the runc shim's BinaryName.
func criPod(t *testing.T, binary, layout string) {
	dir := t.TempDir()
	cgParent := fmt.Sprintf("/ocikit-cri-%d-%s", os.Getpid(), filepath.Base(binary))
	t.Cleanup(func() {
		for _, p := range append(mustGlob("/sys/fs/cgroup/*"+cgParent), "/sys/fs/cgroup"+cgParent) {
			unix.Rmdir(p)
		}
	})
	c := startContainerdWith(t, dir, "k8s.io", criConfig(dir, criSetup{
		binary: binary, sandbox: "ocikit.test/ocikit/pause:busybox-sleep", streamPort: freePort(t),
		cniConfDir: filepath.Join(dir, "net.d"), snapshotter: "native",
	}))
	c.importLayout(t, layout, "pause", "ocikit.test/ocikit/pause")
	c.importLayout(t, layout, "busybox", "ocikit.test/ocikit/busybox")
	c.mustRun("images", "tag", "ocikit.test/ocikit/pause:pause", "ocikit.test/ocikit/pause:busybox-sleep")
	cc := newCrictl(t, dir, c)
	t.Cleanup(func() {
		cc.run("", "rmp", "-fa")
	})

	logDir := filepath.Join(dir, "pod-logs")
	pod := jsonFile(t, filepath.Join(dir, "pod.json"), map[string]any{
		"metadata":      map[string]any{"name": "ocikit-pod", "namespace": "default", "uid": "ocikit-pod-uid", "attempt": 1},
		"log_directory": logDir,
		"linux": map[string]any{
			"cgroup_parent":    cgParent,
			"security_context": map[string]any{"namespace_options": map[string]any{"network": 2}}, // NODE
		},
	})
	ctrCfg := jsonFile(t, filepath.Join(dir, "ctr.json"), map[string]any{
		"metadata": map[string]any{"name": "c1"},
		"image":    map[string]any{"image": "ocikit.test/ocikit/busybox:busybox"},
		"command":  []string{"sh", "-c", "echo started; echo to-stderr >&2; exec sleep 1000"},
		"log_path": "c1.log",
		"linux":    map[string]any{},
	})
	runcRoot := filepath.Join(c.runcRoot, "k8s.io")
	// The runtime's own state: the shim ran this binary.
	runtimeStatus := func(id string) string {
		out, err := exec.Command(binary, "--root", runcRoot, "state", id).CombinedOutput()
		if err != nil {
			return "error: " + strings.TrimSpace(string(out))
		}
		var st struct{ Status string }
		json.Unmarshal(out, &st)
		return st.Status
	}

	podID := cc.must("runp", pod)
	if st := runtimeStatus(podID); st != "running" {
		t.Fatalf("runtime's state of the sandbox: %s", st)
	}
	id := cc.must("create", podID, ctrCfg, pod)
	cc.must("start", id)
	if st := runtimeStatus(id); st != "running" {
		t.Fatalf("runtime's state of the container: %s", st)
	}
	if out := cc.must("exec", id, "sh", "-c", "echo hi; id -u"); out != "hi\n0" {
		t.Errorf("crictl exec (ExecSync): %q", out)
	}
	// A streamed exec: stdin through containerd's stream server.
	if out, err := cc.run("from-stdin\n", "exec", "-i", id, "sh", "-c", "read x; echo got $x; exit 7"); err == nil ||
		!strings.HasPrefix(out, "got from-stdin\n") || !strings.Contains(out, "command terminated with exit code 7") {
		t.Errorf("crictl exec -i: %v: %q, want \"got from-stdin\" and exit code 7", err, out)
	}
	// The pod's pid namespace (the CRI default): its pid 1 is the
	// sandbox's process.
	if out := cc.must("exec", id, "cat", "/proc/1/cmdline"); out != "sleep\x002147483647\x00" {
		t.Errorf("pid 1 in the container runs %q, want the sandbox's sleep 2147483647", out)
	}
	// The container process logs through the shim into the CRI log file.
	var logs string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if logs, _ = cc.run("", "logs", id); strings.Contains(logs, "started") && strings.Contains(logs, "to-stderr") {
			break
		}
	}
	if !strings.Contains(logs, "started") || !strings.Contains(logs, "to-stderr") {
		t.Errorf("crictl logs: %q, want started and to-stderr", logs)
	}
	cc.must("stop", "--timeout", "2", id)
	if out := cc.must("inspect", "-o", "go-template", "--template", "{{.status.state}} {{.status.exitCode}}", id); out != "CONTAINER_EXITED 143" {
		t.Errorf("container after stop: %q, want CONTAINER_EXITED 143 (SIGTERM)", out)
	}
	cc.must("rm", id)
	if st := runtimeStatus(id); !strings.Contains(st, "does not exist") {
		t.Errorf("runtime's state after crictl rm: %s", st)
	}
	cc.must("stopp", podID)
	cc.must("rmp", podID)
	if out, err := exec.Command(binary, "--root", runcRoot, "list", "-q").CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("runtime's list after rmp: %v: %q", err, out)
	}
}

func mustGlob(pattern string) []string {
	m, _ := filepath.Glob(pattern)
	return m
}

// hasCap reports whether this process has capability c in its effective
// set.
func hasCap(c int) bool {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			var mask uint64
			fmt.Sscanf(strings.TrimSpace(v), "%x", &mask)
			return mask&(1<<uint(c)) != 0
		}
	}
	return false
}
