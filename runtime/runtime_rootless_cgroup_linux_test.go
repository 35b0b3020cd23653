package runtime_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/ocikit/ocikit/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestRootlessRuncConfig: the config `runc spec --rootless` writes, with
// its cgroup mount, runs as an unprivileged user whose container gets no
// cgroup of its own: the cgroup mount binds the caller's cgroups, the ones
// the init runs in, read-only, in every hierarchy runc 1.1.5 binds for the
// same config on this host.
func TestRootlessRuncConfig(t *testing.T) {
	runc := testutil.RequireTool(t, "runc")
	e := newRootlessEnv(t)
	script := "ls /sys/fs/cgroup; echo --; grep ' /sys/fs/cgroup' /proc/self/mountinfo"
	b := t.TempDir()
	if err := os.Chmod(b, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(runc, "spec", "--rootless", "--bundle", b).CombinedOutput(); err != nil {
		t.Fatalf("runc spec --rootless: %v: %s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(b, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(spec.Mounts, func(m specs.Mount) bool { return m.Type == "cgroup" }) {
		t.Fatal("runc's rootless config has no cgroup mount any more")
	}
	spec.Root.Path = e.rootfs
	spec.Process.Terminal = false
	spec.Process.Args = []string{"sh", "-c", script}
	// Written by runc spec for the user running it (root here).
	spec.Linux.UIDMappings[0].HostID = nobody
	spec.Linux.GIDMappings[0].HostID = nobody
	// runc 1.1 writes ambient capabilities that are not inheritable, which
	// the kernel cannot raise (another part of issue 7).
	spec.Process.Capabilities.Ambient = nil
	if data, err = json.Marshal(&spec); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}

	out, stderr, err := e.run("run", "--bundle", b, e.id("runccfg"))
	if err != nil {
		t.Fatalf("ocikit run as nobody: %v: %s", err, stderr)
	}
	names, mounts, _ := strings.Cut(out, "--\n")
	ours := strings.Fields(names)

	// runc, as the same user, on the same bundle.
	runcRoot := t.TempDir()
	if err := os.Chown(runcRoot, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(runc, "--root", runcRoot, "run", "--bundle", b, e.id("runc"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}}
	cmd.Env = []string{"PATH=/usr/bin:/bin", "XDG_RUNTIME_DIR=" + runcRoot}
	rout, err := cmd.Output()
	if err != nil {
		t.Fatalf("runc run as nobody: %v", err)
	}
	theirs, _, _ := strings.Cut(string(rout), "--\n")
	if len(strings.Fields(theirs)) == 0 {
		t.Fatal("runc's container shows no hierarchy")
	}
	for _, h := range strings.Fields(theirs) {
		if !slices.Contains(ours, h) {
			t.Errorf("/sys/fs/cgroup/%s: bound by runc, missing here (have %v)", h, ours)
		}
	}
	// Every cgroup hierarchy on the container's /sys/fs/cgroup (the last
	// mount there; the host's, rbound with /sys, lie under it) is
	// read-only, as the config's ro asks.
	lines := strings.Split(strings.TrimSpace(mounts), "\n")
	top := ""
	for _, l := range lines {
		if f := strings.Fields(l); len(f) > 4 && f[4] == "/sys/fs/cgroup" {
			top = f[0]
		}
	}
	n := 0
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 6 || f[1] != top {
			continue
		}
		n++
		if !slices.Contains(strings.Split(f[5], ","), "ro") {
			t.Errorf("writable cgroup mount in the container: %s", l)
		}
	}
	if n == 0 {
		t.Errorf("no cgroup hierarchy mounted: %q", mounts)
	}
}
