package rootfs

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestCgroupMount: a "cgroup" mount shows the container's own cgroups
// given in Options.CgroupPaths: on a v1 or hybrid host, a tmpfs with a bind
// of the container's directory per hierarchy; on a v2 host, a bind of the
// container's directory (no cgroup namespace).
func TestCgroupMount(t *testing.T) {
	for _, given := range []bool{false, true} {
		t.Run(map[bool]string{false: "read", true: "given"}[given], func(t *testing.T) { testCgroupMount(t, given) })
	}
}

// testCgroupMount: with given, the hierarchies come in
// Options.Hierarchies (read by the runtime beforehand), here only those
// the container has a directory in: a cgroup mount binds what it is given
// and reads no mount table.
func testCgroupMount(t *testing.T, given bool) {
	b := newBundle(t)
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupRoot, &st); err != nil {
		t.Skipf("no cgroup filesystem: %v", err)
	}
	v2 := st.Type == unix.CGROUP2_SUPER_MAGIC
	name := "ocikit-rootfs-test-" + strconv.Itoa(os.Getpid())
	paths := map[string]string{}
	want := map[string]string{} // mount point in the container -> host dir
	var hsGiven []Hierarchy
	mk := func(hostDir, key, at string) {
		dir := filepath.Join(hostDir, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Skipf("cannot create a cgroup: %v", err)
		}
		t.Cleanup(func() { os.Remove(dir) })
		paths[key] = dir
		want[at] = "/" + name
	}
	if v2 {
		mk(cgroupRoot, "", "/sys/fs/cgroup")
	} else {
		hs, err := Hierarchies()
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hs {
			if len(h.Controllers) == 1 && (h.Controllers[0] == "memory" || h.Controllers[0] == "pids") {
				if given && len(hsGiven) > 0 {
					// Not given, though the container has a path
					// there: it must stay out.
					paths[h.Controllers[0]] = h.Mountpoint
					continue
				}
				mk(h.Mountpoint, h.Controllers[0], "/sys/fs/cgroup/"+filepath.Base(h.Mountpoint))
				hsGiven = append(hsGiven, h)
			}
		}
		if len(paths) == 0 {
			t.Skip("no memory or pids hierarchy")
		}
	}
	spec := baseSpec()
	cfg := &childConfig{Spec: spec, Bundle: b, CgroupPaths: paths, List: []string{"/sys/fs/cgroup"}}
	if given && !v2 {
		cfg.Hierarchies = hsGiven
	}
	rep := runChild(t, cfg)
	if rep.Err != "" {
		t.Fatalf("prepare/finish: %s", rep.Err)
	}
	for at, root := range want {
		m := mountAt(rep.Mounts, at)
		if m == nil {
			t.Errorf("%s: not mounted", at)
			continue
		}
		if m.Root != root || !hasOpt(m.Options, "ro") {
			t.Errorf("%s: root %s options %s, want root %s read-only", at, m.Root, m.Options, root)
		}
	}
	if !v2 && len(rep.List["/sys/fs/cgroup"]) != len(want) {
		t.Errorf("/sys/fs/cgroup holds %v, want only the hierarchies given", rep.List["/sys/fs/cgroup"])
	}
}

// TestCgroup2Mount: on a cgroup v2 host a "cgroup" mount is a bind of the
// container's cgroup, or a cgroup2 filesystem when the container has its
// own cgroup namespace. A hybrid host is made to look like v2 by mounting
// its unified hierarchy on /sys/fs/cgroup in the child.
func TestCgroup2Mount(t *testing.T) {
	b := newBundle(t)
	unified := cgroupRoot
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupRoot, &st); err != nil {
		t.Skipf("no cgroup filesystem: %v", err)
	}
	hybrid := st.Type != unix.CGROUP2_SUPER_MAGIC
	if hybrid {
		unified = filepath.Join(cgroupRoot, "unified")
		if err := unix.Statfs(unified, &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
			t.Skip("no cgroup v2 hierarchy")
		}
	}
	name := "ocikit-rootfs-test-" + strconv.Itoa(os.Getpid())
	if err := os.Mkdir(filepath.Join(unified, name), 0o755); err != nil {
		t.Skipf("cannot create a cgroup: %v", err)
	}
	t.Cleanup(func() { os.Remove(filepath.Join(unified, name)) })
	for _, c := range []struct {
		name     string
		cgroupns bool
		root     string
	}{
		{"bind", false, "/" + name},
		{"cgroupns", true, "/"},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec := baseSpec()
			if c.cgroupns {
				spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
			}
			rep := runChild(t, &childConfig{Spec: spec, Bundle: b, Cgroup2: hybrid,
				CgroupPaths: map[string]string{"": filepath.Join(cgroupRoot, name)}})
			if rep.Err != "" {
				t.Fatalf("prepare/finish: %s", rep.Err)
			}
			m := mountAt(rep.Mounts, "/sys/fs/cgroup")
			if m == nil || m.FSType != "cgroup2" || m.Root != c.root || !hasOpt(m.Options, "ro") {
				t.Errorf("/sys/fs/cgroup: %+v, want cgroup2 root %s read-only", m, c.root)
			}
		})
	}
}

