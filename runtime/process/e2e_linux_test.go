package process

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/internal/testutil"
	"github.com/ocikit/ocikit/runtime/defaults"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestRunEndToEnd runs a busybox container with `ocikit run` and checks,
// from inside, that the process attributes, the seccomp filter and the
// cgroup limits this engineer's packages implement reach the container
// through the real init (the runtime package wires them).
func TestRunEndToEnd(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.Binary(t)
	bundle := t.TempDir()
	testutil.BusyboxRootfs(t, filepath.Join(bundle, "rootfs"))
	if err := os.Chmod(filepath.Join(bundle, "rootfs", "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	spec := defaults.Spec()
	spec.Root.Readonly = false
	adj := 321
	umask := uint32(0o027)
	spec.Process.Terminal = false
	spec.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10}, Umask: &umask}
	spec.Process.OOMScoreAdj = &adj
	spec.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 123, Hard: 456}}
	spec.Process.Capabilities = &specs.LinuxCapabilities{
		Bounding: []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"}, Permitted: []string{"CAP_NET_BIND_SERVICE"},
		Effective: []string{"CAP_NET_BIND_SERVICE"}, Inheritable: []string{"CAP_NET_BIND_SERVICE"}, Ambient: []string{"CAP_NET_BIND_SERVICE"},
	}
	spec.Process.NoNewPrivileges = true
	spec.Linux.Resources = &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
		Pids:    &specs.LinuxPids{Limit: ptr(int64(42))},
	}
	spec.Linux.CgroupsPath = fmt.Sprintf("/ocikit-test/e2e-%d", os.Getpid())
	spec.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: ptr(uint(28))}, // ENOSPC
	}}
	spec.Process.Args = []string{"sh", "-c", strings.Join([]string{
		"id",
		"grep -E '^(CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status",
		"cat /proc/self/oom_score_adj",
		"ulimit -n; ulimit -Hn",
		"umask",
		"mkdir /tmp/x 2>&1 || true",
		"cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null; true",
	}, "; ")}
	data, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	t.Cleanup(func() { unmountUnder(root) })
	t.Cleanup(removeTestCgroupParents)
	cmd := exec.Command(bin, "--root", root, "run", fmt.Sprintf("e2e-%d", os.Getpid()))
	cmd.Dir = bundle
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ocikit run: %v\n%s", err, out)
	}
	got := string(out)
	for _, want := range []string{
		"uid=1000(user) gid=1000(user) groups=10(wheel)",
		"CapEff:\t0000000000000400", "CapBnd:\t0000000000000420", "CapAmb:\t0000000000000400",
		"NoNewPrivs:\t1", "Seccomp:\t2",
		"321\n", "123\n456\n", "0027\n",
		"No space left on device",
		"\n42\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("container output lacks %q:\n%s", want, got)
		}
	}
}

// removeTestCgroupParents removes the /ocikit-test parents the container's
// cgroups were created in, once empty (the runtime removes only its own).
func removeTestCgroupParents() {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/ocikit-test")
	for _, d := range dirs {
		os.Remove(d)
	}
	os.Remove("/sys/fs/cgroup/ocikit-test") // cgroup v2
}

func ptr[T any](v T) *T { return &v }

// unmountUnder detaches what the runtime left mounted in its state root
// (its read-only copy of the init binary), so the directory can be removed.
func unmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			unix.Unmount(f[4], unix.MNT_DETACH)
		}
	}
}
