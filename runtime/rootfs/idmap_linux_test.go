package rootfs

import (
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestIDMappedMount: files owned by 0 and 5 on disk appear as 1000 and 1005
// through a mount idmapped with containerID 0 -> hostID 1000 (size 100), as
// with runc and crun: the container's user namespace would map 1000 back to
// its root. ridmap reaches the submount of an rbind, idmap does not. Both ways of making the mount are
// run: inside Prepare, and by OpenMountSource as Prepare asks for it.
func TestIDMappedMount(t *testing.T) {
	for _, viaFds := range []bool{false, true} {
		name := "in-prepare"
		if viaFds {
			name = "OpenMountSource"
		}
		t.Run(name, func(t *testing.T) {
			b := newBundle(t)
			requireIDMap(t, b)
			src := filepath.Join(b, "idsrc")
			writeFile(t, filepath.Join(src, "a"), "a")
			writeFile(t, filepath.Join(src, "b"), "b")
			mkdirs(t, filepath.Join(src, "sub"))
			for p, id := range map[string]int{"a": 0, "b": 5, "": 0} {
				if err := os.Chown(filepath.Join(src, p), id, id); err != nil {
					t.Fatal(err)
				}
			}
			maps := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 100}}
			spec := baseSpec()
			spec.Mounts = append(spec.Mounts,
				specs.Mount{Destination: "/idm", Source: src, Type: "bind", Options: []string{"rbind", "idmap"},
					UIDMappings: maps, GIDMappings: maps},
				specs.Mount{Destination: "/ridm", Source: src, Type: "bind", Options: []string{"rbind", "ridmap", "ro"},
					UIDMappings: maps, GIDMappings: maps},
			)
			rep := runChild(t, &childConfig{Spec: spec, Bundle: b, OpenSources: viaFds,
				// A tmpfs inside the source: the submount.
				Tmpfs: []string{filepath.Join(src, "sub")},
				Stat:  []string{"/idm/a", "/idm/b", "/idm", "/idm/sub", "/ridm/a", "/ridm/sub"},
				Write: []string{"/ridm/probe"},
			})
			if rep.Err != "" {
				t.Fatalf("prepare/finish: %s", rep.Err)
			}
			for p, want := range map[string]uint32{"/idm/a": 1000, "/idm/b": 1005, "/idm": 1000, "/ridm/a": 1000,
				// The submount (a tmpfs owned by 0) is mapped by ridmap
				// only.
				"/ridm/sub": 1000, "/idm/sub": 0} {
				st := rep.Stat[p]
				if !st.Exists || st.UID != want || st.GID != want {
					t.Errorf("%s: owner %d:%d (exists %v), want %d:%d", p, st.UID, st.GID, st.Exists, want, want)
				}
			}
			if got := rep.Write["/ridm/probe"]; got != "read-only file system" {
				t.Errorf("write /ridm/probe: %q, want read-only file system", got)
			}
		})
	}
}

// TestIDMapErrors: invalid idmap configurations are refused by
// OpenMountSource before anything is opened (Prepare, checking the same
// before it asks, names the mount).
func TestIDMapErrors(t *testing.T) {
	maps := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
	for _, c := range []struct {
		name string
		m    specs.Mount
		want string
	}{
		{"no mappings, no userns", specs.Mount{Destination: "/x", Source: "/tmp", Options: []string{"bind", "idmap"}},
			"option idmap without uidMappings needs a user namespace"},
		{"not a bind", specs.Mount{Destination: "/x", Source: "tmpfs", Type: "tmpfs", Options: []string{"idmap"}, UIDMappings: maps, GIDMappings: maps},
			"option idmap needs a bind mount"},
		{"uid only", specs.Mount{Destination: "/x", Source: "/tmp", Options: []string{"bind", "idmap"}, UIDMappings: maps},
			"uidMappings and gidMappings must be given together"},
		{"both", specs.Mount{Destination: "/x", Source: "/tmp", Options: []string{"bind", "idmap", "ridmap"}, UIDMappings: maps, GIDMappings: maps},
			"options idmap and ridmap are exclusive"},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec := baseSpec()
			spec.Mounts = []specs.Mount{c.m}
			_, err := OpenMountSource(spec, "/", 0, selfMountNS(t))
			if err == nil || err.Error() != c.want {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}

// requireIDMap skips unless this kernel and the filesystem of dir support
// idmapped mounts (Linux 5.12; ext4, xfs, btrfs, tmpfs 6.3, ...). The probe
// makes a detached mount only.
func requireIDMap(t *testing.T, dir string) {
	t.Helper()
	maps := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
	spec := &specs.Spec{Mounts: []specs.Mount{{Destination: "/x", Source: dir, Options: []string{"bind", "idmap"},
		UIDMappings: maps, GIDMappings: maps}}}
	f, err := OpenMountSource(spec, "/", 0, selfMountNS(t))
	if err != nil {
		t.Skipf("idmapped mounts not supported here: %v", err)
	}
	f.Close()
}

// selfMountNS is a handle on this process's mount namespace.
func selfMountNS(t *testing.T) *os.File {
	t.Helper()
	f, err := os.Open("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
