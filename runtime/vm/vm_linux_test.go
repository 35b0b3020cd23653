package vm_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocikit/ocikit/internal/testutil"
	"github.com/ocikit/ocikit/runtime/defaults"
	"github.com/ocikit/ocikit/runtime/rootfs"
	"github.com/ocikit/ocikit/runtime/vm"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// vmEnv is one test's ocikit --vm: the binary, a state root of its own and
// a busybox bundle.
type vmEnv struct {
	t      *testing.T
	bin    string
	root   string
	bundle string
}

// newVMEnv skips without root or qemu; the bundle runs args, with the
// annotations and mod's changes.
func newVMEnv(t *testing.T, args []string, annotations map[string]string, mod func(*specs.Spec)) *vmEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("boots a virtual machine")
	}
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "qemu-system-x86_64")
	testutil.RequireTool(t, "apt-get") // the kernel's first fetch
	e := &vmEnv{t: t, bin: testutil.Binary(t), root: t.TempDir(), bundle: t.TempDir()}
	testutil.BusyboxRootfs(t, filepath.Join(e.bundle, "rootfs"))
	spec := defaults.Spec()
	spec.Process.Terminal = false
	spec.Process.Args = args
	spec.Annotations = annotations
	if mod != nil {
		mod(spec)
	}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.bundle, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Whatever a failed test left.
		ents, _ := os.ReadDir(e.root)
		for _, ent := range ents {
			exec.Command(e.bin, "--vm", "--root", e.root, "delete", "--force", ent.Name()).Run()
		}
	})
	return e
}

// ocikit runs ocikit --vm with the test's root; stdin is empty. Its
// output goes to files, not pipes: create's monitor keeps its stdio (the
// container's) after create exits.
func (e *vmEnv) ocikit(args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	return e.ocikitIn(nil, args...)
}

// ocikitIn is ocikit with stdin (a terminal for foreground relays).
func (e *vmEnv) ocikitIn(stdin *os.File, args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	cmd := exec.Command(e.bin, append([]string{"--vm", "--root", e.root}, args...)...)
	cmd.Dir = e.bundle
	if stdin != nil {
		cmd.Stdin = stdin
	}
	dir := e.t.TempDir()
	o, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		e.t.Fatal(err)
	}
	defer o.Close()
	s, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		e.t.Fatal(err)
	}
	defer s.Close()
	cmd.Stdout, cmd.Stderr = o, s
	err = cmd.Run()
	ob, _ := os.ReadFile(o.Name())
	sb, _ := os.ReadFile(s.Name())
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		e.t.Fatalf("ocikit %v: %v", args, err)
	}
	return string(ob), string(sb), code
}

func (e *vmEnv) mustOcikit(args ...string) string {
	e.t.Helper()
	out, errOut, code := e.ocikit(args...)
	if code != 0 {
		e.t.Fatalf("ocikit %v: exit %d: %s", args, code, errOut)
	}
	return out
}

func (e *vmEnv) state(id string) specs.State {
	e.t.Helper()
	var st specs.State
	if err := json.Unmarshal([]byte(e.mustOcikit("state", id)), &st); err != nil {
		e.t.Fatal(err)
	}
	return st
}

// leftovers lists the processes whose command line names the test's state
// root or bundle (the monitor, qemu) and what is left under the root.
func (e *vmEnv) leftovers() []string {
	var left []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		cmdline := string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		if strings.Contains(cmdline, e.root) || strings.Contains(cmdline, e.bundle) {
			pid := filepath.Base(filepath.Dir(p))
			if _, st, _ := strings.Cut(readStat(pid), ") "); !strings.HasPrefix(st, "Z") {
				left = append(left, "process "+pid+": "+cmdline)
			}
		}
	}
	ents, _ := os.ReadDir(e.root)
	for _, ent := range ents {
		left = append(left, "state "+ent.Name())
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mi), "\n") {
		if strings.Contains(l, e.bundle) {
			left = append(left, "mount "+l)
		}
	}
	return left
}

func readStat(pid string) string {
	b, _ := os.ReadFile("/proc/" + pid + "/stat")
	return string(b)
}

