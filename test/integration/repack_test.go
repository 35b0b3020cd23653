package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ocikit/ocikit/internal/testutil"
)

// repackRunOK runs the ocikit binary and returns its trimmed stdout, failing the
// test on a non-zero exit.
func repackRunOK(t *testing.T, env []string, args ...string) string {
	t.Helper()
	out, err := repackRun(env, testutil.Binary(t), args...)
	if err != nil {
		t.Fatalf("ocikit %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func repackRun(env []string, bin string, args ...string) (string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// repackBusyboxImage builds DIR:v1 with ocikit image new, add-layer (a busybox
// rootfs) and config, and returns DIR.
func repackBusyboxImage(t *testing.T, env []string) string {
	t.Helper()
	src := t.TempDir()
	testutil.BusyboxRootfs(t, src)
	// podman derives an image name from the path: keep it lowercase.
	tmp, err := os.MkdirTemp("", "ocikit-repack-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	dir := filepath.Join(tmp, "layout")
	repackRunOK(t, env, "image", "new", dir+":v1", "--platform", "linux/amd64")
	repackRunOK(t, env, "image", "add-layer", dir+":v1", src, "--history-comment", "busybox")
	repackRunOK(t, env, "image", "config", dir+":v1", "--entrypoint", `["/bin/busybox"]`,
		"--env", "PATH=/bin", "--workdir", "/", "--label", "org.example=ocikit")
	return dir
}

// TestImageBuildRunsInPodman: an image made by ocikit image new + add-layer
// + config unpacks with umoci and runs under podman.
func TestImageBuildRunsInPodman(t *testing.T) {
	testutil.RequireRoot(t)
	umoci := testutil.RequireTool(t, "umoci")
	podman := testutil.RequireTool(t, "podman")
	testutil.RequireTool(t, "runc")
	dir := repackBusyboxImage(t, nil)

	bundle := filepath.Join(t.TempDir(), "bundle")
	if out, err := exec.Command(umoci, "unpack", "--image", dir+":v1", bundle).CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack: %v\n%s", err, out)
	}
	if st, err := os.Stat(filepath.Join(bundle, "rootfs/bin/busybox")); err != nil || st.Mode().Perm() != 0o755 {
		t.Fatalf("umoci's rootfs has no executable /bin/busybox: %v", err)
	}
	cfg, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), `"/bin/busybox"`) || !strings.Contains(string(cfg), `PATH=/bin`) {
		t.Errorf("umoci's config.json lacks the entrypoint or env:\n%s", cfg)
	}

	// Podman here: runc (crun refuses the hybrid cgroup layout), cgroupfs,
	// no event log, and rlimits within the hard limits (no CAP_SYS_RESOURCE).
	root := t.TempDir()
	base := []string{"--storage-driver", "vfs", "--root", filepath.Join(root, "root"), "--runroot", filepath.Join(root, "run"),
		"--cgroup-manager", "cgroupfs", "--events-backend", "none"}
	t.Cleanup(func() {
		exec.Command(podman, append(base, "rm", "-a", "-f")...).Run()
		exec.Command(podman, append(base, "rmi", "-a", "-f")...).Run()
	})
	args := append(append([]string{}, base...), "run", "--rm", "--runtime", "runc",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--network", "none",
		"oci:"+dir+":v1", "echo", "hi")
	out, err := exec.Command(podman, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("podman run: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if last := lines[len(lines)-1]; last != "hi" {
		t.Errorf("podman run printed %q, want hi", out)
	}

	// A zstd layer on top (umoci 0.4 cannot read zstd; podman can).
	extra := t.TempDir()
	if err := os.MkdirAll(filepath.Join(extra, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(extra, "etc/zstd-layer"), []byte("from zstd\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	repackRunOK(t, nil, "image", "tag", dir+":v1", "v1z")
	repackRunOK(t, nil, "image", "add-layer", "--compress", "zstd", dir+":v1z", extra)
	args[len(args)-3], args[len(args)-2], args[len(args)-1] = "oci:"+dir+":v1z", "cat", "/etc/zstd-layer"
	out, err = exec.Command(podman, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("podman run (zstd layer): %v\n%s", err, out)
	}
	if !strings.HasSuffix(strings.TrimSpace(string(out)), "from zstd") {
		t.Errorf("podman run (zstd layer) printed %q", out)
	}
}

// repackModify changes a busybox rootfs in every way repack must record.
func repackModify(t *testing.T, rootfs string) {
	t.Helper()
	p := func(s string) string { return filepath.Join(rootfs, s) }
	for i, err := range []error{
		os.WriteFile(p("etc/new-file"), []byte("new\n"), 0o640),
		os.WriteFile(p("etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644),
		os.Remove(p("bin/ls")),
		os.RemoveAll(p("home")),
		os.Chmod(p("etc/group"), 0o600),
		os.Lchown(p("etc/new-file"), 1000, 1000),
		os.MkdirAll(p("opt/app/data"), 0o750),
		os.WriteFile(p("opt/app/data/x"), []byte("x"), 0o644),
		os.Link(p("opt/app/data/x"), p("opt/app/x-link")),
		os.Symlink("../bin/busybox", p("opt/app/bb")),
		syscall.Mkfifo(p("opt/app/fifo"), 0o600),
		os.RemoveAll(p("root")),
		os.Mkdir(p("root"), 0o700),
		os.WriteFile(p("root/.profile"), []byte("PS1='# '\n"), 0o600),
	} {
		if err != nil {
			t.Fatalf("modification %d: %v", i, err)
		}
	}
}

// TestRepackUmoci: ocikit image unpack, modify, ocikit image repack; umoci
// unpacks the result to the modified tree, and repacking the same change
// again with SOURCE_DATE_EPOCH gives the same digest.
func TestRepackUmoci(t *testing.T) {
	testutil.RequireRoot(t)
	umoci := testutil.RequireTool(t, "umoci")
	env := []string{"SOURCE_DATE_EPOCH=1700000000"}
	dir := repackBusyboxImage(t, env)

	var digests []string
	var bundles []string
	for i := range 2 {
		bundle := filepath.Join(t.TempDir(), "bundle")
		repackRunOK(t, env, "image", "unpack", dir+":v1", bundle)
		repackModify(t, filepath.Join(bundle, "rootfs"))
		tag := fmt.Sprintf("v2-%d", i)
		digests = append(digests, repackRunOK(t, env, "image", "repack", bundle, dir+":"+tag))
		bundles = append(bundles, bundle)
	}
	if digests[0] != digests[1] {
		t.Errorf("same change, same SOURCE_DATE_EPOCH, different images: %s %s", digests[0], digests[1])
	}

	out := filepath.Join(t.TempDir(), "umoci")
	if o, err := exec.Command(umoci, "unpack", "--image", dir+":v2-0", out).CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack: %v\n%s", err, o)
	}
	got, want := filepath.Join(out, "rootfs"), filepath.Join(bundles[0], "rootfs")
	for _, gone := range []string{"bin/ls", "home"} {
		if _, err := os.Lstat(filepath.Join(got, gone)); !os.IsNotExist(err) {
			t.Errorf("%s not deleted: %v", gone, err)
		}
	}
	if data, err := os.ReadFile(filepath.Join(got, "etc/new-file")); err != nil || string(data) != "new\n" {
		t.Errorf("etc/new-file: %q %v", data, err)
	}
	if d := repackTreeDiff(t, want, got); d != "" {
		t.Errorf("umoci's rootfs differs from the repacked one:\n%s", d)
	}

	// A second repack of the same bundle holds only the later change.
	if err := os.WriteFile(filepath.Join(bundles[0], "rootfs/etc/later"), []byte("l"), 0o644); err != nil {
		t.Fatal(err)
	}
	repackRunOK(t, env, "image", "repack", bundles[0], dir+":v3")
	out3 := filepath.Join(t.TempDir(), "umoci3")
	if o, err := exec.Command(umoci, "unpack", "--image", dir+":v3", out3).CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack v3: %v\n%s", err, o)
	}
	if d := repackTreeDiff(t, filepath.Join(bundles[0], "rootfs"), filepath.Join(out3, "rootfs")); d != "" {
		t.Errorf("v3 differs:\n%s", d)
	}
}

func TestRepackBadInput(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.Binary(t)
	dir := repackBusyboxImage(t, nil)
	bundle := filepath.Join(t.TempDir(), "bundle")
	repackRunOK(t, nil, "image", "unpack", dir+":v1", bundle)
	empty := filepath.Join(t.TempDir(), "empty")
	repackRunOK(t, nil, "image", "init", empty)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no snapshot", []string{"image", "repack", t.TempDir(), dir + ":x"}, "no snapshot"},
		{"source gone", []string{"image", "repack", bundle, empty + ":x"}, "source image is gone"},
		{"unknown compression", []string{"image", "repack", "--compress", "lz4", bundle, dir + ":x"}, `unknown compression "lz4"`},
		{"add-layer not a tar", []string{"image", "add-layer", dir + ":v1", "/etc/hostname"}, "not a tar archive"},
		{"config bad env", []string{"image", "config", dir + ":v1", "--env", "NOEQUALS"}, "want KEY=VALUE"},
		{"config bad JSON", []string{"image", "config", dir + ":v1", "--cmd", "[oops"}, "not a JSON array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := repackRun(nil, bin, tt.args...)
			if err == nil {
				t.Fatal("succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not say %q", msg, tt.want)
			}
			if i := strings.Index(msg, ": ocikit:"); i >= 0 && strings.Count(msg[i:], "\n") > 0 {
				t.Errorf("error is not one line: %q", msg)
			}
		})
	}
}

// repackTreeDiff describes how two trees differ in paths, types, permissions,
// owners, symlink targets, content and hardlinks ("" if they do not).
func repackTreeDiff(t *testing.T, want, got string) string {
	t.Helper()
	list := func(root string) map[string]string {
		out := map[string]string{}
		inodes := map[uint64]string{}
		err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			if rel == "." {
				return nil
			}
			st := fi.Sys().(*syscall.Stat_t)
			desc := fmt.Sprintf("%o %d:%d", st.Mode, st.Uid, st.Gid)
			switch {
			case fi.Mode().IsRegular():
				data, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				desc += fmt.Sprintf(" %d bytes %x", len(data), data[:min(len(data), 32)])
				if first, ok := inodes[st.Ino]; ok {
					desc += " =" + first
				} else {
					inodes[st.Ino] = rel
				}
			case fi.Mode()&os.ModeSymlink != 0:
				l, _ := os.Readlink(p)
				desc += " -> " + l
			}
			out[rel] = desc
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	w, g := list(want), list(got)
	var diffs []string
	for p, d := range w {
		if g[p] != d {
			diffs = append(diffs, fmt.Sprintf("%s: want %q, got %q", p, d, g[p]))
		}
	}
	for p := range g {
		if _, ok := w[p]; !ok {
			diffs = append(diffs, p+": unexpected")
		}
	}
	return strings.Join(diffs, "\n")
}
