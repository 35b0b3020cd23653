//go:build linux

package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ocikit/ocikit/internal/testutil"
)

// containerd drives ocikit through containerd's runc shim v2
// (io.containerd.runc.v2), the way containerd runs runc: a private daemon
// (own root, state, socket; no CRI plugin), an image built by ocikit and
// imported as an OCI archive, and ctr.
//
// The runtime binary reaches the shim as the runc options' BinaryName,
// which ctr sets from --runc-binary. containerd's config.toml cannot set it
// for ctr: [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
// applies to CRI clients only (containerd/containerd#4618).
type containerd struct {
	t        *testing.T
	ctr      string
	sock     string
	ns       string
	bin      string
	runcRoot string // the shim runs BinaryName with --root runcRoot/ns
	fifoDir  string // ctr's stdio FIFOs (default /run/containerd/fifo)
	snap     string
	log      string
}

const ctrImage = "ocikit.test/ocikit/busybox:v1"

// startContainerd starts a private containerd daemon under dir and stops
// it, its shims, its containers and its mounts when the test ends.
func startContainerd(t *testing.T, dir string) *containerd {
	t.Helper()
	return startContainerdWith(t, dir, "ocikit-ctd-test", "")
}

// startContainerdWith is startContainerd with ctr's namespace ns and the
// given configuration of containerd's CRI plugin (TOML tables appended to
// the daemon's config; "" leaves the plugin disabled).
func startContainerdWith(t *testing.T, dir, ns, cri string) *containerd {
	t.Helper()
	daemon := testutil.RequireTool(t, "containerd")
	c := &containerd{
		t:        t,
		ctr:      testutil.RequireTool(t, "ctr"),
		sock:     filepath.Join(dir, "c.sock"),
		ns:       ns,
		bin:      testutil.Binary(t),
		runcRoot: filepath.Join(dir, "runc"),
		fifoDir:  filepath.Join(dir, "fifo"),
		log:      filepath.Join(dir, "containerd.log"),
	}
	testutil.RequireTool(t, "containerd-shim-runc-v2")
	disabled := `disabled_plugins = ["io.containerd.grpc.v1.cri"]`
	if cri != "" {
		disabled = ""
	}
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
%s

[grpc]
  address = %q

[ttrpc]
  address = %q

[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), disabled, c.sock, c.sock+".ttrpc", filepath.Join(dir, "opt")) + cri
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(c.log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(daemon, "--config", cfgPath, "--log-level", "debug")
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: a ^C of the test does not reach it first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start containerd: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(exited) }()
	t.Cleanup(func() {
		c.cleanup(cmd.Process, exited, dir)
		if t.Failed() {
			c.logTail()
		}
	})

	waitDaemon(t, "containerd", exited, 30*time.Second, 100*time.Millisecond, func() error {
		_, err := c.run("version")
		return err
	})
	// overlayfs where the file system under dir supports it (its plugin
	// probes that at start), else native, which works anywhere.
	out, err := c.run("plugins", "ls")
	if err != nil {
		t.Fatalf("ctr plugins ls: %v", err)
	}
	c.snap = "native"
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 4 && f[0] == "io.containerd.snapshotter.v1" && f[1] == "overlayfs" && f[3] == "ok" {
			c.snap = "overlayfs"
		}
	}
	t.Logf("containerd up, snapshotter %s", c.snap)
	return c
}