// waitStopped polls the state until the container is stopped (the guest
// takes seconds to shut down under emulation).
func (e *vmEnv) waitStopped(id string) {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for e.state(id).Status != specs.StateStopped {
		if time.Now().After(deadline) {
			e.t.Fatalf("container %s not stopped after 60s", id)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestVMRun: a foreground run prints the guest kernel's release (not the
// host's), passes stdout and stderr through and exits with the
// container's status; nothing is left.
func TestVMRun(t *testing.T) {
	limit := int64(128 << 20)
	e := newVMEnv(t, []string{"sh", "-c", "uname -r; grep -c ^processor /proc/cpuinfo; grep MemTotal /proc/meminfo; echo to-stderr >&2; exit 7"},
		map[string]string{vm.AnnotationCPUs: "2"},
		func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
		})
	stdout, errOut, code := e.ocikit("run", "vmtest-run")
	if code != 7 {
		t.Fatalf("exit %d, want 7; stderr: %s", code, errOut)
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	host := unix.ByteSliceToString(u.Release[:])
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 3 {
		t.Fatalf("stdout %q: want 3 lines", stdout)
	}
	if guest := lines[0]; guest == "" || guest == host {
		t.Errorf("uname -r in the VM printed %q; want the guest kernel's release, not the host's %q", guest, host)
	}
	// org.ocikit.vm.cpus; the memory limit plus the fixed overhead, less
	// what the guest kernel reserves.
	if lines[1] != "2" {
		t.Errorf("%s vCPUs, want 2 (annotation)", lines[1])
	}
	f := strings.Fields(lines[2])
	kb, err := strconv.ParseInt(f[len(f)-2], 10, 64)
	if total := (limit + vm.MemoryOverhead) >> 10; err != nil || kb > total || kb < total*3/4 {
		t.Errorf("%s: want at most and near %d kB (limit + overhead)", lines[2], total)
	}
	if !strings.Contains(errOut, "to-stderr") {
		t.Errorf("stderr %q lacks the container's output", errOut)
	}
	if left := e.leftovers(); len(left) > 0 {
		t.Errorf("left after run: %v", left)
	}
}

// TestVMLifecycle: create, start, exec into the running container (the
// exec'd process sees a file the first one wrote in its own tmpfs, so it
// is in the same VM and mount namespace), kill TERM, delete.
func TestVMLifecycle(t *testing.T) {
	e := newVMEnv(t, []string{"sh", "-c", `trap "exit 143" TERM; echo first > /dev/shm/mark; while :; do sleep 0.2; done`}, nil, nil)
	const id = "vmtest-life"
	e.mustOcikit("create", id)
	st := e.state(id)
	if st.Status != specs.StateCreated || st.Pid <= 0 {
		t.Fatalf("after create: %+v", st)
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(st.Pid)); err != nil {
		t.Fatalf("pid %d is not a host process: %v", st.Pid, err)
	}
	e.mustOcikit("start", id)
	if st := e.state(id); st.Status != specs.StateRunning {
		t.Fatalf("after start: %s", st.Status)
	}
	var out string
	deadline := time.Now().Add(30 * time.Second)
	for {
		o, errOut, code := e.ocikit("exec", id, "cat", "/dev/shm/mark")
		// The shell creates the file before it writes to it: an exec
		// in between reads it empty.
		if code == 0 && o != "" {
			out = o
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("exec cat: exit %d: %s", code, errOut)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if strings.TrimSpace(out) != "first" {
		t.Errorf("exec saw %q, want the first process's file", out)
	}
	if _, _, code := e.ocikit("exec", id, "sh", "-c", "exit 3"); code != 3 {
		t.Errorf("exec exit status %d, want 3", code)
	}
	e.mustOcikit("kill", id, "TERM")
	e.waitStopped(id)
	if _, _, code := e.ocikit("kill", id, "TERM"); code == 0 {
		t.Error("kill of a stopped container succeeded")
	}
	var list []specs.State
	if err := json.Unmarshal([]byte(e.mustOcikit("list", "--format", "json")), &list); err != nil || len(list) != 1 || list[0].ID != id {
		t.Errorf("list: %v %+v", err, list)
	}
	e.mustOcikit("delete", id)
	if left := e.leftovers(); len(left) > 0 {
		t.Errorf("left after delete: %v", left)
	}
}

// TestVMKilledMonitor: SIGKILL of the monitor takes qemu (and virtiofsd:
// the root is writable) with it, the container reads as stopped, and
// delete --force leaves nothing.
func TestVMKilledMonitor(t *testing.T) {
	e := newVMEnv(t, []string{"sleep", "1000"}, nil, func(s *specs.Spec) { s.Root.Readonly = false })
	const id = "vmtest-killed"
	e.mustOcikit("create", id)
	st := e.state(id)
	if err := syscall.Kill(st.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e.waitStopped(id)
	deadline := time.Now().Add(10 * time.Second)
	for len(e.leftovers()) > 1 && time.Now().Before(deadline) { // the state directory stays
		time.Sleep(50 * time.Millisecond)
	}
	e.mustOcikit("delete", "--force", id)
	if left := e.leftovers(); len(left) > 0 {
		t.Errorf("left after delete --force: %v", left)
	}
}

// TestVMFaults: what fails before or while the guest boots fails create
// with one line naming the step and leaves nothing.
func TestVMFaults(t *testing.T) {
	tests := []struct {
		name        string
		annotations map[string]string
		want        string
	}{
		{"missing kernel", map[string]string{"org.ocikit.vm.kernel": "/nonexistent/vmlinuz"}, "vm kernel: stat /nonexistent/vmlinuz: no such file or directory"},
		{"qemu fails", map[string]string{"org.ocikit.vm.memory": "100000G"}, "vm: qemu failed to start"},
		{"boot timeout", map[string]string{"org.ocikit.vm.boot-timeout": "10ms"}, "vm: guest not ready within 10ms"},
		{"bad cpus", map[string]string{"org.ocikit.vm.cpus": "zero"}, "org.ocikit.vm.cpus"},
		// The root filesystem's overlay is mounted on the host before
		// qemu starts: a bad one, or a qemu failing after it, leaves no
		// mount.
		{"bad overlay", map[string]string{rootfs.AnnotationOverlay: "lowerdir=/nonexistent-vmtest"}, "vm: root filesystem overlay"},
		{"qemu fails after the overlay", map[string]string{rootfs.AnnotationOverlay: "lowerdir=/usr/share:/usr/lib", "org.ocikit.vm.memory": "100000G"}, "vm: qemu failed to start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newVMEnv(t, []string{"true"}, tt.annotations, nil)
			_, errOut, code := e.ocikit("create", "vmtest-fault")
			if code == 0 {
				t.Fatal("create succeeded")
			}
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], tt.want) {
				t.Errorf("stderr %q, want one line with %q", errOut, tt.want)
			}
			if left := e.leftovers(); len(left) > 0 {
				t.Errorf("left after a failed create: %v", left)
			}
		})
	}
}
