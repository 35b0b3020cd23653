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
// gives 3750, 0700, 1777 and the mode= asked in the same cases).
func TestTmpfsKeepsDirMode(t *testing.T) {
	b := newBundle(t)
	rootfs := filepath.Join(b, "rootfs")
	for dir, mode := range map[string]os.FileMode{"sgid": 0o750 | os.ModeSetgid | os.ModeSticky,
		"private": 0o700, "suid": 0o755 | os.ModeSetuid, "asked": 0o700} {
		mkdirs(t, filepath.Join(rootfs, dir))
		if err := os.Chmod(filepath.Join(rootfs, dir), mode); err != nil {
			t.Fatal(err)
		}
	}
	spec := baseSpec()
	spec.Mounts = append(spec.Mounts,
		specs.Mount{Destination: "/sgid", Source: "tmpfs", Type: "tmpfs", Options: []string{"nosuid"}},
		specs.Mount{Destination: "/private", Source: "tmpfs", Type: "tmpfs", Options: []string{"size=1m"}},
		specs.Mount{Destination: "/suid", Source: "tmpfs", Type: "tmpfs"},
		specs.Mount{Destination: "/asked", Source: "tmpfs", Type: "tmpfs", Options: []string{"mode=1733"}},
		specs.Mount{Destination: "/new/dir", Source: "tmpfs", Type: "tmpfs"},
	)
	rep := runChild(t, &childConfig{Spec: spec, Bundle: b, Stat: []string{"/sgid", "/private", "/suid", "/asked", "/new/dir"}})
	if rep.Err != "" {
		t.Fatalf("prepare/finish: %s", rep.Err)
	}
	for p, want := range map[string]uint32{"/sgid": 0o3750, "/private": 0o700, "/suid": 0o4755, "/asked": 0o1733, "/new/dir": 0o1777} {
		if got := rep.Stat[p].Mode & 0o7777; got != want {
			t.Errorf("%s: mode %04o, want %04o", p, got, want)
		}
		if m := mountAt(rep.Mounts, p); m == nil || m.FSType != "tmpfs" {
			t.Errorf("%s: no tmpfs there", p)
		}
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