// cleanup removes every task and container of the namespace, stops the
// daemon, ends what the shims or the runtime left, and unmounts what is
// still mounted under dir.
func (c *containerd) cleanup(daemon *os.Process, exited <-chan struct{}, dir string) {
	if out, err := c.run("task", "ls", "-q"); err == nil {
		for _, id := range strings.Fields(out) {
			c.run("task", "rm", "-f", id)
		}
	}
	if out, err := c.run("containers", "ls", "-q"); err == nil {
		for _, id := range strings.Fields(out) {
			c.run("containers", "rm", id)
		}
	}
	daemon.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		daemon.Kill()
		<-exited
	}
	// Shims outlive the daemon by design; each records its pid.
	shims, _ := filepath.Glob(filepath.Join(dir, "state", "io.containerd.runtime.v2.task", "*", "*", "shim.pid"))
	for _, p := range shims {
		if data, err := os.ReadFile(p); err == nil {
			var pid int
			if _, err := fmt.Sscan(string(data), &pid); err == nil && pid > 1 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	rt := filepath.Join(c.runcRoot, c.ns)
	if out, err := exec.Command(c.bin, "--root", rt, "list", "-q").Output(); err == nil {
		for _, id := range strings.Fields(string(out)) {
			exec.Command(c.bin, "--root", rt, "delete", "--force", id).Run()
		}
	}
	unmountUnder(c.t, dir)
	// ctr puts a task in the cgroup /NS/ID; the runtime removes ID, the
	// parent /NS stays (as with runc). Empty by now: rmdir removes it.
	parents, _ := filepath.Glob("/sys/fs/cgroup/*/" + c.ns)
	for _, p := range append(parents, "/sys/fs/cgroup/"+c.ns) {
		if err := unix.Rmdir(p); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTDIR) {
			c.t.Errorf("cleanup: remove cgroup %s: %v", p, err)
		}
	}
}

// unmountUnder detaches every mount at or below dir, deepest first.
func unmountUnder(t *testing.T, dir string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// Field 5 is the mount point, octal-escaped (proc_pid_mountinfo(5)).
		if fields := strings.Fields(sc.Text()); len(fields) > 4 {
			p := unescapeMountinfo(fields[4])
			if p == dir || strings.HasPrefix(p, dir+"/") {
				points = append(points, p)
			}
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	for _, p := range points {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			t.Errorf("cleanup: unmount %s: %v", p, err)
		}
	}
}

func unescapeMountinfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (c *containerd) logTail() {
	data, err := os.ReadFile(c.log)
	if err != nil {
		return
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	c.t.Logf("containerd log (last %d lines):\n%s", len(lines), strings.Join(lines, "\n"))
}

// run runs ctr against the private daemon and namespace and returns its
// combined output. An error is an *exec.ExitError (with the output) or a
// 60s timeout: a hanging shim fails the test instead of blocking it.
func (c *containerd) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.ctr, append([]string{"-a", c.sock, "-n", c.ns}, args...)...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(out), fmt.Errorf("ctr %s: timed out after 60s", strings.Join(args, " "))
	}
	return string(out), err
}

// script runs ctr on a terminal of its own, which ctr -t needs: script(1)
// gives it one. args are joined into script's shell command line as they
// are (quote them for sh).
func (c *containerd) script(t *testing.T, args ...string) (string, error) {
	t.Helper()
	script := testutil.RequireTool(t, "script")
	line := strings.Join(append([]string{c.ctr, "-a", c.sock, "-n", c.ns}, args...), " ")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, script, "-qec", line, "/dev/null").CombinedOutput()
	return string(out), err
}

func (c *containerd) mustRun(args ...string) string {
	c.t.Helper()
	out, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("ctr %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// runArgs are the `ctr run` flags selecting ocikit as the shim's runtime.
func (c *containerd) runArgs(extra ...string) []string {
	return append([]string{"run", "--runc-binary", c.bin, "--runc-root", c.runcRoot, "--snapshotter", c.snap, "--fifo-dir", c.fifoDir}, extra...)
}

// taskStatus returns the STATUS column of `ctr task ls` for id ("" if absent).
func (c *containerd) taskStatus(id string) string {
	c.t.Helper()
	for _, line := range strings.Split(c.mustRun("task", "ls"), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == id {
			return f[2]
		}
	}
	return ""
}

// ocikitState returns the status ocikit itself records for id, proving that
// the shim ran ocikit (runc would keep no state under ocikit's root format).
func (c *containerd) ocikitState(id string) (string, error) {
	out, err := exec.Command(c.bin, "--root", filepath.Join(c.runcRoot, c.ns), "state", id).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%v: %s", err, out)
	}
	var st struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return "", fmt.Errorf("ocikit state %s: %v: %s", id, err, out)
	}
	return st.Status, nil
}

