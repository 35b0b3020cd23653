// Package testutil holds helpers shared by ocikit's tests: skipping cleanly
// without root or a peer tool, locating the ocikit binary, and building a
// busybox root filesystem from Debian's busybox-static.
package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// RequireRoot skips the test unless it runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// RequireTool returns the path of a peer tool (runc, umoci, skopeo, ...).
// Outside CI a missing tool skips the test; in CI (CI set in the
// environment) it fails it, because .ci/run installs every peer and a
// silently skipped interoperability test would hide a broken set-up.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not installed (run `make deps`)", name)
		}
		t.Skipf("%s not installed (run `make deps`)", name)
	}
	return p
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Binary returns the path of an ocikit binary for end-to-end tests:
// $OCIKIT_BIN when set (the Makefile sets it), otherwise one built once per
// test process from this module.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("OCIKIT_BIN"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ocikit-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "ocikit")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/ocikit")
		cmd.Dir = ModuleRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = &buildError{out: string(out), err: err}
		}
	})
	if buildErr != nil {
		t.Fatalf("build ocikit: %v", buildErr)
	}
	return buildPath
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// ModuleRoot returns the directory holding ocikit's go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate testutil source")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// BusyboxApplets are the commands linked to busybox in BusyboxRootfs.
var BusyboxApplets = []string{
	"sh", "ls", "cat", "echo", "true", "false", "sleep", "id", "env", "ps",
	"mkdir", "rm", "touch", "mount", "hostname", "test", "grep", "head",
	"stat", "readlink", "wc", "chmod", "chown", "ln", "cp", "mv", "kill",
	"whoami", "uname", "printf", "tail",
}

// BusyboxRootfs fills dir with a minimal root filesystem built from the
// host's static busybox (Debian's busybox-static): /bin/busybox, applet
// links in /bin, /etc/passwd and /etc/group, and empty /proc /sys /dev /tmp.
func BusyboxRootfs(t testing.TB, dir string) {
	t.Helper()
	bb := RequireTool(t, "busybox")
	out, err := exec.Command("file", "-L", bb).CombinedOutput()
	if err == nil && !containsStatic(string(out)) {
		t.Skipf("%s is not statically linked (install busybox-static)", bb)
	}
	for _, d := range []string{"bin", "etc", "proc", "sys", "dev", "tmp", "root", "home/user"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range BusyboxApplets {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nwheel:x:10:user\nuser:x:1000:\nnogroup:x:65534:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func containsStatic(s string) bool {
	for i := 0; i+6 <= len(s); i++ {
		if s[i:i+6] == "static" {
			return true
		}
	}
	return false
}
