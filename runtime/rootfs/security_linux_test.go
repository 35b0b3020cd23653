package rootfs

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestSymlinkEscape: destinations that go through container-controlled
// symbolic links (absolute, relative with "..", in the middle or at the
// end) are resolved inside the root; nothing is mounted on the host path
// they name.
func TestSymlinkEscape(t *testing.T) {
	b := newBundle(t)
	rootfs := filepath.Join(b, "rootfs")
	outside := filepath.Join(t.TempDir(), "outside")
	mkdirs(t, outside)
	writeFile(t, filepath.Join(b, "hostfile"), "x")
	// The links name a path that exists on the host and inside the root.
	mkdirs(t, filepath.Join(rootfs, outside, "reldir"))
	writeFile(t, filepath.Join(rootfs, outside, "file"), "")
	for name, target := range map[string]string{
		"abs":     outside,
		"rel":     strings.Repeat("../", 20) + strings.TrimPrefix(outside, "/") + "/reldir",
		"absfile": filepath.Join(outside, "file"),
	} {
		if err := os.Symlink(target, filepath.Join(rootfs, name)); err != nil {
			t.Fatal(err)
		}
	}
	spec := baseSpec()
	spec.Mounts = append(spec.Mounts,
		specs.Mount{Destination: "/abs/mnt", Source: "tmpfs", Type: "tmpfs"},
		specs.Mount{Destination: "/rel", Source: "tmpfs", Type: "tmpfs"},
		specs.Mount{Destination: "/absfile", Source: filepath.Join(b, "hostfile"), Type: "none", Options: []string{"bind"}},
		specs.Mount{Destination: "/rel/sub", Source: "tmpfs", Type: "tmpfs"},
	)
	spec.Linux.Devices = []specs.LinuxDevice{{Path: "/abs/devnull", Type: "c", Major: 1, Minor: 3}}
	rep := runChild(t, &childConfig{Spec: spec, Bundle: b, Stat: []string{"/abs", outside + "/devnull"}})
	if rep.Err != "" {
		t.Fatalf("prepare/finish: %s", rep.Err)
	}
	for _, m := range rep.Pre {
		if m.Mountpoint == outside || strings.HasPrefix(m.Mountpoint, outside+"/") {
			t.Errorf("mount escaped the root: %s (%s)", m.Mountpoint, m.FSType)
		}
	}
	for _, p := range []string{outside + "/mnt", outside + "/reldir", outside + "/file", outside + "/reldir/sub"} {
		if mountAt(rep.Mounts, p) == nil {
			t.Errorf("%s: no mount inside the container", p)
		}
		if mountAt(rep.Pre, filepath.Join(rootfs, p)) == nil {
			t.Errorf("%s: not mounted under the root %s", p, rootfs)
		}
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("files created outside the root: %v", ents)
	}
	if !rep.Stat[outside+"/devnull"].Exists {
		t.Error("device behind a symlink not created inside the root")
	}
}

// TestDestinationIsRoot: a destination that resolves to the root itself
// is refused, naming the mount.
func TestDestinationIsRoot(t *testing.T) {
	b := newBundle(t)
	if err := os.Symlink("/", filepath.Join(b, "rootfs", "toroot")); err != nil {
		t.Fatal(err)
	}
	spec := baseSpec()
	spec.Mounts = append(spec.Mounts, specs.Mount{Destination: "/toroot", Source: "tmpfs", Type: "tmpfs"})
	rep := runChild(t, &childConfig{Spec: spec, Bundle: b})
	if !strings.HasPrefix(rep.Err, "mount tmpfs on /toroot: ") {
		t.Fatalf("error %q, want one about mount tmpfs on /toroot", rep.Err)
	}
}

