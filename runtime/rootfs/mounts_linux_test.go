package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestTmpfsKeepsDirMode: a tmpfs over an existing directory takes that
// directory's mode, setuid/setgid/sticky bits included, unless the options
// say mode=; over a directory made for it, the kernel's 1777 (runc 1.1.5
// gives 3750, 0700, 1777 and the mode= asked in the same cases). With
// tmpcopyup the same, and the root stays root's: the copy brings the
// directory's contents, not its mode or owner (podman's --tmpfs
// /d:mode=1770 passes tmpcopyup, and runc and crun give 1770 there; crun
// gives 1770 and root:root for /cuasked, runc 1.1.5, which chmods every
// tmpfs to its directory's mode afterwards, 0750).
func TestTmpfsKeepsDirMode(t *testing.T) {
	b := newBundle(t)
	rootfs := filepath.Join(b, "rootfs")
	for dir, mode := range map[string]os.FileMode{"sgid": 0o750 | os.ModeSetgid | os.ModeSticky,
		"private": 0o700, "suid": 0o755 | os.ModeSetuid, "asked": 0o700,
		"cu": 0o750 | os.ModeSetgid, "cuasked": 0o750} {
		mkdirs(t, filepath.Join(rootfs, dir))
		if err := os.Chmod(filepath.Join(rootfs, dir), mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, dir := range []string{"cu", "cuasked"} {
		if err := os.Chown(filepath.Join(rootfs, dir), 1000, 1000); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(rootfs, "cu", "f"), []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}
	spec := baseSpec()
	spec.Mounts = append(spec.Mounts,
		specs.Mount{Destination: "/sgid", Source: "tmpfs", Type: "tmpfs", Options: []string{"nosuid"}},
		specs.Mount{Destination: "/private", Source: "tmpfs", Type: "tmpfs", Options: []string{"size=1m"}},
		specs.Mount{Destination: "/suid", Source: "tmpfs", Type: "tmpfs"},
		specs.Mount{Destination: "/asked", Source: "tmpfs", Type: "tmpfs", Options: []string{"mode=1733"}},
		specs.Mount{Destination: "/new/dir", Source: "tmpfs", Type: "tmpfs"},
		specs.Mount{Destination: "/cu", Source: "tmpfs", Type: "tmpfs", Options: []string{"tmpcopyup"}},
		specs.Mount{Destination: "/cuasked", Source: "tmpfs", Type: "tmpfs", Options: []string{"tmpcopyup", "mode=1770"}},
		specs.Mount{Destination: "/new/cu", Source: "tmpfs", Type: "tmpfs", Options: []string{"mode=1770", "tmpcopyup"}},
	)
	paths := []string{"/sgid", "/private", "/suid", "/asked", "/new/dir", "/cu", "/cuasked", "/new/cu"}
	rep := runChild(t, &childConfig{Spec: spec, Bundle: b, Stat: append(paths, "/cu/f")})
	if rep.Err != "" {
		t.Fatalf("prepare/finish: %s", rep.Err)
	}
	want := map[string]uint32{"/sgid": 0o3750, "/private": 0o700, "/suid": 0o4755, "/asked": 0o1733, "/new/dir": 0o1777,
		"/cu": 0o2750, "/cuasked": 0o1770, "/new/cu": 0o1770}
	for _, p := range paths {
		st := rep.Stat[p]
		if got := st.Mode & 0o7777; got != want[p] {
			t.Errorf("%s: mode %04o, want %04o", p, got, want[p])
		}
		if st.UID != 0 || st.GID != 0 {
			t.Errorf("%s: owner %d:%d, want 0:0", p, st.UID, st.GID)
		}
		if m := mountAt(rep.Mounts, p); m == nil || m.FSType != "tmpfs" {
			t.Errorf("%s: no tmpfs there", p)
		}
	}
	if f := rep.Stat["/cu/f"]; !f.Exists || f.Mode&0o7777 != 0o640 {
		t.Errorf("/cu/f: %+v, want the copied file, mode 0640", f)
	}
}

// TestBindFlags: a bind whose options name per-mount flags gets exactly
// those; what the source has and the options do not name (ro, nosuid,
// nodev, noexec) is not carried over; without any flag named the bind
// keeps the source's; the atime mode stays unless one is named (the
// kernel's default for a remount). runc 1.1.5 gives the same, except that
// it leaves a bind with only "rw" read-only (it remounts only for a flag
// set); current runc remounts for a cleared flag too, as here.
func TestBindFlags(t *testing.T) {
	b := newBundle(t)
	src := filepath.Join(b, "src")
	spec := baseSpec()
	cases := map[string]struct {
		opts []string
		want string // the per-mount options of the bind, in mountinfo's order
	}{
		"/none":   {[]string{"bind"}, "ro,nosuid,nodev,noexec,noatime"},
		"/nodev":  {[]string{"bind", "nodev"}, "rw,nodev,noatime"},
		"/rw":     {[]string{"rbind", "rw"}, "rw,noatime"},
		"/ro":     {[]string{"bind", "ro"}, "ro,noatime"},
		"/strict": {[]string{"bind", "strictatime", "nosuid"}, "rw,nosuid"},
		"/rel":    {[]string{"bind", "relatime", "noexec"}, "rw,noexec,relatime"},
	}
	for dest, c := range cases {
		spec.Mounts = append(spec.Mounts, specs.Mount{Destination: dest, Source: src, Type: "bind", Options: c.opts})
	}
	rep := runChild(t, &childConfig{Spec: spec, Bundle: b, Flagged: []string{src}})
	if rep.Err != "" {
		t.Fatalf("prepare/finish: %s", rep.Err)
	}
	for dest, c := range cases {
		m := mountAt(rep.Mounts, dest)
		if m == nil {
			t.Errorf("%s: not mounted", dest)
			continue
		}
		if m.Options != c.want {
			t.Errorf("%s (%s): options %s, want %s", dest, strings.Join(c.opts, ","), m.Options, c.want)
		}
	}
}

// TestBindFlagsLocked: in a user namespace, the flags the kernel locked on
// a source mount (nosuid,nodev here, and the atime mode) are kept when the
// options do not name them, as runc does; options that clear a locked
// flag cannot be honoured and fail naming the mount.
func TestBindFlagsLocked(t *testing.T) {
	b := newBundle(t)
	locked := filepath.Join(b, "locked")
	mkdirs(t, locked)
	spec := baseSpec()
	spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	spec.Mounts = append(spec.Mounts,
		specs.Mount{Destination: "/noexec", Source: locked, Type: "bind", Options: []string{"rbind", "noexec"}},
		specs.Mount{Destination: "/rel", Source: locked, Type: "bind", Options: []string{"rbind", "relatime", "ro"}},
	)
	rep := runChild(t, &childConfig{Spec: spec, Bundle: b, UserNS: true, Locked: []string{locked}})
	if rep.Err != "" {
		t.Fatalf("prepare/finish: %s", rep.Err)
	}
	for dest, want := range map[string]string{"/noexec": "rw,nosuid,nodev,noexec,relatime", "/rel": "ro,nosuid,nodev,relatime"} {
		if m := mountAt(rep.Mounts, dest); m == nil || m.Options != want {
			t.Errorf("%s: %+v, want options %s", dest, m, want)
		}
	}

	for _, opt := range []string{"suid", "noatime"} {
		spec := baseSpec()
		spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		spec.Mounts = append(spec.Mounts, specs.Mount{Destination: "/x", Source: locked, Type: "bind", Options: []string{"rbind", opt}})
		rep := runChild(t, &childConfig{Spec: spec, Bundle: b, UserNS: true, Locked: []string{locked}})
		if want := "mount " + locked + " on /x: remount: operation not permitted"; rep.Err != want {
			t.Errorf("bind %s of a locked nosuid,relatime mount: error %q, want %q", opt, rep.Err, want)
		}
	}
}
