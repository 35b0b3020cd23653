package runtime_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// noNamespaces is a configuration that inherits every namespace of the
// runtime (config-linux.md "Namespaces"): its mounts land in the host's
// mount table, under the root filesystem.
func noNamespaces(s *specs.Spec) {
	s.Linux.Namespaces = nil
	s.Hostname = ""
	s.Domainname = ""
}

// hostMountsUnder lists the host's mount points at or under dir.
func hostMountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		t.Fatal(err)
	}
	var ps []string
	for _, m := range ms {
		ps = append(ps, m.Mountpoint)
	}
	return ps
}

func TestNoMountNamespace(t *testing.T) {
	e := newEnv(t)
	if err := os.WriteFile(filepath.Join(e.rootfs, "marker"), []byte("in the rootfs\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(filepath.Join(e.rootfs, "marker")) })
	hostMnt, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	if ps := hostMountsUnder(t, e.rootfs); len(ps) > 0 {
		t.Fatalf("mounts under the rootfs before the test: %v", ps)
	}
	// The host's root propagation is not the container's to change.
	rootProp := func() string {
		ms, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter("/"))
		if err != nil || len(ms) == 0 {
			t.Fatalf("mount of /: %v", err)
		}
		return ms[len(ms)-1].Optional
	}
	prop := rootProp()
	t.Cleanup(func() {
		// Whatever a failure left behind, so that TempDir can go.
		ps := hostMountsUnder(t, e.rootfs)
		sort.Slice(ps, func(i, j int) bool { return len(ps[i]) > len(ps[j]) })
		for _, p := range ps {
			unix.Unmount(p, unix.MNT_DETACH)
		}
	})
	t.Cleanup(func() {
		if p := rootProp(); p != prop {
			t.Errorf("propagation of / changed from %q to %q", prop, p)
		}
	})

	t.Run("run", func(t *testing.T) {
		e := e.sub(t)
		id := e.id("nomntns")
		b := e.bundle([]string{"sh", "-c", "readlink /proc/self/ns/mnt; cat /marker; ls -d /proc/1"}, noNamespaces)
		out := e.must("run", "--bundle", b, id)
		want := hostMnt + "\nin the rootfs\n/proc/1\n"
		if out != want {
			t.Errorf("stdout %q, want %q", out, want)
		}
		if ps := hostMountsUnder(t, e.rootfs); len(ps) > 0 {
			t.Errorf("mounts left on the host after run: %v", ps)
		}
	})

	t.Run("delete", func(t *testing.T) {
		e := e.sub(t)
		id := e.id("nomntns-d")
		b := e.bundle([]string{"sleep", "1000"}, func(s *specs.Spec) {
			noNamespaces(s)
			s.Root.Readonly = true
		})
		e.must("run", "-d", "--bundle", b, id)
		ps := hostMountsUnder(t, e.rootfs)
		joined := strings.Join(ps, "\n") + "\n"
		for _, p := range []string{"/proc", "/dev", "/sys"} {
			if !strings.Contains(joined, p+"\n") {
				t.Errorf("no mount %s under the rootfs on the host while running: %v", p, ps)
			}
		}
		e.must("delete", "--force", id)
		if ps := hostMountsUnder(t, e.rootfs); len(ps) > 0 {
			t.Errorf("mounts left on the host after delete: %v", ps)
		}
	})

	t.Run("failed create", func(t *testing.T) {
		e := e.sub(t)
		id := e.id("nomntns-f")
		// The last mount fails, after the others were made.
		b := e.bundle([]string{"true"}, func(s *specs.Spec) {
			noNamespaces(s)
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "nosuchfs", Source: "none"})
		})
		e.fails("mount none on /mnt", "create", "--bundle", b, id)
		if ps := hostMountsUnder(t, e.rootfs); len(ps) > 0 {
			t.Errorf("mounts left on the host after a failed create: %v", ps)
		}
	})
}
