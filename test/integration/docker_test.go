//go:build linux

package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ocikit/ocikit/internal/testutil"
)

// dockerd drives ocikit as a runtime of Docker's daemon (Debian's
// Docker package, 20.10 and later): a daemon of the test's own (data root, exec
// root, pid file, socket, cgroup parent, containerd namespace) on a
// private containerd, with ocikit registered as `--add-runtime ocikit=BIN`.
// dockerd hands the runtime to containerd's runc shim v2 as its
// BinaryName, so ocikit is called exactly as runc would be.
type dockerd struct {
	t        *testing.T
	docker   string
	host     string // -H unix://…
	env      []string
	execRoot string
	ns       string // containerd namespace
	parent   string // --cgroup-parent
	bin      string
	log      string
}

const dockerImage = "ocikit.test/ocikit/busybox:v1"

// startDockerd starts dockerd under dir and, when the test ends, removes
// its containers, stops it, unmounts what it left mounted under dir,
// removes its cgroup parent and the trust key it wrote to /etc/docker
// (dockerd 20.10 always writes one there; none of its flags moves it).
func startDockerd(t *testing.T, dir string) *dockerd {
	t.Helper()
	daemon := testutil.RequireTool(t, "dockerd")
	d := &dockerd{
		t:        t,
		docker:   testutil.RequireTool(t, "docker"),
		host:     "unix://" + filepath.Join(dir, "docker.sock"),
		execRoot: filepath.Join(dir, "exec"),
		ns:       "ocikit-docker-test",
		parent:   fmt.Sprintf("/ocikit-docker-test-%d", os.Getpid()),
		bin:      testutil.Binary(t),
		log:      filepath.Join(dir, "dockerd.log"),
	}
	// The client's configuration directory: nothing under $HOME.
	d.env = append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(dir, "client"))

	// A private containerd; its cleanup (registered first, so run last)
	// ends what is left in dockerd's namespace: tasks, shims, and the
	// containers under the runtime root dockerd gives the shim.
	ctdDir := filepath.Join(dir, "containerd")
	if err := os.Mkdir(ctdDir, 0o700); err != nil {
		t.Fatal(err)
	}
	ctd := startContainerd(t, ctdDir)
	ctd.ns = d.ns
	ctd.runcRoot = filepath.Join(d.execRoot, "runtime-runc")

	const trustKey = "/etc/docker/key.json"
	_, err := os.Lstat(trustKey)
	keyExisted := err == nil

	logf, err := os.Create(d.log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(daemon,
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", d.execRoot,
		"--pidfile", filepath.Join(dir, "dockerd.pid"),
		"-H", d.host,
		"--containerd", ctd.sock,
		"--containerd-namespace", d.ns,
		"--containerd-plugins-namespace", d.ns+"-plugins",
		"--cgroup-parent", d.parent,
		// No host networking changes: no iptables rules, no bridge, no
		// forwarding sysctl, no masquerading, no userland proxy.
		"--iptables=false", "--ip6tables=false", "--bridge=none",
		"--ip-forward=false", "--ip-masq=false", "--userland-proxy=false",
		"--storage-driver", "vfs",
		// The hard RLIMIT_NOFILE of the test host is below Docker's default.
		"--default-ulimit", "nofile=1024:1024",
		"--add-runtime", "ocikit="+d.bin,
		"--log-level", "debug",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = d.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start dockerd: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(exited) }()
	t.Cleanup(func() {
		d.cleanup(cmd.Process, exited, dir)
		if !keyExisted {
			if err := os.Remove(trustKey); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("cleanup: %v", err)
			}
		}
		if t.Failed() {
			d.logTail()
		}
	})

	waitDaemon(t, "dockerd", exited, 60*time.Second, 200*time.Millisecond, func() error {
		_, err := d.run("version")
		return err
	})
	return d
}