// TestCgroupNamespaceV1: with a cgroup namespace and no CgroupPaths, each
// v1 hierarchy is mounted and the kernel roots it at the namespace's
// cgroup: the container sees its cgroup's children, not its siblings.
func TestCgroupNamespaceV1(t *testing.T) {
	b := newBundle(t)
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupRoot, &st); err != nil || st.Type == unix.CGROUP2_SUPER_MAGIC {
		t.Skip("not a cgroup v1 or hybrid host")
	}
	mem := filepath.Join(cgroupRoot, "memory")
	if err := unix.Statfs(mem, &st); err != nil || st.Type != unix.CGROUP_SUPER_MAGIC {
		t.Skip("no memory hierarchy")
	}
	name := "ocikit-rootfs-test-" + strconv.Itoa(os.Getpid())
	own, sibling := filepath.Join(mem, name), filepath.Join(mem, name+"-sibling")
	for _, d := range []string{own, filepath.Join(own, "child"), sibling} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Skipf("cannot create a cgroup: %v", err)
		}
		t.Cleanup(func() { os.Remove(d) })
	}
	spec := baseSpec()
	spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	rep := runChild(t, &childConfig{Spec: spec, Bundle: b, JoinCgroups: []string{own}, CgroupNS: true,
		List: []string{"/sys/fs/cgroup/memory"}})
	if rep.Err != "" {
		t.Fatalf("prepare/finish: %s", rep.Err)
	}
	m := mountAt(rep.Mounts, "/sys/fs/cgroup/memory")
	if m == nil || m.FSType != "cgroup" || !hasOpt(m.Options, "ro") {
		t.Fatalf("/sys/fs/cgroup/memory: %+v, want a read-only cgroup mount", m)
	}
	names := " " + strings.Join(rep.List["/sys/fs/cgroup/memory"], " ") + " "
	if !strings.Contains(names, " child ") || strings.Contains(names, "-sibling") {
		t.Errorf("/sys/fs/cgroup/memory lists %q, want the container's cgroup (child, no sibling)", names)
	}
}

// TestProcessCgroups: the cgroups a process is in, as host directories
// keyed by controller ("" for the cgroup v2 one), on this host's layout
// and on a cgroup v2 one (the unified hierarchy mounted on /sys/fs/cgroup
// in the child): what a rootless container without cgroups of its own
// binds.
func TestProcessCgroups(t *testing.T) {
	b := newBundle(t)
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupRoot, &st); err != nil {
		t.Skipf("no cgroup filesystem: %v", err)
	}
	unified := cgroupRoot
	hybrid := st.Type != unix.CGROUP2_SUPER_MAGIC
	if hybrid {
		unified = filepath.Join(cgroupRoot, "unified")
		if err := unix.Statfs(unified, &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
			t.Skip("no cgroup v2 hierarchy")
		}
	}
	name := "ocikit-rootfs-procgroups-" + strconv.Itoa(os.Getpid())
	dirs := []string{filepath.Join(unified, name)}
	if hybrid {
		dirs = append(dirs, filepath.Join(cgroupRoot, "pids", name))
	}
	for _, d := range dirs {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Skipf("cannot create a cgroup: %v", err)
		}
		t.Cleanup(func() { os.Remove(d) })
	}
	t.Run("host", func(t *testing.T) {
		rep := runChild(t, &childConfig{Spec: baseSpec(), Bundle: b, JoinCgroups: dirs, ProbeCgroups: true})
		if rep.Err != "" {
			t.Fatal(rep.Err)
		}
		want := map[string]string{"": dirs[0]}
		if hybrid {
			want["pids"] = dirs[1]
		}
		for k, w := range want {
			if rep.Cgroups[k] != w {
				t.Errorf("cgroup %q: %q, want %q (all: %v)", k, rep.Cgroups[k], w, rep.Cgroups)
			}
		}
	})
	if hybrid {
		t.Run("v2", func(t *testing.T) {
			rep := runChild(t, &childConfig{Spec: baseSpec(), Bundle: b, JoinCgroups: dirs[:1], Cgroup2: true, ProbeCgroups: true})
			if rep.Err != "" {
				t.Fatal(rep.Err)
			}
			if want := filepath.Join(cgroupRoot, name); rep.Cgroups[""] != want || len(rep.Cgroups) != 1 {
				t.Errorf("cgroups %v, want only %q: %q", rep.Cgroups, "", want)
			}
		})
	}
}
