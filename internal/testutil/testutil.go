// Package testutil holds helpers shared by ocikit's tests: skipping cleanly
// without root or a peer tool, locating the ocikit binary, building a
// busybox root filesystem from Debian's busybox-static, and building the
// tars (hostile ones too) the archive packages' tests read.
package testutil

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
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
		// Tests run the binary as other users too (rootless cases):
		// MkdirTemp's 0700 would keep them out.
		if err := os.Chmod(dir, 0o755); err != nil {
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

// TarEntry is one entry of a tar a test builds: a regular file (Typeflag
// 0 or tar.TypeReg) holding Data, or another type (a link to Linkname, a
// directory) with no content.
type TarEntry struct {
	Name     string
	Typeflag byte
	Data     []byte
	Linkname string
}

// TarData makes a tar of entries, in order, as given: names are not
// cleaned, so tests can build hostile archives.
func TarData(t testing.TB, entries []TarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		tf := e.Typeflag
		if tf == 0 {
			tf = tar.TypeReg
		}
		hdr := &tar.Header{Name: e.Name, Typeflag: tf, Mode: 0o644, Size: int64(len(e.Data)), Linkname: e.Linkname}
		if tf != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if tf == tar.TypeReg {
			if _, err := tw.Write(e.Data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// WriteTar writes TarData(entries) to a file in a new temporary directory
// and returns its path.
func WriteTar(t testing.TB, entries []TarEntry) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "archive.tar")
	if err := os.WriteFile(p, TarData(t, entries), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// CheckArchiveOpen is the body of an archive package's FuzzOpen: it writes
// data as an archive file and opens it with open, which must put its
// temporary files in tmp. Open must succeed or fail with an error of one
// of kinds, never write beside the archive, and leave nothing in tmp after
// an error or Close.
func CheckArchiveOpen(t *testing.T, data []byte, open func(file, tmp string) (io.Closer, error), kinds ...error) {
	t.Helper()
	root := t.TempDir()
	file := filepath.Join(root, "in.tar")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(root, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	a, err := open(file, tmp)
	if err != nil {
		ok := false
		for _, k := range kinds {
			ok = ok || errors.Is(err, k)
		}
		if !ok {
			t.Fatalf("Open: error of no kind: %v", err)
		}
	} else if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Fatalf("left in the temporary directory: %v", left)
	}
	if all, _ := os.ReadDir(root); len(all) != 2 {
		t.Fatalf("written beside the archive: %v", all)
	}
}
