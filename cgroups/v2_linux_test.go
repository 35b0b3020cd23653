package cgroups

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ocikit/ocikit/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestPureV2 exercises the cgroup v2 code path on a hybrid host: it re-runs
// TestV2Inner in a private mount namespace where the host's cgroup2
// hierarchy (the one mounted at /sys/fs/cgroup/unified) is mounted at
// /sys/fs/cgroup, so the library's mode detection sees a pure v2 host. The
// v1 controllers (memory, pids, cpu...) stay bound to their v1 hierarchies,
// so only what needs no v2 controller is checked here: creating and
// joining, the eBPF device filter, freezing, process listing, destroying.
// On a real v2 host TestManagerLimits covers the controllers.
func TestPureV2(t *testing.T) {
	testutil.RequireRoot(t)
	if HostMode() == Unified {
		t.Skip("pure cgroup v2 host: the other tests run the v2 path")
	}
	if HostMode() != Hybrid {
		t.Skip("no cgroup2 hierarchy on this host")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestV2Inner$", "-test.v")
	cmd.Env = append(os.Environ(), "OCIKIT_CGROUP_V2_INNER=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	t.Logf("inner test:\n%s", out)
	if err != nil {
		t.Fatalf("inner test: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: TestV2Inner") {
		t.Fatal("inner test did not run")
	}
}

func TestV2Inner(t *testing.T) {
	if os.Getenv("OCIKIT_CGROUP_V2_INNER") == "" {
		t.Skip("run by TestPureV2")
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, ""); err != nil {
		t.Fatal(err)
	}
	if m := HostMode(); m != Unified {
		t.Fatalf("mode detection says %s, want v2", m)
	}
	m := newTestManager(t, &specs.Linux{Resources: &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
	}})
	c := startChild(t)
	if err := m.Apply(c.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	paths := m.Paths()
	if len(paths) != 1 || !strings.HasPrefix(paths[""], "/sys/fs/cgroup/ocikit-test/") {
		t.Fatalf("paths %v, want one unified path", paths)
	}
	if got := readFile(t, paths[""], "cgroup.procs"); !slices.Contains(strings.Fields(got), strconv.Itoa(c.cmd.Process.Pid)) {
		t.Fatalf("cgroup.procs %q lacks the child", got)
	}
	if err := m.Set(nil); err != nil {
		t.Fatal(err)
	}
	got := c.run(t, `for d in null zero kmsg; do if (: <"/dev/$d") 2>/dev/null; then echo "$d ok"; else echo "$d denied"; fi; done`)
	if want := []string{"null ok", "zero ok", "kmsg denied"}; !slices.Equal(got, want) {
		t.Fatalf("eBPF device filter: %q, want %q", got, want)
	}
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if f, err := m.Frozen(); err != nil || !f || readFile(t, paths[""], "cgroup.freeze") != "1" {
		t.Fatalf("Frozen = %v, %v", f, err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if out := c.run(t, "echo thawed"); !slices.Equal(out, []string{"thawed"}) {
		t.Fatalf("after thaw: %q", out)
	}
	// Unified keys are written as given on v2 (and refused on v1).
	if err := m.Set(&specs.LinuxResources{Unified: map[string]string{"cgroup.max.descendants": "7"}}); err != nil {
		t.Fatal(err)
	}
	if v := readFile(t, paths[""], "cgroup.max.descendants"); v != "7" {
		t.Errorf("cgroup.max.descendants = %q", v)
	}
	st, err := Load(m.State())
	if err != nil {
		t.Fatal(err)
	}
	if pids, err := st.Pids(); err != nil || !slices.Contains(pids, c.cmd.Process.Pid) {
		t.Fatalf("loaded Pids = %v, %v", pids, err)
	}
	c.stop()
	if err := st.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(paths[""]); !os.IsNotExist(err) {
		t.Fatalf("%s still exists", paths[""])
	}
}
