package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ocikit/ocikit/internal/testutil"
	"github.com/ocikit/ocikit/layer"
	"github.com/ocikit/ocikit/layout"
	"github.com/ocikit/ocikit/snapshot"
)

// irEnv is one image run test's world: its own store and runtime root.
type irEnv struct {
	t                *testing.T
	bin, store, root string
	// env is added to ocikit's environment.
	env []string
	// cred, when set, runs ocikit as that user, with env and PATH alone
	// as its environment.
	cred *syscall.Credential
}

func newIREnv(t *testing.T) *irEnv {
	t.Helper()
	testutil.RequireRoot(t)
	dir := t.TempDir()
	e := &irEnv{t: t, bin: testutil.Binary(t), store: filepath.Join(dir, "store"), root: filepath.Join(dir, "state")}
	t.Cleanup(func() {
		// Whatever a failed test left: containers under our root only.
		out, _ := exec.Command(e.bin, "--root", e.root, "list", "-q").Output()
		for _, id := range strings.Fields(string(out)) {
			exec.Command(e.bin, "--root", e.root, "delete", "--force", id).Run()
		}
	})
	return e
}

// run runs ocikit with the env's root and returns stdout, stderr and the
// exit status.
func (e *irEnv) run(args ...string) (string, string, int) {
	e.t.Helper()
	cmd := exec.Command(e.bin, append([]string{"--root", e.root}, args...)...)
	switch {
	case e.cred != nil:
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: e.cred}
		cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, e.env...)
	case len(e.env) > 0:
		cmd.Env = append(os.Environ(), e.env...)
	}
	// Files, not pipes: a detached container keeps its stdio open.
	outF, errF := irTemp(e.t), irTemp(e.t)
	cmd.Stdout, cmd.Stderr = outF, errF
	err := cmd.Run()
	out, errb := irRead(e.t, outF), irRead(e.t, errF)
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			e.t.Fatalf("ocikit %s: %v", strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	return out, errb, code
}

