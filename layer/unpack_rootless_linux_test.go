package layer

import (
	"archive/tar"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/ocikit/ocikit/internal/testutil"
)

const rootlessChildEnv = "OCIKIT_TEST_ROOTLESS_DIR"

// rootlessLayers are unpackable by an unprivileged user only if directories
// without owner permissions are kept usable while unpacking: the second
// layer writes into and deletes from a mode 0 directory of the first.
func rootlessLayers(t testing.TB) [][]byte {
	return [][]byte{
		mkTar(t,
			tDir("locked/").withMode(zeroMode),
			tDir("locked/ro/").withMode(0o500),
			tFile("locked/ro/f", "f").withMode(0o400).withOwner(1000, 1000),
			tFile("locked/gone", "g"),
			tFile("x", "x").withXattr("user.keep", "1").withXattr("trusted.root-only", "t"),
			ent{name: "dev/null", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 3},
			ent{name: "fifo", typ: tar.TypeFifo, mode: 0o600, uid: 5, gid: 6},
		),
		mkTar(t,
			tFile("locked/.wh.gone", ""),
			tFile("locked/ro/new", "n").withOwner(0, 7),
			tDir("locked/").withMode(0o050),
		),
	}
}

// TestRootlessChild is the unprivileged half of TestRootlessUnprivileged.
func TestRootlessChild(t *testing.T) {
	dir := os.Getenv(rootlessChildEnv)
	if dir == "" {
		t.Skip("run by TestRootlessUnprivileged")
	}
	img := newTestImage(t, v1.MediaTypeImageLayerGzip, rootlessLayers(t)...)
	if err := img.unpack(t, filepath.Join(dir, "rootfs"), WithRootless()); err != nil {
		t.Fatalf("Unpack as uid %d: %v", os.Geteuid(), err)
	}
}

// TestRootlessUnprivileged unpacks as uid 65534 (re-running this test
// binary) and checks the result as root.
func TestRootlessUnprivileged(t *testing.T) {
	testutil.RequireRoot(t)
	const nobody = 65534
	dir, err := os.MkdirTemp("", "ocikit-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeTree(dir) })
	if err := os.Chown(dir, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The test binary sits in a directory only root may enter.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "layer.test")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestRootlessChild$", "-test.count=1")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), rootlessChildEnv+"="+dir, "HOME="+dir, "GOCACHE="+dir+"/cache")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("unprivileged unpack: %v\n%s", err, out)
	}
	root := filepath.Join(dir, "rootfs")
	p := func(s string) string { return filepath.Join(root, s) }
	for name, want := range map[string]uint32{"locked": 0o050, "locked/ro": 0o500, "locked/ro/f": 0o400} {
		if st := lstatT(t, p(name)); st.Mode&0o7777 != want || st.Uid != nobody {
			t.Errorf("%s: mode %o uid %d, want %o owned by %d", name, st.Mode&0o7777, st.Uid, want, nobody)
		}
	}
	mustNotExist(t, p("locked/gone"))
	mustNotExist(t, p("dev/null"))
	if got := readFile(t, p("locked/ro/new")); got != "n" {
		t.Errorf("locked/ro/new = %q", got)
	}
	// (Not the FIFO: the kernel keeps user.* xattrs off special files,
	// for umoci too; that is logged and skipped.)
	for name, want := range map[string][2]uint32{"locked/ro/f": {1000, 1000}, "locked/ro/new": {rootlessNoopID, 7}} {
		v, ok := getxattr(t, p(name), rootlessXattr)
		uid, gid, _ := parseRootlessPayload([]byte(v))
		if !ok || uid != want[0] || gid != want[1] {
			t.Errorf("%s: rootless owner (%d,%d) present=%v, want %v", name, uid, gid, ok, want)
		}
	}
	if v, _ := getxattr(t, p("x"), "user.keep"); v != "1" {
		t.Errorf("x: user.keep = %q", v)
	}
	if _, ok := getxattr(t, p("x"), "trusted.root-only"); ok {
		t.Errorf("x: trusted xattr set by an unprivileged user?")
	}
	if st := lstatT(t, p("fifo")); st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("fifo: mode %o", st.Mode)
	}
}
