package vm_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestVMEscape: the guest sees the bundle's root filesystem and nothing
// else of the host. A file outside the bundle holds a token; the container
// tries to read it by its host path, through "..", and through absolute and
// relative symbolic links it makes in the shared root (resolved by the
// guest, inside the guest), and as root through the host path given to
// qemu. The token never shows up.
func TestVMEscape(t *testing.T) {
	secretDir := t.TempDir()
	secret := filepath.Join(secretDir, "secret")
	const token = "host-secret-7f3a9c"
	if err := os.WriteFile(secret, []byte(token+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	up := strings.Repeat("../", 16)
	script := strings.Join([]string{
		"cat " + secret,
		"cat /" + up + secret,
		"ln -s " + secret + " /abs-link; cat /abs-link",
		"ln -s " + up + strings.TrimPrefix(secret, "/") + " /rel-link; cat /rel-link",
		"cd /; cd " + up + "; cat ." + secret,
		"ls -la /" + up + " /proc/1/root/ 2>&1",
		"echo done",
	}, "; ")
	e := newVMEnv(t, []string{"sh", "-c", script}, nil, func(s *specs.Spec) { s.Root.Readonly = false })
	out, errOut, code := e.ocikit("run", "vmtest-escape")
	if code != 0 || !strings.Contains(out, "done") {
		t.Fatalf("run: exit %d: %s%s", code, out, errOut)
	}
	t.Logf("container output:\n%s%s", out, errOut)
	if strings.Contains(out+errOut, token) {
		t.Errorf("the container read a host file outside its root filesystem:\n%s%s", out, errOut)
	}
	// The links it made are in the bundle, pointing where they said: the
	// host side is untouched otherwise.
	if target, err := os.Readlink(filepath.Join(e.bundle, "rootfs", "abs-link")); err != nil || target != secret {
		t.Errorf("abs-link in the bundle: %q, %v", target, err)
	}
	if b, err := os.ReadFile(secret); err != nil || string(b) != token+"\n" {
		t.Errorf("the secret changed: %q, %v", b, err)
	}
}