func irTemp(t *testing.T) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func irRead(t *testing.T, f *os.File) string {
	t.Helper()
	defer f.Close()
	data, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func (e *irEnv) must(args ...string) string {
	e.t.Helper()
	out, errs, code := e.run(args...)
	if code != 0 {
		e.t.Fatalf("ocikit %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// imageRun runs `image run --store STORE args...`.
func (e *irEnv) imageRun(args ...string) (string, string, int) {
	e.t.Helper()
	return e.run(append([]string{"image", "run", "--store", e.store}, args...)...)
}

// checkClean fails when the store has a container directory or something
// of the store is still mounted anywhere this process can see.
func (e *irEnv) checkClean() {
	e.t.Helper()
	if left, _ := os.ReadDir(filepath.Join(e.store, "containers")); len(left) > 0 {
		e.t.Errorf("container directories left: %v", left)
	}
	if left, _ := os.ReadDir(filepath.Join(e.store, "tmp")); len(left) > 0 {
		e.t.Errorf("temporary directories left: %v", left)
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		e.t.Fatal(err)
	}
	if strings.Contains(string(mi), e.store) {
		e.t.Errorf("store still mounted:\n%s", grepLines(string(mi), e.store))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// demoImage builds the image of scripts/demo.sh (busybox-static, with
// ocikit alone) plus a second layer, in a new layout; it returns DIR:TAG.
func demoImage(t *testing.T, bin string) string {
	t.Helper()
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "src")
	testutil.BusyboxRootfs(t, rootfs)
	l2 := filepath.Join(dir, "l2")
	if err := os.MkdirAll(filepath.Join(l2, "root"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(l2, "root", "NOTE"), []byte("from layer 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Layer 2 adds a user: names resolve through the whole chain.
	passwd, err := os.ReadFile(filepath.Join(rootfs, "etc", "passwd"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(l2, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	passwd = append(passwd, "extra:x:2000:1000:extra:/srv:/bin/sh\n"...)
	if err := os.WriteFile(filepath.Join(l2, "etc", "passwd"), passwd, 0o644); err != nil {
		t.Fatal(err)
	}
	ref := filepath.Join(dir, "layout") + ":busybox"
	for _, args := range [][]string{
		{"image", "init", filepath.Join(dir, "layout")},
		{"image", "new", ref},
		{"image", "add-layer", ref, rootfs},
		{"image", "add-layer", ref, l2},
		{"image", "config", ref, "--entrypoint", "/bin/sh", "--cmd", "-c",
			"--cmd", `echo "hello from $(hostname), uid $(id -u), $GREETING"; cat /root/NOTE`,
			"--env", "GREETING=hi", "--workdir", "/root"},
	} {
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("ocikit %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return ref
}

// TestImageRunDemo runs the demo image: output, exit status, overrides,
// and nothing left behind by --rm.
func TestImageRunDemo(t *testing.T) {
	e := newIREnv(t)
	ref := demoImage(t, e.bin)
	out, errs, code := e.imageRun("--rm", "--name", "irdemo-1", ref)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if want := "hello from irdemo-1, uid 0, hi\nfrom layer 2\n"; out != want {
		t.Errorf("output %q, want %q", out, want)
	}
	if !strings.Contains(errs, "unpacking") {
		t.Errorf("no progress on stderr for a cold run: %q", errs)
	}
	out, errs, code = e.imageRun("--rm", "-e", "GREETING=ho", "-u", "1000", "-w", "/tmp", ref, "--", "-c", `echo $GREETING $(id -u) $(pwd); exit 7`)
	if code != 7 || out != "ho 1000 /tmp\n" {
		t.Errorf("overrides: exit %d output %q (want 7, %q); stderr %q", code, out, "ho 1000 /tmp\n", errs)
	}
	if errs != "" {
		t.Errorf("warm run wrote to stderr: %q", errs)
	}
	// User names resolve through the image's merged /etc/passwd (layer 2's
	// user) and /etc/group (layer 1's), HOME from it.
	out, errs, code = e.imageRun("--rm", "-u", "extra:user", ref, "--", "-c", `echo $(id -u):$(id -g) $HOME`)
	if code != 0 || out != "2000:1000 /srv\n" {
		t.Errorf("-u extra:user: exit %d output %q stderr %q", code, out, errs)
	}
	// --entrypoint replaces the entrypoint and drops the Cmd.
	out, _, code = e.imageRun("--rm", "--entrypoint", "/bin/echo", ref, "--", "direct")
	if code != 0 || out != "direct\n" {
		t.Errorf("--entrypoint: exit %d output %q", code, out)
	}
	// A write lands in the container's own layer only.
	out, _, _ = e.imageRun("--rm", ref, "--", "-c", "echo changed > /root/NOTE; cat /root/NOTE")
	if out != "changed\n" {
		t.Errorf("write: %q", out)
	}
	out, _, _ = e.imageRun("--rm", ref, "--", "-c", "cat /root/NOTE")
	if out != "from layer 2\n" {
		t.Errorf("a container's write reached the image: %q", out)
	}
	// --read-only, volumes, tmpfs.
	vol := t.TempDir()
	if err := os.WriteFile(filepath.Join(vol, "f"), []byte("vol\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, code = e.imageRun("--rm", "--read-only", "-v", vol+":/data:ro", "--tmpfs", "/scratch", ref, "--",
		"-c", "cat /data/f; touch /x 2>/dev/null || echo ro-root; touch /data/y 2>/dev/null || echo ro-vol; touch /scratch/z && echo tmpfs-ok")
	if code != 0 || out != "vol\nro-root\nro-vol\ntmpfs-ok\n" {
		t.Errorf("read-only/volume/tmpfs: exit %d output %q stderr %q", code, out, errs)
	}
	e.checkClean()
}

// TestImageRunLifecycle: a detached container is an ordinary one (list,
// exec, kill, delete), a foreground run keeps its container without --rm,
// deleting removes the container's directory, and a SIGKILLed image run
// leaves nothing mounted on the host.
func TestImageRunLifecycle(t *testing.T) {
	e := newIREnv(t)
	ref := demoImage(t, e.bin)
	out, errs, code := e.imageRun("-d", "--name", "irlife-d", ref, "--", "-c", "sleep 300")
	if code != 0 || out != "irlife-d\n" {
		t.Fatalf("-d: exit %d output %q stderr %q", code, out, errs)
	}
	if l := e.must("list", "-q"); !strings.Contains(l, "irlife-d") {
		t.Errorf("list: %q", l)
	}
	if st := e.must("state", "irlife-d"); !strings.Contains(st, `"running"`) {
		t.Errorf("state: %s", st)
	}
	if got := e.must("exec", "irlife-d", "cat", "/root/NOTE"); got != "from layer 2\n" {
		t.Errorf("exec: %q", got)
	}
	e.must("kill", "irlife-d", "KILL")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(e.must("state", "irlife-d"), `"stopped"`) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	e.must("delete", "irlife-d")

	// -d --rm: deleted, directory and all, once its program exits.
	if _, errs, code := e.imageRun("-d", "--rm", "--name", "irlife-drm", ref, "--", "-c", "sleep 300"); code != 0 {
		t.Fatalf("-d --rm: %s", errs)
	}
	e.must("kill", "irlife-drm", "KILL")
	deadline = time.Now().Add(20 * time.Second)
	for {
		_, err := os.Stat(filepath.Join(e.store, "containers", "irlife-drm"))
		if _, _, code := e.run("state", "irlife-drm"); code != 0 && os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("-d --rm: container or its directory still there after its program was killed")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Without --rm the stopped container stays until deleted.
	_, _, code = e.imageRun("--name", "irlife-keep", ref, "--", "-c", "exit 3")
	if code != 3 {
		t.Errorf("exit %d, want 3", code)
	}
	if _, err := os.Stat(filepath.Join(e.store, "containers", "irlife-keep")); err != nil {
		t.Errorf("kept container's directory: %v", err)
	}
	e.must("delete", "irlife-keep")

	// SIGKILL of the foreground ocikit: the container runs on, nothing is
	// mounted on the host, delete --force cleans up.
	cmd := exec.Command(e.bin, "--root", e.root, "image", "run", "--store", e.store, "--name", "irlife-k", ref, "--", "-c", "sleep 300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(20 * time.Second)
	for {
		out, _, _ := e.run("state", "irlife-k")
		if strings.Contains(out, `"running"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("container never ran")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	e.must("delete", "--force", "irlife-k")
	e.checkClean()
}

// TestImageRunUmoci runs an image umoci wrote (busybox in a layer, the
// command set with umoci config) and checks that the overlay of the
// snapshots is exactly layer.Unpack's tree for umoci's four-layer image
// of every entry type, whiteouts and cross-layer hard links included.
func TestImageRunUmoci(t *testing.T) {
	e := newIREnv(t)
	umoci := testutil.RequireTool(t, "umoci")
	dir := t.TempDir()
	img := filepath.Join(dir, "image")
	bundle := filepath.Join(dir, "bundle")
	unpackUmociRun(t, umoci, "init", "--layout", img)
	unpackUmociRun(t, umoci, "new", "--image", img+":bb")
	unpackUmociRun(t, umoci, "unpack", "--image", img+":bb", bundle)
	testutil.BusyboxRootfs(t, filepath.Join(bundle, "rootfs"))
	unpackUmociRun(t, umoci, "repack", "--image", img+":bb", bundle)
	// umoci's image has no command yet: image unpack takes it with one
	// warning (as umoci unpack does), image run asks for one.
	_, errs, code := e.run("image", "unpack", img+":bb", filepath.Join(dir, "unpacked"))
	if code != 0 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "neither Entrypoint nor Cmd") {
		t.Errorf("image unpack without a command: exit %d stderr %q, want success and one warning", code, errs)
	}
	if _, errs, code := e.imageRun("--rm", img+":bb"); code != 1 || !strings.Contains(errs, "give one after --") {
		t.Errorf("image run without a command: exit %d stderr %q", code, errs)
	}
	if out, errs, code := e.imageRun("--rm", img+":bb", "--", "/bin/echo", "given"); code != 0 || out != "given\n" {
		t.Errorf("image run with a command after --: exit %d output %q stderr %q", code, out, errs)
	}
	unpackUmociRun(t, umoci, "config", "--image", img+":bb", "--config.entrypoint", "/bin/sh",
		"--config.cmd", "-c", "--config.cmd", "echo umoci $(id -u):$(id -g) $(pwd)", "--config.user", "1000:1000", "--config.workingdir", "/home/user")
	out, errs, code := e.imageRun("--rm", img+":bb")
	if code != 0 || out != "umoci 1000:1000 /home/user\n" {
		t.Errorf("umoci image: exit %d output %q stderr %q", code, out, errs)
	}

	// The snapshots of a layer set of every kind, stacked, are the tree
	// layer.Unpack builds.
	tricky := unpackUmociImage(t, umoci, t.TempDir())
	ctx := context.Background()
	l, err := layout.Open(ctx, tricky)
	if err != nil {
		t.Fatal(err)
	}
	resolved, err := l.Resolve(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	s, err := snapshot.Open(ctx, e.store)
	if err != nil {
		t.Fatal(err)
	}
	lowers, made, err := s.Prepare(ctx, l, resolved, nil)
	if err != nil {
		t.Fatal(err)
	}
	if made != len(resolved.Manifest.Layers) {
		t.Errorf("made %d snapshots for %d layers", made, len(resolved.Manifest.Layers))
	}
	view, closeView, err := snapshot.View(lowers)
	if err != nil {
		t.Fatal(err)
	}
	defer closeView()
	ref := filepath.Join(t.TempDir(), "rootfs")
	if err := layer.Unpack(ctx, l, resolved.Manifest, resolved.Config, ref); err != nil {
		t.Fatal(err)
	}
	want := unpackTreeManifest(t, ref)
	have := unpackTreeManifest(t, view+"/.")
	if diff := unpackLineDiff(want, have); diff != "" {
		t.Errorf("overlay of snapshots differs from layer.Unpack (- unpack, + snapshots):\n%s", diff)
	}
	e.checkClean()
}

// TestImageRunParallel: 10 concurrent `image run --rm` of a new image
// unpack each layer once and leave nothing mounted or behind.
func TestImageRunParallel(t *testing.T) {
	e := newIREnv(t)
	ref := demoImage(t, e.bin)
	const n = 10
	var wg sync.WaitGroup
	type result struct {
		out, errs string
		code      int
	}
	res := make([]result, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(e.bin, "--root", e.root, "image", "run", "--store", e.store, "--rm", "--name", fmt.Sprintf("irpar-%d", i), ref)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			res[i] = result{out.String(), errb.String(), cmd.ProcessState.ExitCode()}
			if err != nil && res[i].code == 0 {
				res[i].code = -1
			}
		}()
	}
	wg.Wait()
	unpacked := 0
	for i, r := range res {
		if want := fmt.Sprintf("hello from irpar-%d, uid 0, hi\nfrom layer 2\n", i); r.code != 0 || r.out != want {
			t.Errorf("run %d: exit %d output %q stderr %q", i, r.code, r.out, r.errs)
		}
		unpacked += strings.Count(r.errs, "unpacking")
	}
	snaps, err := os.ReadDir(filepath.Join(e.store, "snapshots", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	if unpacked != 2 || len(snaps) != 2 {
		t.Errorf("%d layers unpacked into %d snapshots by 10 runs of a 2-layer image, want 2 and 2", unpacked, len(snaps))
	}
	e.checkClean()
}

// TestImageRunGC: gc keeps the snapshots a live container uses even when
// no image in the store does, removes them once it is deleted, and removes
// the directory of a container that never reached the runtime.
func TestImageRunGC(t *testing.T) {
	e := newIREnv(t)
	ref := demoImage(t, e.bin)
	if _, errs, code := e.imageRun("-d", "--name", "irgc-live", ref, "--", "-c", "sleep 300"); code != 0 {
		t.Fatalf("-d: %s", errs)
	}
	images := filepath.Join(e.store, "images")
	var tag string
	for _, line := range strings.Split(e.must("image", "ls", images), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "sha256-") {
			tag = f[0]
		}
	}
	if tag == "" {
		t.Fatalf("no image in the store:\n%s", e.must("image", "ls", images))
	}
	e.must("image", "rm", images+":"+tag)
	// A directory left by an image run killed before create.
	stale := filepath.Join(e.store, "containers", "irgc-stale")
	if err := os.MkdirAll(filepath.Join(stale, "upper"), 0o700); err != nil {
		t.Fatal(err)
	}
	out := e.must("image", "gc", "--store", e.store)
	if !strings.Contains(out, "removed 1 container directories, 0 snapshots") {
		t.Errorf("gc with a live container: %q", out)
	}
	if got := e.must("exec", "irgc-live", "cat", "/root/NOTE"); got != "from layer 2\n" {
		t.Errorf("after gc: %q", got)
	}
	e.must("delete", "--force", "irgc-live")
	out = e.must("image", "gc", "--store", e.store)
	if !strings.Contains(out, "removed 0 container directories, 2 snapshots") {
		t.Errorf("gc after delete: %q", out)
	}
	e.checkClean()
}

// TestImageRunBadInput: each bad input is one line naming the problem,
// exit 1, and the store stays consistent (valid layout, no container
// directory, no temporary leftover).
func TestImageRunBadInput(t *testing.T) {
	e := newIREnv(t)
	ref := demoImage(t, e.bin)
	noCmd := filepath.Join(t.TempDir(), "nocmd")
	e.must("image", "init", noCmd)
	e.must("image", "new", noCmd+":x")
	src := filepath.Join(t.TempDir(), "files")
	testutil.BusyboxRootfs(t, src)
	e.must("image", "add-layer", noCmd+":x", src)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown tag", []string{ref + "-nope"}, `tag "busybox-nope"`},
		{"unknown layout", []string{filepath.Join(t.TempDir(), "none") + ":x"}, "does not exist"},
		{"other platform", []string{"--platform", "linux/s390x", ref}, "not linux/s390x"},
		{"no command", []string{noCmd + ":x"}, "neither Entrypoint nor Cmd"},
		{"volume source", []string{"-v", "/nonexistent-irbad:/x", ref}, "volume source does not exist: /nonexistent-irbad"},
		{"registry", []string{"docker://127.0.0.1:1/x"}, "127.0.0.1:1/v2/: dial tcp 127.0.0.1:1: connect: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := e.imageRun(append([]string{"--rm"}, tt.args...)...)
			if code != 1 || out != "" || !strings.Contains(errs, tt.want) || strings.Count(errs, "\n") != 1 {
				t.Errorf("exit %d stdout %q stderr %q, want exit 1 and one line with %q", code, out, errs, tt.want)
			}
			if _, err := os.Stat(filepath.Join(e.store, "images")); err == nil {
				if o, errs, code := e.run("image", "validate", filepath.Join(e.store, "images")); code != 0 {
					t.Errorf("store layout invalid: %s%s", o, errs)
				}
			}
			e.checkClean()
		})
	}
	// The registry reference fails as image copy's does (the command's own
	// prefix aside).
	_, copyErr, _ := e.run("image", "copy", "docker://127.0.0.1:1/x", filepath.Join(t.TempDir(), "l"))
	_, runErr, _ := e.imageRun("docker://127.0.0.1:1/x")
	if strings.TrimPrefix(copyErr, "ocikit: copy ") != strings.TrimPrefix(runErr, "ocikit: image ") {
		t.Errorf("registry: image run says %q, image copy %q", runErr, copyErr)
	}
}

// TestImageRunPodman: podman run and ocikit image run of the same image
// print the same `id; pwd; env` (the hostname and podman's own
// container=podman aside).
func TestImageRunPodman(t *testing.T) {
	e := newIREnv(t)
	podman := testutil.RequireTool(t, "podman")
	ref := demoImage(t, e.bin)
	// podman's own store in a temporary directory (its runroot must be
	// shorter than 50 characters); runc, as crun refuses this machine's
	// hybrid cgroup layout.
	pstore, err := os.MkdirTemp("", "ocikit-irp-")
	if err != nil {
		t.Fatal(err)
	}
	base := []string{"--storage-driver", "vfs", "--root", filepath.Join(pstore, "root"), "--runroot", filepath.Join(pstore, "run"),
		"--cgroup-manager", "cgroupfs", "--events-backend", "none"}
	t.Cleanup(func() {
		exec.Command(podman, append(base, "rm", "-a", "-f")...).Run()
		exec.Command(podman, append(base, "rmi", "-a", "-f")...).Run()
		exec.Command("umount", "-R", filepath.Join(pstore, "root")).Run()
		os.RemoveAll(pstore)
	})
	layoutDir, tag, _ := strings.Cut(ref, ":")
	// podman names the image after the path, which must be lowercase.
	img := filepath.Join(pstore, "image")
	if err := os.Symlink(layoutDir, img); err != nil {
		t.Fatal(err)
	}
	script := "id; pwd; env"
	pout, err := exec.Command(podman, append(base, "run", "--rm", "--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
		"--hostname", "irhost", "--network", "none", "oci:"+img+":"+tag, "-c", script)...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("podman run: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("podman run: %v", err)
	}
	oout, errs, code := e.imageRun("--rm", "--name", "irhost", ref, "--", "-c", script)
	if code != 0 {
		t.Fatalf("image run: exit %d: %s", code, errs)
	}
	norm := func(s string) []string {
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
			if l == "container=podman" {
				continue
			}
			out = append(out, l)
		}
		slices.Sort(out)
		return out
	}
	if p, o := norm(string(pout)), norm(oout); !slices.Equal(p, o) {
		t.Errorf("podman and ocikit differ:\npodman: %q\nocikit: %q", p, o)
	}
}

// TestImageRunCopyFallback: on a store where the kernel refuses an overlay
// upper directory (the store itself on overlayfs), a one-layer image runs
// from a copy, with one notice for the store, and --rm leaves nothing.
func TestImageRunCopyFallback(t *testing.T) {
	e := newIREnv(t)
	dir := t.TempDir()
	for _, d := range []string{"lo", "up", "wk", "m"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mnt := filepath.Join(dir, "m")
	if err := syscall.Mount("overlay", mnt, "overlay", 0, "lowerdir="+filepath.Join(dir, "lo")+",upperdir="+filepath.Join(dir, "up")+",workdir="+filepath.Join(dir, "wk")); err != nil {
		t.Skipf("overlay mount: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })
	e.store = filepath.Join(mnt, "store")
	src := filepath.Join(dir, "src")
	testutil.BusyboxRootfs(t, src)
	ref := filepath.Join(dir, "layout") + ":one"
	e.must("image", "init", filepath.Join(dir, "layout"))
	e.must("image", "new", ref)
	e.must("image", "add-layer", ref, src)
	e.must("image", "config", ref, "--entrypoint", "/bin/sh", "--cmd", "-c", "--cmd", "echo copied; touch /new")
	notices := 0
	for range 2 {
		out, errs, code := e.imageRun("--rm", ref)
		if code != 0 || out != "copied\n" {
			t.Errorf("exit %d output %q stderr %q", code, out, errs)
		}
		notices += strings.Count(errs, "root filesystems are copies")
	}
	if notices != 1 {
		t.Errorf("%d notices in two runs, want 1", notices)
	}
	e.checkClean()
}

// TestImageRunTerminal: -t gives the program a terminal, as `ocikit run`
// with process.terminal does (driven through script(1)'s pty).
func TestImageRunTerminal(t *testing.T) {
	e := newIREnv(t)
	script := testutil.RequireTool(t, "script")
	ref := demoImage(t, e.bin)
	cmdline := fmt.Sprintf("%s --root %s image run --store %s --rm -t %s -- -c 'tty; exit 3'", e.bin, e.root, e.store, ref)
	out, err := exec.Command(script, "-qec", cmdline, "/dev/null").Output()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 3 || !strings.Contains(string(out), "/dev/pts/0") {
		t.Errorf("-t: %v, output %q; want exit 3 and /dev/pts/0", err, out)
	}
	e.checkClean()
}

// TestImageRunKilledWhileUnpacking: SIGKILL of image run while it makes
// snapshots leaves none that looks complete (every snapshot there is
// whole), gc removes the leftovers, and the next run succeeds.
func TestImageRunKilledWhileUnpacking(t *testing.T) {
	if testing.Short() {
		t.Skip("builds thousands of files or tens of layers")
	}
	e := newIREnv(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	testutil.BusyboxRootfs(t, src)
	big := filepath.Join(dir, "big")
	for i := range 300 {
		d := filepath.Join(big, "data", fmt.Sprintf("d%03d", i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for j := range 20 {
			if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%02d", j)), bytes.Repeat([]byte{byte(i), byte(j)}, 2048), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	ref := filepath.Join(dir, "layout") + ":big"
	e.must("image", "init", filepath.Join(dir, "layout"))
	e.must("image", "new", ref)
	e.must("image", "add-layer", ref, src)
	e.must("image", "add-layer", ref, big)
	e.must("image", "config", ref, "--entrypoint", "/bin/sh", "--cmd", "-c", "--cmd", "ls /data | wc -l")
	killed := 0
	for attempt := 0; attempt < 5 && killed == 0; attempt++ {
		cmd := exec.Command(e.bin, "--root", e.root, "image", "run", "--store", e.store, "--rm", ref)
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		var seen []byte
		for bytes.Count(seen, []byte("unpacking (snapshot")) < 2 {
			n, err := stderr.Read(buf)
			seen = append(seen, buf[:n]...)
			if err != nil {
				break
			}
		}
		// The second layer's line: kill while it is being applied.
		if bytes.Count(seen, []byte("unpacking (snapshot")) == 2 {
			// Once its temporary directory exists (polled for a bounded
			// while; a run that finished first is simply tried again).
			for range 20000 {
				if left, _ := os.ReadDir(filepath.Join(e.store, "tmp")); len(left) > 0 {
					cmd.Process.Signal(syscall.SIGKILL)
					killed++
					break
				}
				time.Sleep(500 * time.Microsecond)
			}
		}
		cmd.Wait()
	}
	if killed == 0 {
		t.Fatal("never caught image run unpacking the second layer")
	}
	if left, _ := os.ReadDir(filepath.Join(e.store, "tmp")); len(left) == 0 {
		t.Error("no temporary directory after the kill: was it killed while unpacking?")
	}
	snaps, _ := os.ReadDir(filepath.Join(e.store, "snapshots", "sha256"))
	if len(snaps) != 1 {
		t.Errorf("%d snapshots after a kill during the second layer, want 1", len(snaps))
	}
	for _, s := range snaps {
		// A committed snapshot always has both parts.
		for _, part := range []string{"fs", "users"} {
			if _, err := os.Stat(filepath.Join(e.store, "snapshots", "sha256", s.Name(), part)); err != nil {
				t.Errorf("snapshot %s without %s: %v", s.Name(), part, err)
			}
		}
	}
	e.must("image", "gc", "--store", e.store)
	out, errs, code := e.imageRun("--rm", ref)
	if code != 0 || strings.TrimSpace(out) != "300" {
		t.Fatalf("after the kill: exit %d output %q stderr %q", code, out, errs)
	}
	e.checkClean()
}

// TestImageRunManyLayers: 60 layers, whose overlay options are longer than
// the page mount(2) takes, stack in order.
func TestImageRunManyLayers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds thousands of files or tens of layers")
	}
	e := newIREnv(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	testutil.BusyboxRootfs(t, src)
	ref := filepath.Join(dir, "layout") + ":many"
	e.must("image", "init", filepath.Join(dir, "layout"))
	e.must("image", "new", ref)
	e.must("image", "add-layer", ref, src)
	const n = 60
	for i := 1; i < n; i++ {
		l := filepath.Join(dir, fmt.Sprintf("l%d", i), "layers")
		if err := os.MkdirAll(l, 0o755); err != nil {
			t.Fatal(err)
		}
		// Each layer adds a file and rewrites "top": the highest wins.
		for name, data := range map[string]string{fmt.Sprintf("f%02d", i): "x", "top": fmt.Sprint(i)} {
			if err := os.WriteFile(filepath.Join(l, name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		e.must("image", "add-layer", ref, filepath.Dir(l))
	}
	e.must("image", "config", ref, "--entrypoint", "/bin/sh", "--cmd", "-c", "--cmd", "ls /layers | wc -l; cat /layers/top")
	out, errs, code := e.imageRun("--rm", ref)
	if want := fmt.Sprintf("%d\n%d", n, n-1); code != 0 || out != want {
		t.Errorf("exit %d output %q (want %q) stderr %q", code, out, want, errs)
	}
	e.checkClean()
}

// TestImageRunRegistry: an image pushed to a registry (ocikit image serve
// on loopback) runs by digest through docker://, and a second run finds it
// in the store.
func TestImageRunRegistry(t *testing.T) {
	e := newIREnv(t)
	ref := demoImage(t, e.bin)
	srv := startServe(t, t.TempDir())
	dst := "docker://" + srv.addr + "/ir/demo:v1"
	if out, errs, code := e.run("image", "push", "-q", ref, dst); code != 0 {
		t.Fatalf("image push: exit %d %s%s", code, out, errs)
	}
	dir, tag, _ := strings.Cut(ref, ":")
	byDigest := "docker://" + srv.addr + "/ir/demo@" + lookupDigest(t, dir, tag)
	for i, want := range []string{"unpacking", ""} {
		out, errs, code := e.imageRun("--rm", "--name", fmt.Sprintf("irreg-%d", i), byDigest)
		if code != 0 || out != fmt.Sprintf("hello from irreg-%d, uid 0, hi\nfrom layer 2\n", i) {
			t.Fatalf("run %d: exit %d output %q stderr %q", i, code, out, errs)
		}
		if want != "" && !strings.Contains(errs, want) {
			t.Errorf("cold run: no %q on stderr: %q", want, errs)
		}
	}
	e.checkClean()
}
