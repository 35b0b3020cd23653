package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ocikit/ocikit/internal/testutil"
)

const irNobody = 65534

// newRootlessIREnv is an image run world for nobody: a copy of the binary
// it can run, the default store under XDG_DATA_HOME and the default
// state root under XDG_RUNTIME_DIR, both its own.
func newRootlessIREnv(t *testing.T) *irEnv {
	t.Helper()
	e := newIREnv(t)
	base, err := os.MkdirTemp("", "ocikit-irrl-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		out, _ := exec.Command(e.bin, "--root", e.root, "list", "-q").Output()
		for _, id := range strings.Fields(string(out)) {
			exec.Command(e.bin, "--root", e.root, "delete", "--force", id).Run()
		}
		os.RemoveAll(base)
	})
	for _, d := range []string{"", "data", "run"} {
		p := filepath.Join(base, d)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, irNobody, irNobody); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(e.bin)
	if err != nil {
		t.Fatal(err)
	}
	e.bin = filepath.Join(base, "ocikit")
	if err := os.WriteFile(e.bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	e.store = filepath.Join(base, "data", "ocikit")
	e.root = filepath.Join(base, "run", "ocikit")
	e.env = []string{"XDG_DATA_HOME=" + filepath.Join(base, "data"), "XDG_RUNTIME_DIR=" + filepath.Join(base, "run")}
	e.cred = &syscall.Credential{Uid: irNobody, Gid: irNobody}
	return e
}

// readableWhiteoutImage is whiteoutImage in a temporary directory that
// nobody can read.
func readableWhiteoutImage(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ref := whiteoutImage(t, testutil.Binary(t), dir)
	openUp(t, dir)
	if err := exec.Command("chmod", "-R", "a+rX", dir).Run(); err != nil {
		t.Fatal(err)
	}
	return ref
}

// openUp makes the directories above dir searchable by nobody.
func openUp(t *testing.T, dir string) {
	t.Helper()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// TestImageRunRootless: an unprivileged user (nobody) runs a two-layer
// image with whiteouts from its default store: the snapshots are its
// files, with the image's owners in user.rootlesscontainers xattrs; the
// root filesystem is the kernel's unprivileged overlay (userxattr) and
// shows what the root one does; the copy fallback works as well; -d,
// exec and delete work; nothing stays behind.
func TestImageRunRootless(t *testing.T) {
	e := newRootlessIREnv(t)
	ref := readableWhiteoutImage(t)
	out, errs, code := e.run("image", "run", "--rm", ref)
	if code != 0 || out != whiteoutOut+"overlay\n" {
		t.Fatalf("cold: exit %d output %q stderr %q", code, out, errs)
	}
	if strings.Count(errs, "unpacking") != 2 {
		t.Errorf("cold run: want 2 layers unpacked, stderr %q", errs)
	}
	snaps, err := os.ReadDir(filepath.Join(e.store, "snapshots", "sha256"))
	if err != nil || len(snaps) != 2 {
		t.Fatalf("snapshots %v: %v", snaps, err)
	}
	found := false
	for _, s := range snaps {
		fs := filepath.Join(e.store, "snapshots", "sha256", s.Name(), "fs")
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(fs, "data"), &st); err != nil {
			t.Fatal(err)
		}
		if st.Uid != irNobody {
			t.Errorf("snapshot %s: /data owned by %d, want nobody's", s.Name(), st.Uid)
		}
		buf := make([]byte, 64)
		if n, err := unix.Lgetxattr(filepath.Join(fs, "data", "new"), "user.rootlesscontainers", buf); err == nil && n > 0 {
			found = true
		}
	}
	if !found {
		t.Error("no user.rootlesscontainers owner for /data/new (1000:1000 in the image)")
	}

	// Warm, with the copy fallback, and as a detached container.
	if out, errs, code := e.run("image", "run", "--rm", "--name", "irrl-warm", ref, "--", "-c", "id -u; hostname; cat /data/keep"); code != 0 || out != "0\nirrl-warm\nkeep\n" {
		t.Errorf("warm: exit %d output %q stderr %q", code, out, errs)
	}
	e.env = append(e.env, "OCIKIT_ROOTFS_COPY=1")
	out, errs, code = e.run("image", "run", "--rm", ref)
	if code != 0 || !strings.HasPrefix(out, whiteoutOut) || strings.HasSuffix(out, "overlay\n") {
		t.Errorf("copy: exit %d output %q stderr %q", code, out, errs)
	}
	e.env = e.env[:len(e.env)-1]
	if out, errs, code := e.run("image", "run", "-d", "--name", "irrl-d", ref, "--", "-c", "sleep 300"); code != 0 || out != "irrl-d\n" {
		t.Fatalf("-d: exit %d output %q stderr %q", code, out, errs)
	}
	if got := e.must("exec", "irrl-d", "cat", "/data/dir/y"); got != "y\n" {
		t.Errorf("exec: %q", got)
	}
	e.must("delete", "--force", "irrl-d")

	// -d -t --rm: the terminal kept by nobody's own keeper.
	if out, errs, code := e.run("image", "run", "-d", "-t", "--rm", "--name", "irrl-dt", ref, "--", "-c", "tty; exec sleep 300"); code != 0 || out != "irrl-dt\n" {
		t.Fatalf("-d -t: exit %d output %q stderr %q", code, out, errs)
	}
	log := filepath.Join(e.store, "containers", "irrl-dt", "console.log")
	eventually(t, "the program's tty in "+log, func() bool {
		b, _ := os.ReadFile(log)
		return strings.Contains(string(b), "/dev/pts/0")
	})
	e.must("kill", "irrl-dt", "KILL")
	eventually(t, "--rm deleting the container", func() bool {
		_, err := os.Stat(filepath.Join(e.store, "containers", "irrl-dt"))
		return len(keepers("irrl-dt")) == 0 && os.IsNotExist(err)
	})
	e.checkClean()
}