// cleanup removes every container, stops the daemon, unmounts what is
// still mounted under dir (network namespace files, shm) and removes the
// cgroup parent, which the runtime left empty.
func (d *dockerd) cleanup(daemon *os.Process, exited <-chan struct{}, dir string) {
	if out, err := d.run("ps", "-aq"); err == nil && strings.TrimSpace(out) != "" {
		d.run(append([]string{"rm", "-f"}, strings.Fields(out)...)...)
	}
	daemon.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		daemon.Kill()
		<-exited
	}
	unmountUnder(d.t, dir)
	v1, _ := filepath.Glob("/sys/fs/cgroup/*" + d.parent)
	for _, top := range append(v1, "/sys/fs/cgroup"+d.parent) {
		var left []string
		filepath.WalkDir(top, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() && p != top {
				left = append(left, p)
			}
			return nil
		})
		sort.Sort(sort.Reverse(sort.StringSlice(left))) // children first
		for _, p := range left {
			d.t.Errorf("cleanup: a container cgroup is left behind: %s", p)
			unix.Rmdir(p)
		}
		if err := unix.Rmdir(top); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTDIR) {
			d.t.Errorf("cleanup: remove cgroup %s: %v", top, err)
		}
	}
}

func (d *dockerd) logTail() {
	data, err := os.ReadFile(d.log)
	if err != nil {
		return
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	d.t.Logf("dockerd log (last %d lines):\n%s", len(lines), strings.Join(lines, "\n"))
}

// run runs the docker client against the test's daemon and returns its
// combined output; a hang fails after 60s.
func (d *dockerd) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.docker, append([]string{"-H", d.host}, args...)...)
	cmd.Env = d.env
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(out), fmt.Errorf("docker %s: timed out after 60s", strings.Join(args, " "))
	}
	return string(out), err
}

func (d *dockerd) mustRun(args ...string) string {
	d.t.Helper()
	out, err := d.run(args...)
	if err != nil {
		d.t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// script runs the docker client on a terminal of its own (script(1)), as
// `docker run -t` and `docker exec -t` want one. args are joined into
// script's shell command line as they are (quote them for sh).
func (d *dockerd) script(t *testing.T, args ...string) (string, error) {
	t.Helper()
	script := testutil.RequireTool(t, "script")
	line := strings.Join(append([]string{d.docker, "-H", d.host}, args...), " ")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, "-qec", line, "/dev/null")
	cmd.Env = d.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// runArgs are the `docker run` flags that select ocikit, without a network
// (the daemon has no bridge).
func runArgs(extra ...string) []string {
	return append([]string{"run", "--runtime", "ocikit", "--network", "none"}, extra...)
}

// ocikitState returns the status ocikit records for the container with the
// full id, proving that the shim ran ocikit. dockerd gives every runtime
// the shim root EXECROOT/runtime-runc, and the shim adds the namespace.
func (d *dockerd) ocikitState(id string) (string, error) {
	root := filepath.Join(d.execRoot, "runtime-runc", d.ns)
	out, err := exec.Command(d.bin, "--root", root, "state", id).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("ocikit --root %s state %s: %v: %s", root, id, err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), `"status": `); ok {
			return strings.Trim(v, `",`), nil
		}
	}
	return "", fmt.Errorf("ocikit state %s: no status in %s", id, out)
}