// TestDanglingSymlinkDestination: a mount whose destination is, or passes
// through, a link to a path missing in the root goes where the link points
// inside the root, creating what is missing there (as runc 1.1.5 does for
// an image's /etc/resolv.conf -> ../run/resolvconf/resolv.conf); the link
// is never followed to the host, where nothing is created or changed.
func TestDanglingSymlinkDestination(t *testing.T) {
	b := newBundle(t)
	rootfs := filepath.Join(b, "rootfs")
	outside := filepath.Join(t.TempDir(), "outside")
	mkdirs(t, outside)
	writeFile(t, filepath.Join(b, "hostfile"), "bound")
	writeFile(t, filepath.Join(outside, "file"), "host")
	for name, target := range map[string]string{
		"dir":             outside,
		"file":            filepath.Join(outside, "file"),
		"etc/resolv.conf": "../run/resolvconf/resolv.conf",
		"etc/hosts":       "/../../etc/hosts.real",
		"etc/chain":       "resolv.conf",
		"up":              "../../../../../..",
	} {
		mkdirs(t, filepath.Dir(filepath.Join(rootfs, name)))
		os.Remove(filepath.Join(rootfs, name))
		if err := os.Symlink(target, filepath.Join(rootfs, name)); err != nil {
			t.Fatal(err)
		}
	}
	hostfile := filepath.Join(b, "hostfile")
	spec := baseSpec()
	spec.Mounts = append(spec.Mounts,
		specs.Mount{Destination: "/dir/mnt", Source: "tmpfs", Type: "tmpfs"},
		specs.Mount{Destination: "/file", Source: hostfile, Type: "none", Options: []string{"bind"}},
		specs.Mount{Destination: "/etc/resolv.conf", Source: hostfile, Type: "bind", Options: []string{"rbind", "ro"}},
		specs.Mount{Destination: "/etc/hosts", Source: hostfile, Type: "bind", Options: []string{"rbind"}},
		specs.Mount{Destination: "/up/new/dir", Source: "tmpfs", Type: "tmpfs"},
	)
	rep := runChild(t, &childConfig{Spec: spec, Bundle: b,
		Read: []string{"/file", "/etc/resolv.conf", "/etc/chain", "/etc/hosts", "/etc/hosts.real", "/run/resolvconf/resolv.conf", outside + "/file"},
		Stat: []string{"/etc/resolv.conf"}})
	if rep.Err != "" {
		t.Fatalf("prepare/finish: %s", rep.Err)
	}
	for _, mi := range rep.Pre {
		if strings.HasPrefix(mi.Mountpoint, outside) {
			t.Errorf("mount escaped the root: %s", mi.Mountpoint)
		}
	}
	for _, p := range []string{"/file", "/etc/resolv.conf", "/etc/chain", "/etc/hosts", "/etc/hosts.real", "/run/resolvconf/resolv.conf", outside + "/file"} {
		if got := rep.Read[p]; got != "bound" {
			t.Errorf("%s reads %q in the container, want the bound file", p, got)
		}
	}
	if st := rep.Stat["/etc/resolv.conf"]; st.Link != "../run/resolvconf/resolv.conf" {
		t.Errorf("/etc/resolv.conf: %+v, want the image's link kept", st)
	}
	for _, p := range []string{outside + "/mnt", "/new/dir"} {
		if mountAt(rep.Mounts, p) == nil {
			t.Errorf("%s: no mount inside the container", p)
		}
		if mountAt(rep.Pre, filepath.Join(rootfs, p)) == nil {
			t.Errorf("%s: not mounted under the root %s", p, rootfs)
		}
	}
	ents, _ := os.ReadDir(outside)
	if len(ents) != 1 {
		t.Errorf("outside holds %v, want only file", ents)
	}
	if data, _ := os.ReadFile(filepath.Join(outside, "file")); string(data) != "host" {
		t.Errorf("host file changed: %q", data)
	}
	if _, err := os.Stat("/etc/hosts.real"); err == nil {
		t.Error("/etc/hosts.real created on the host")
	}
}