// TestImageRunRootlessBadStore: a rootless store on a filesystem without
// user xattrs (ramfs) is refused in one line, before anything is written
// into it; on one that refuses an unprivileged overlay (the store on
// overlayfs) a one-layer image runs from a copy, said once.
func TestImageRunRootlessBadStore(t *testing.T) {
	e := newRootlessIREnv(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	testutil.BusyboxRootfs(t, src)
	ref := filepath.Join(dir, "layout") + ":one"
	for _, args := range [][]string{
		{"image", "init", filepath.Join(dir, "layout")},
		{"image", "new", ref},
		{"image", "add-layer", ref, src},
		{"image", "config", ref, "--entrypoint", "/bin/sh", "--cmd", "-c", "--cmd", "echo copied; touch /new"},
	} {
		mustOcikit(t, testutil.Binary(t), args...)
	}
	openUp(t, dir)
	if err := exec.Command("chmod", "-R", "a+rX", dir).Run(); err != nil {
		t.Fatal(err)
	}

	ram := filepath.Join(t.TempDir(), "ram")
	openUp(t, filepath.Dir(ram))
	if err := os.Mkdir(ram, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("ramfs", ram, "ramfs", 0, ""); err != nil {
		t.Skipf("ramfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(ram, unix.MNT_DETACH) })
	if err := os.Chown(ram, irNobody, irNobody); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(ram, "store")
	out, errs, code := e.run("image", "run", "--rm", "--store", store, ref)
	if code != 1 || out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "has no user xattrs") || !strings.Contains(errs, store) {
		t.Errorf("ramfs store: exit %d stdout %q stderr %q, want one line naming the store and the problem", code, out, errs)
	}
	if left, _ := os.ReadDir(store); len(left) != 0 {
		t.Errorf("the refused store holds %v", left)
	}

	ovl := filepath.Join(t.TempDir(), "ovl")
	for _, d := range []string{"lo", "up", "wk", "m"} {
		if err := os.MkdirAll(filepath.Join(ovl, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	openUp(t, ovl)
	mnt := filepath.Join(ovl, "m")
	if err := unix.Mount("overlay", mnt, "overlay", 0, "lowerdir="+filepath.Join(ovl, "lo")+",upperdir="+filepath.Join(ovl, "up")+",workdir="+filepath.Join(ovl, "wk")); err != nil {
		t.Skipf("overlay mount: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	if err := os.Chown(mnt, irNobody, irNobody); err != nil {
		t.Fatal(err)
	}
	e.store = filepath.Join(mnt, "store")
	notices := 0
	for range 2 {
		out, errs, code := e.run("image", "run", "--rm", "--store", e.store, ref)
		if code != 0 || out != "copied\n" {
			t.Errorf("store on overlayfs: exit %d output %q stderr %q", code, out, errs)
		}
		notices += strings.Count(errs, "root filesystems are copies")
	}
	if notices != 1 {
		t.Errorf("%d notices in two runs, want 1", notices)
	}
	e.checkClean()
}