// TestDocker: Docker's daemon with ocikit as the runtime (`docker run
// --runtime ocikit`): a busybox image imported from a tar, run with output
// and exit status, a terminal, limits (--memory, --cpus, --cpu-shares,
// --pids-limit) seen in the container's cgroup, exec into a running container (output, status, terminal), and
// ocikit's own error reaching the docker client.
func TestDocker(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "dockerd")
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	testutil.BusyboxRootfs(t, rootfs)
	tarball := filepath.Join(dir, "busybox.tar")
	if out, err := exec.Command("tar", "-C", rootfs, "-cf", tarball, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	d := startDockerd(t, dir)
	d.mustRun("import", tarball, dockerImage)

	t.Run("run echo", func(t *testing.T) {
		if out := d.mustRun(runArgs("--rm", dockerImage, "echo", "hi")...); out != "hi\n" {
			t.Errorf("docker run echo hi printed %q", out)
		}
	})

	t.Run("exit status", func(t *testing.T) {
		out, err := d.run(runArgs("--rm", dockerImage, "sh", "-c", "exit 3")...)
		if code := exitCode(err); code != 3 {
			t.Errorf("docker run of `exit 3`: %v (status %d), want status 3\n%s", err, code, out)
		}
	})

	t.Run("terminal", func(t *testing.T) {
		out, err := d.script(t, runArgs("--rm", "-t", dockerImage, "sh", "-c", "'test -t 0 && test -t 1 && echo on-a-tty; exit 4'")...)
		if code := exitCode(err); code != 4 || !strings.Contains(out, "on-a-tty") {
			t.Errorf("docker run -t: %v (status %d), want on-a-tty and status 4\n%q", err, code, out)
		}
	})

	t.Run("limits", func(t *testing.T) {
		// The container's own cgroup: on v1 (hybrid here) one directory
		// per controller, on v2 (a private cgroup namespace) the top.
		out := d.mustRun(runArgs("--rm", "--memory", "64m", "--cpus", "0.5", "--cpu-shares", "512", "--pids-limit", "100", dockerImage, "sh", "-c",
			"cd /sys/fs/cgroup; cat memory/memory.limit_in_bytes cpu/cpu.cfs_quota_us cpu/cpu.shares pids/pids.max 2>/dev/null || cat memory.max cpu.max pids.max")...)
		want := "67108864\n50000\n512\n100\n"
		if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
			want = "67108864\n50000 100000\n100\n" // v2 has no cpu.shares file
		}
		if out != want {
			t.Errorf("limits in the container's cgroup (memory, cpu quota, v1 shares, pids):\n%q\nwant\n%q", out, want)
		}
	})

	t.Run("privileged", func(t *testing.T) {
		// Every host device in linux.devices, an allow-all device list
		// and more capabilities than Docker's default set (a80425fb).
		out, err := d.run(runArgs("--rm", "--privileged", dockerImage, "sh", "-c",
			"test -c /dev/kmsg && : >/dev/kmsg && echo kmsg-writable; grep CapEff: /proc/self/status")...)
		if err != nil || !strings.Contains(out, "kmsg-writable") || !strings.Contains(out, "CapEff:") || strings.Contains(out, "a80425fb") {
			t.Errorf("docker run --privileged: %v, want /dev/kmsg writable and more than the default capabilities:\n%s", err, out)
		}
	})

	t.Run("exec", func(t *testing.T) {
		id := strings.TrimSpace(d.mustRun(runArgs("-d", dockerImage, "sleep", "1000")...))
		if st, err := d.ocikitState(id); err != nil || st != "running" {
			t.Fatalf("ocikit state: %q, %v; want running (was ocikit the shim's runtime?)", st, err)
		}
		if out := d.mustRun("exec", id, "echo", "inside"); out != "inside\n" {
			t.Errorf("docker exec echo inside printed %q", out)
		}
		out, err := d.run("exec", id, "sh", "-c", "exit 5")
		if code := exitCode(err); code != 5 {
			t.Errorf("docker exec of `exit 5`: %v (status %d)\n%s", err, code, out)
		}
		if out := d.mustRun("exec", "--user", "1000", "--workdir", "/tmp", id, "sh", "-c", "echo $(id -u) $PWD"); out != "1000 /tmp\n" {
			t.Errorf("docker exec --user 1000 --workdir /tmp printed %q", out)
		}
		out, err = d.script(t, "exec", "-t", id, "sh", "-c", "'tty; exit 6'")
		if code := exitCode(err); code != 6 || !strings.Contains(out, "/dev/pts/") {
			t.Errorf("docker exec -t: %v (status %d), want /dev/pts/N and status 6\n%q", err, code, out)
		}
		d.mustRun("rm", "-f", id)
		if st, err := d.ocikitState(id); err == nil {
			t.Errorf("ocikit still has the container after docker rm -f: %s", st)
		}
	})

	t.Run("runtime error reaches docker", func(t *testing.T) {
		out, err := d.run(runArgs("--rm", dockerImage, "/nonexistent")...)
		if err == nil {
			t.Fatalf("docker run of a missing program succeeded:\n%s", out)
		}
		if line := lineWith(out, "OCI runtime create failed"); !strings.Contains(line, "/nonexistent: no such file or directory") {
			t.Errorf("docker run /nonexistent: want ocikit's error on the \"OCI runtime create failed\" line, got:\n%s", out)
		}
	})
}
