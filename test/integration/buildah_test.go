//go:build linux

package integration

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/internal/testutil"
)

// TestBuildah drives ocikit through buildah, with ocikit in runc's place
// (--runtime): `buildah from` of a busybox image ocikit built (an OCI
// layout, no registry), `buildah run` with its output and exit status, and
// `buildah build` of a Containerfile whose two RUN steps each leave a file
// in the image, read back from the image buildah pushed to a layout and
// ocikit unpacked. Buildah's storage is private to the test (vfs).
//
// buildah's default capabilities are ambient without being inheritable,
// which the kernel cannot raise: runc goes on, and so must ocikit.
func TestBuildah(t *testing.T) {
	testutil.RequireRoot(t)
	buildah := testutil.RequireTool(t, "buildah")
	bin := testutil.Binary(t)
	// Short and lowercase: buildah names images after the path.
	store, err := os.MkdirTemp("", "ocikit-buildah-")
	if err != nil {
		t.Fatal(err)
	}
	base := []string{"--root", filepath.Join(store, "root"), "--runroot", filepath.Join(store, "run"), "--storage-driver", "vfs"}
	// bh returns buildah's standard output, with its standard error in
	// the error.
	bh := func(args ...string) (string, error) {
		cmd := exec.Command(buildah, append(append([]string(nil), base...), args...)...)
		var out, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &stderr
		if err := cmd.Run(); err != nil {
			return out.String(), fmt.Errorf("%w: %s", err, stderr.String())
		}
		return out.String(), nil
	}
	must := func(t *testing.T, args ...string) string {
		t.Helper()
		out, err := bh(args...)
		if err != nil {
			t.Fatalf("buildah %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return out
	}
	t.Cleanup(func() {
		bh("rm", "--all")
		bh("rmi", "--all", "--force")
		exec.Command("umount", "-R", filepath.Join(store, "run")).Run()
		exec.Command("umount", "-R", filepath.Join(store, "root")).Run()
		os.RemoveAll(store)
	})

	// The base image: busybox, built with ocikit's image commands.
	rootfs := filepath.Join(store, "rootfs")
	testutil.BusyboxRootfs(t, rootfs)
	img := filepath.Join(store, "image")
	for _, args := range [][]string{
		{"image", "init", img},
		{"image", "new", img + ":busybox"},
		{"image", "add-layer", img + ":busybox", rootfs},
		{"image", "config", img + ":busybox", "--env", "PATH=/bin", "--cmd", "sh"},
	} {
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("ocikit %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	ctr := strings.TrimSpace(must(t, "from", "--name", "ocikit-buildah-run", "--quiet", "oci:"+img+":busybox"))
	if ctr != "ocikit-buildah-run" {
		t.Fatalf("buildah from printed %q", ctr)
	}

	t.Run("run", func(t *testing.T) {
		out, err := bh("run", "--runtime", bin, "--network", "none", ctr, "--", "sh", "-c", "echo hello from $(id -u) in $(pwd); exit 7")
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 7 {
			t.Fatalf("buildah run: %v (want exit status 7): %s", err, out)
		}
		if !strings.Contains(out, "hello from 0 in /\n") {
			t.Errorf("buildah run printed %q", out)
		}
		out = must(t, "run", "--runtime", bin, "--network", "none", ctr, "--", "cat", "/etc/passwd")
		if !strings.HasPrefix(out, "root:x:0:0:") {
			t.Errorf("buildah run cat /etc/passwd printed %q", out)
		}
	})

	t.Run("build", func(t *testing.T) {
		dir := filepath.Join(store, "context")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		file := "FROM oci:" + img + ":busybox\n" +
			"RUN mkdir /out && echo first > /out/one\n" +
			"RUN cat /out/one > /out/two && echo second >> /out/two && id -u > /out/uid\n"
		if err := os.WriteFile(filepath.Join(dir, "Containerfile"), []byte(file), 0o644); err != nil {
			t.Fatal(err)
		}
		must(t, "build", "--runtime", bin, "--network", "none", "--layers=false", "-t", "localhost/ocikit-buildah-built", "-f", filepath.Join(dir, "Containerfile"), dir)
		// Read the result outside buildah: pushed to a layout, unpacked
		// by ocikit.
		out := filepath.Join(store, "built")
		must(t, "push", "localhost/ocikit-buildah-built", "oci:"+out+":built")
		bundle := filepath.Join(store, "bundle")
		if b, err := exec.Command(bin, "image", "unpack", out+":built", bundle).CombinedOutput(); err != nil {
			t.Fatalf("ocikit image unpack: %v: %s", err, b)
		}
		for name, want := range map[string]string{"one": "first\n", "two": "first\nsecond\n", "uid": "0\n"} {
			got, err := os.ReadFile(filepath.Join(bundle, "rootfs", "out", name))
			if err != nil || string(got) != want {
				t.Errorf("/out/%s in the built image: %q, %v; want %q", name, got, err, want)
			}
		}
	})
}