// hasCommand reports whether the ocikit binary has its own top-level
// command name (not an alias of another: `ps` is an alias of list until the
// ps command lands).
func hasCommand(t *testing.T, bin, name string) bool {
	t.Helper()
	out, err := exec.Command(bin, name, "--help").CombinedOutput()
	return err == nil && strings.Contains(string(out), "ocikit "+name+" ")
}

// ctrArchive builds a busybox image with ocikit (image new, add-layer,
// config) and writes it as an OCI archive: a tar of the layout directory,
// index.json at the top, as `ctr image import` reads it.
func ctrArchive(t *testing.T, bin, dir string) string {
	t.Helper()
	src := filepath.Join(dir, "rootfs")
	testutil.BusyboxRootfs(t, src)
	lay := filepath.Join(dir, "layout")
	for _, args := range [][]string{
		{"image", "new", lay + ":v1", "--platform", "linux/" + goruntime.GOARCH},
		{"image", "add-layer", lay + ":v1", src, "--history-comment", "busybox"},
		{"image", "config", lay + ":v1", "--cmd", "/bin/sh", "--env", "PATH=/bin", "--workdir", "/"},
		{"image", "gc", lay},
	} {
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("ocikit %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	archive := filepath.Join(dir, "busybox.tar")
	if out, err := exec.Command("tar", "-C", lay, "-cf", archive, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	return archive
}

// lineWith returns the last line of out that contains s ("" if none).
func lineWith(out, s string) string {
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			line = l
		}
	}
	return line
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// TestContainerd: containerd 1.6+ through its runc shim v2 with ocikit as
// the runtime: image import, run with output and exit status, a terminal,
// detached tasks with kill/delete, metrics of the cgroup ocikit made,
// pause/resume and exec when ocikit has them, and ocikit's error in ctr's
// output when create fails.
func TestContainerd(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	bin := testutil.Binary(t)
	archive := ctrArchive(t, bin, dir)
	c := startContainerd(t, dir)

	c.mustRun("images", "import", "--base-name", "ocikit.test/ocikit/busybox", "--snapshotter", c.snap, archive)
	if out := c.mustRun("images", "ls", "-q"); !strings.Contains(out, ctrImage) {
		t.Fatalf("ctr images ls after import: %q, want %s", out, ctrImage)
	}

	t.Run("run echo", func(t *testing.T) {
		out := c.mustRun(c.runArgs("--rm", ctrImage, "echo1", "echo", "hi")...)
		if out != "hi\n" {
			t.Errorf("ctr run echo hi printed %q", out)
		}
	})

	t.Run("exit status", func(t *testing.T) {
		out, err := c.run(c.runArgs("--rm", ctrImage, "exit3", "sh", "-c", "exit 3")...)
		if code := exitCode(err); code != 3 {
			t.Errorf("ctr run of `exit 3`: %v (status %d), want status 3\n%s", err, code, out)
		}
	})

	t.Run("terminal", func(t *testing.T) {
		out, err := c.script(t, c.runArgs("--rm", "-t", ctrImage, "tty1", "sh", "-c", "'test -t 0 && test -t 1 && echo on-a-tty; exit 4'")...)
		if code := exitCode(err); code != 4 || !strings.Contains(string(out), "on-a-tty") {
			t.Errorf("ctr run -t: %v (status %d), want on-a-tty and status 4\n%q", err, code, out)
		}
	})

	// ctr run options that change the spec the shim hands to ocikit. Not
	// --uidmap: ctr 1.6 then drops --runc-binary and the shim runs runc.
	capEff := ""
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(l, "CapEff:") {
				capEff = l
			}
		}
	}
	hostDir := filepath.Join(dir, "hostdir")
	if err := os.MkdirAll(hostDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hostDir, "f"), []byte("from-host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		flags []string
		cmd   string
		want  []string
		code  int
	}{
		{"privileged", []string{"--privileged"},
			"grep CapEff: /proc/self/status; test -L /dev/ptmx && test -c /dev/null && echo devices-ok",
			[]string{capEff, "devices-ok"}, 0},
		{"read-only", []string{"--read-only"}, "touch /x", []string{"Read-only file system"}, 1},
		{"seccomp", []string{"--seccomp"}, "grep Seccomp: /proc/self/status", []string{"Seccomp:\t2"}, 0},
		{"bind mount", []string{"--mount", "type=bind,src=" + hostDir + ",dst=/h,options=rbind:ro"},
			"cat /h/f; touch /h/y", []string{"from-host", "Read-only file system"}, 1},
		{"no pivot", []string{"--no-pivot"}, "echo nopivot", []string{"nopivot"}, 0},
		{"cwd and env", []string{"--cwd", "/tmp", "--env", "FOO=bar"}, `echo "$PWD $FOO"`, []string{"/tmp bar"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := c.runArgs(append(append([]string{"--rm"}, tc.flags...), ctrImage, "opt", "sh", "-c", tc.cmd)...)
			out, err := c.run(args...)
			if code := exitCode(err); code != tc.code && !(tc.code == 0 && err == nil) {
				t.Errorf("ctr run %s: %v (status %d), want status %d\n%s", strings.Join(tc.flags, " "), err, code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("ctr run %s: output lacks %q:\n%s", strings.Join(tc.flags, " "), w, out)
				}
			}
		})
	}

	t.Run("detached", func(t *testing.T) {
		const id = "bg"
		c.mustRun(c.runArgs("-d", ctrImage, id, "sleep", "1000")...)
		if st := c.taskStatus(id); st != "RUNNING" {
			t.Fatalf("ctr task ls: %s is %q, want RUNNING", id, st)
		}
		if st, err := c.ocikitState(id); err != nil || st != "running" {
			t.Fatalf("ocikit state %s: %q, %v; want running (was ocikit the shim's runtime?)", id, st, err)
		}
		// The shim reads the cgroup ocikit placed the task in.
		if out := c.mustRun("task", "metrics", id); !strings.Contains(out, "pids.current") {
			t.Errorf("ctr task metrics %s has no pids.current:\n%s", id, out)
		}
		t.Run("pause", func(t *testing.T) {
			if !hasCommand(t, bin, "pause") {
				t.Skip("ocikit has no pause command yet")
			}
			c.mustRun("task", "pause", id)
			if st := c.taskStatus(id); st != "PAUSED" {
				t.Errorf("ctr task ls after pause: %q, want PAUSED", st)
			}
			if st, err := c.ocikitState(id); err != nil || st != "paused" {
				t.Errorf("ocikit state after pause: %q, %v", st, err)
			}
			c.mustRun("task", "resume", id)
			if st := c.taskStatus(id); st != "RUNNING" {
				t.Errorf("ctr task ls after resume: %q, want RUNNING", st)
			}
		})
		t.Run("exec", func(t *testing.T) {
			if !hasCommand(t, bin, "exec") {
				t.Skip("ocikit has no exec command yet")
			}
			if out := c.mustRun("task", "exec", "--fifo-dir", c.fifoDir, "--exec-id", "e1", id, "echo", "inside"); out != "inside\n" {
				t.Errorf("ctr task exec echo inside printed %q", out)
			}
			out, err := c.run("task", "exec", "--fifo-dir", c.fifoDir, "--exec-id", "e2", id, "sh", "-c", "exit 5")
			if code := exitCode(err); code != 5 {
				t.Errorf("ctr task exec of `exit 5`: %v (status %d)\n%s", err, code, out)
			}
			if out := c.mustRun("task", "exec", "--fifo-dir", c.fifoDir, "--user", "1000", "--cwd", "/tmp", "--exec-id", "e4", id, "sh", "-c", "echo $(id -u) $PWD"); out != "1000 /tmp\n" {
				t.Errorf("ctr task exec --user 1000 --cwd /tmp printed %q", out)
			}
			out, err = c.run("task", "exec", "--fifo-dir", c.fifoDir, "--exec-id", "e5", id, "/nonexistent")
			if line := lineWith(out, "OCI runtime exec failed"); err == nil || !strings.Contains(line, "/nonexistent") || strings.Contains(line, "did not terminate successfully") {
				t.Errorf("ctr task exec /nonexistent: %v, want ocikit's error on the \"OCI runtime exec failed\" line:\n%s", err, out)
			}
			// A terminal of the container's devpts: tty(1) names it there.
			out, err = c.script(t, "task", "exec", "--fifo-dir", c.fifoDir, "-t", "--exec-id", "e3", id, "sh", "-c", "'tty; exit 6'")
			if code := exitCode(err); code != 6 || !strings.Contains(out, "/dev/pts/") {
				t.Errorf("ctr task exec -t: %v (status %d), want /dev/pts/N and status 6\n%q", err, code, out)
			}
		})
		t.Run("ps", func(t *testing.T) {
			if !hasCommand(t, bin, "ps") {
				t.Skip("ocikit has no ps command yet (ps is an alias of list)")
			}
			if out := c.mustRun("task", "ps", id); len(strings.Fields(out)) < 2 {
				t.Errorf("ctr task ps %s lists no process:\n%s", id, out)
			}
		})

		// sleep is the pid namespace's init: SIGTERM without a handler
		// does nothing (as with runc), so KILL; --all: every process of
		// the container (ocikit kill --all).
		c.mustRun("task", "kill", "--all", "-s", "SIGKILL", id)
		deadline := time.Now().Add(20 * time.Second)
		for c.taskStatus(id) != "STOPPED" {
			if time.Now().After(deadline) {
				t.Fatalf("task %s not STOPPED 20s after SIGKILL: %q", id, c.taskStatus(id))
			}
			time.Sleep(50 * time.Millisecond)
		}
		c.mustRun("task", "delete", id)
		c.mustRun("containers", "rm", id)
		if st, err := c.ocikitState(id); err == nil {
			t.Errorf("ocikit still has %s after ctr task delete: %s", id, st)
		}
	})

	t.Run("runtime error reaches ctr", func(t *testing.T) {
		out, err := c.run(c.runArgs("--rm", ctrImage, "bad", "/nonexistent")...)
		if err == nil {
			t.Fatalf("ctr run of a missing program succeeded:\n%s", out)
		}
		// The shim takes the message from ocikit's --log JSON file (its
		// last "error" record); without it the line says only "... did not
		// terminate successfully: exit status 1: unknown".
		line := lineWith(out, "OCI runtime create failed")
		if !strings.Contains(line, "stat /nonexistent: no such file or directory") || strings.Contains(line, "did not terminate successfully") {
			t.Errorf("ctr run /nonexistent: want ocikit's error on the \"OCI runtime create failed\" line, got:\n%s", out)
		}
		if out := c.mustRun("containers", "ls", "-q"); strings.Contains(out, "bad") {
			t.Errorf("ctr run --rm left the failed container: %q", out)
		}
	})
}

// waitDaemon polls probe every interval until it succeeds, failing the
// test when the daemon (whose exit closes exited) stops first or timeout
// passes.
func waitDaemon(t *testing.T, name string, exited <-chan struct{}, timeout, interval time.Duration, probe func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for probe() != nil {
		select {
		case <-exited:
			t.Fatalf("%s exited at start", name)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer on its socket within %v", name, timeout)
		}
		time.Sleep(interval)
	}
}
