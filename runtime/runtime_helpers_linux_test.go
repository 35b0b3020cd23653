package runtime_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ocikit/ocikit/internal/testutil"
	"github.com/ocikit/ocikit/runtime"
	"github.com/ocikit/ocikit/runtime/defaults"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// env is a state root with the ocikit binary, cleaned up after the test:
// containers force-deleted.
type env struct {
	t      *testing.T
	bin    string
	root   string
	rootfs string
}

var idSeq atomic.Int64

func newEnv(t *testing.T) *env {
	t.Helper()
	testutil.RequireRoot(t)
	e := &env{t: t, bin: testutil.Binary(t), root: t.TempDir()}
	e.rootfs = filepath.Join(t.TempDir(), "rootfs")
	testutil.BusyboxRootfs(t, e.rootfs)
	// A user namespace's root is not the host's: let it reach the rootfs.
	for d := filepath.Dir(e.rootfs); d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		out, _ := exec.Command(e.bin, "--root", e.root, "list", "-q").Output()
		for _, id := range strings.Fields(string(out)) {
			exec.Command(e.bin, "--root", e.root, "delete", "--force", id).Run()
		}
	})
	return e
}

// sub is e for a subtest: failures are reported on t.
func (e *env) sub(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// id returns a container id unique on the host (other tests and
// engineers share its cgroup tree).
func (e *env) id(name string) string {
	return fmt.Sprintf("rt-%d-%d-%s", os.Getpid(), idSeq.Add(1), name)
}

// bundle writes a bundle using the shared busybox rootfs and the default
// configuration without a terminal, running args, then mutate.
func (e *env) bundle(args []string, mutate func(*specs.Spec)) string {
	e.t.Helper()
	dir := e.t.TempDir()
	spec := defaults.Spec()
	spec.Root.Path = e.rootfs
	spec.Process.Terminal = false
	spec.Process.Args = args
	if mutate != nil {
		mutate(spec)
	}
	data, err := json.Marshal(spec)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		e.t.Fatal(err)
	}
	return dir
}

// run runs ocikit with args and returns stdout, stderr and the error.
func (e *env) run(args ...string) (string, string, error) {
	e.t.Helper()
	return e.capture(e.command(args...))
}

// command is ocikit with args, on e's root.
func (e *env) command(args ...string) *exec.Cmd {
	return exec.Command(e.bin, append([]string{"--root", e.root}, args...)...)
}

// capture runs cmd and returns its stdout, stderr and error. Files, not
// pipes: a detached container keeps its stdio open, and exec.Cmd would
// wait for the pipes' end.
func (e *env) capture(cmd *exec.Cmd) (string, string, error) {
	e.t.Helper()
	out, errf := e.tempFile(), e.tempFile()
	defer out.Close()
	defer errf.Close()
	cmd.Stdout, cmd.Stderr = out, errf
	err := cmd.Run()
	o, _ := os.ReadFile(out.Name())
	se, _ := os.ReadFile(errf.Name())
	return string(o), string(se), err
}

func (e *env) tempFile() *os.File {
	f, err := os.CreateTemp(e.t.TempDir(), "out")
	if err != nil {
		e.t.Fatal(err)
	}
	return f
}

// must runs ocikit and fails the test on error.
func (e *env) must(args ...string) string {
	e.t.Helper()
	out, stderr, err := e.run(args...)
	if err != nil {
		e.t.Fatalf("ocikit %s: %v: %s", strings.Join(args, " "), err, stderr)
	}
	return out
}

// fails runs ocikit expecting a failure whose one-line message contains
// want.
func (e *env) fails(want string, args ...string) {
	e.t.Helper()
	_, stderr, err := e.run(args...)
	if err == nil {
		e.t.Fatalf("ocikit %s succeeded, want an error containing %q", strings.Join(args, " "), want)
	}
	msg := strings.TrimSpace(stderr)
	if strings.Count(msg, "\n") != 0 {
		e.t.Errorf("ocikit %s: error is not one line: %q", strings.Join(args, " "), msg)
	}
	if !strings.Contains(msg, want) {
		e.t.Errorf("ocikit %s: error %q does not contain %q", strings.Join(args, " "), msg, want)
	}
}

func (e *env) state(id string) runtime.State {
	e.t.Helper()
	var st runtime.State
	if err := json.Unmarshal([]byte(e.must("state", id)), &st); err != nil {
		e.t.Fatalf("state %s: %v", id, err)
	}
	return st
}

// waitGone waits (through a pidfd, no polling) until pid has exited.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if err == unix.ESRCH {
		return
	}
	if err != nil {
		t.Fatalf("pidfd_open %d: %v", pid, err)
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != unix.EINTR {
			return
		}
	}
}

// cgroupExists reports whether the container's default cgroup exists in
// any hierarchy.
func cgroupExists(id string) bool {
	ms, _ := filepath.Glob("/sys/fs/cgroup/*/ocikit/" + id)
	ms2, _ := filepath.Glob("/sys/fs/cgroup/ocikit/" + id)
	return len(ms)+len(ms2) > 0
}

func hasNS(spec *specs.Spec, typ specs.LinuxNamespaceType) bool {
	for _, n := range spec.Linux.Namespaces {
		if n.Type == typ {
			return true
		}
	}
	return false
}

func setNS(spec *specs.Spec, typ specs.LinuxNamespaceType, path string) {
	var out []specs.LinuxNamespace
	for _, n := range spec.Linux.Namespaces {
		if n.Type != typ {
			out = append(out, n)
		}
	}
	spec.Linux.Namespaces = append(out, specs.LinuxNamespace{Type: typ, Path: path})
}

func dropNS(spec *specs.Spec, typ specs.LinuxNamespaceType) {
	var out []specs.LinuxNamespace
	for _, n := range spec.Linux.Namespaces {
		if n.Type != typ {
			out = append(out, n)
		}
	}
	spec.Linux.Namespaces = out
}