// TestProcDestination: only procfs and a few files (lxcfs) may be mounted
// inside /proc, also when a symbolic link leads there.
func TestProcDestination(t *testing.T) {
	// procLink makes the image's /proc a symbolic link to /pp.
	procLink := func(t *testing.T, rootfs string) {
		if err := os.RemoveAll(filepath.Join(rootfs, "proc")); err != nil {
			t.Fatal(err)
		}
		mkdirs(t, filepath.Join(rootfs, "pp"))
		if err := os.Symlink("/pp", filepath.Join(rootfs, "proc")); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name  string
		m     []specs.Mount
		setup func(t *testing.T, rootfs string)
		want  string // error, "" for none
	}{
		{"uptime allowed", []specs.Mount{{Destination: "/proc/uptime", Source: "hostfile", Type: "bind"}}, nil, ""},
		{"sys refused", []specs.Mount{{Destination: "/proc/sys/kernel/hostname", Source: "hostfile", Options: []string{"bind"}}}, nil,
			"destination /proc/sys/kernel/hostname is inside /proc and the source is not a procfs"},
		{"through a link", []specs.Mount{{Destination: "/tosys/kernel", Source: "tmpfs", Type: "tmpfs"}}, nil,
			"destination /proc/sys/kernel is inside /proc and the source is not a procfs"},
		{"proc on proc", []specs.Mount{{Destination: "/proc/sys/fs/binfmt_misc", Source: "proc", Type: "proc"}}, nil, ""},
		// CVE-2019-19921: the image's /proc is a link; procfs must not
		// follow it to where the /proc checks would not see it.
		{"proc through a link", nil, procLink, "proc mount destination /proc goes through a symbolic link (to /pp)"},
		// procfs mounted elsewhere: what is on it counts as inside /proc.
		{"attr on procfs elsewhere", []specs.Mount{
			{Destination: "/pp", Source: "proc", Type: "proc"},
			{Destination: "/pp/thread-self/attr", Source: "tmpfs", Type: "tmpfs"},
		}, func(t *testing.T, rootfs string) { mkdirs(t, filepath.Join(rootfs, "pp")) },
			"is inside /proc and the source is not a procfs"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBundle(t)
			writeFile(t, filepath.Join(b, "hostfile"), "host")
			if err := os.Symlink("/proc/sys", filepath.Join(b, "rootfs", "tosys")); err != nil {
				t.Fatal(err)
			}
			if c.setup != nil {
				c.setup(t, filepath.Join(b, "rootfs"))
			}
			spec := baseSpec()
			spec.Mounts = append(spec.Mounts, c.m...)
			rep := runChild(t, &childConfig{Spec: spec, Bundle: b})
			if c.want == "" && rep.Err != "" {
				t.Errorf("error %q, want none", rep.Err)
			}
			if c.want != "" && !strings.HasSuffix(rep.Err, c.want) {
				t.Errorf("error %q, want one ending %q", rep.Err, c.want)
			}
		})
	}
}

// TestSymlinkRace: while Prepare mounts 200 tmpfs under /evil, another
// thread keeps exchanging /evil, a directory, with a symbolic link to a
// host directory. Mounts may fail (the path changes under them), but none
// lands outside the root and nothing is created there.
func TestSymlinkRace(t *testing.T) {
	b := newBundle(t)
	rootfs := filepath.Join(b, "rootfs")
	outside := filepath.Join(t.TempDir(), "outside")
	// The link's target also exists inside the root, so that mounts go on
	// through both states of the race: each must land inside the root.
	mkdirs(t, outside, filepath.Join(rootfs, "evil"), filepath.Join(rootfs, outside))
	if err := os.Symlink(outside, filepath.Join(rootfs, "evil-link")); err != nil {
		t.Fatal(err)
	}
	spec := baseSpec()
	for i := range 200 {
		spec.Mounts = append(spec.Mounts, specs.Mount{Destination: "/evil/m" + strconv.Itoa(i), Source: "tmpfs", Type: "tmpfs"})
	}
	rep := runChild(t, &childConfig{Spec: spec, Bundle: b,
		RaceSwap: []string{filepath.Join(rootfs, "evil"), filepath.Join(rootfs, "evil-link")}})
	inside := 0
	for _, m := range rep.Pre {
		// The directory may be named evil or evil-link by now.
		if strings.HasPrefix(m.Mountpoint, rootfs+"/evil") || strings.HasPrefix(m.Mountpoint, filepath.Join(rootfs, outside)+"/m") {
			inside++
		}
	}
	t.Logf("%d exchanges, %d mounts made; Prepare/Finish: %q", rep.Swaps, inside, rep.Err)
	if rep.Swaps == 0 {
		t.Fatal("no exchange happened: the race was not run")
	}
	if rep.Err != "" && !strings.HasPrefix(rep.Err, "mount tmpfs on /evil/m") {
		t.Errorf("unexpected error %q", rep.Err)
	}
	if len(rep.Pre) == 0 {
		t.Fatal("no mount table reported")
	}
	for _, m := range rep.Pre {
		if strings.HasPrefix(m.Mountpoint, outside) {
			t.Errorf("mount escaped the root: %s", m.Mountpoint)
		}
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("created outside the root: %v", ents)
	}
}
