package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestReadonlyDevAndBindType: a read-only /dev tmpfs still gets its
// devices (it is made read-only by Finish); a mount of type "bind" without
// a bind option is an rbind; a bind onto /dev means no default devices.
func TestReadonlyDevAndBindType(t *testing.T) {
	b := newBundle(t)
	mkdirs(t, filepath.Join(b, "src", "sub"), filepath.Join(b, "hostdev"))
	writeFile(t, filepath.Join(b, "src", "f"), "f")
	spec := baseSpec()
	for i := range spec.Mounts {
		if spec.Mounts[i].Destination == "/dev" {
			spec.Mounts[i].Options = append(spec.Mounts[i].Options, "ro")
		}
	}
	spec.Mounts = append(spec.Mounts, specs.Mount{Destination: "/typed", Source: "src", Type: "bind"})
	rep := runChild(t, &childConfig{Spec: spec, Bundle: b, Tmpfs: []string{filepath.Join(b, "src", "sub")},
		Stat: []string{"/dev/null", "/typed/f"}, Write: []string{"/dev/probe"}})
	if rep.Err != "" {
		t.Fatalf("prepare/finish: %s", rep.Err)
	}
	if st := rep.Stat["/dev/null"]; st.Mode&unix.S_IFMT != unix.S_IFCHR {
		t.Errorf("/dev/null: mode %o, want a device", st.Mode)
	}
	if m := mountAt(rep.Mounts, "/dev"); m == nil || !hasOpt(m.Options, "ro") {
		t.Errorf("/dev: %+v, want read-only", m)
	}
	if rep.Write["/dev/probe"] != "read-only file system" {
		t.Errorf("write /dev/probe: %q", rep.Write["/dev/probe"])
	}
	if !rep.Stat["/typed/f"].Exists || mountAt(rep.Mounts, "/typed/sub") == nil {
		t.Error("type bind did not rbind src")
	}

	t.Run("dev bind", func(t *testing.T) {
		b := newBundle(t)
		mkdirs(t, filepath.Join(b, "hostdev"))
		spec := baseSpec()
		spec.Mounts = []specs.Mount{
			{Destination: "/proc", Source: "proc", Type: "proc"},
			{Destination: "/dev", Source: filepath.Join(b, "hostdev"), Options: []string{"rbind"}},
		}
		rep := runChild(t, &childConfig{Spec: spec, Bundle: b, Stat: []string{"/dev/null", "/dev/ptmx"}})
		if rep.Err != "" {
			t.Fatalf("prepare/finish: %s", rep.Err)
		}
		if rep.Stat["/dev/null"].Exists || rep.Stat["/dev/ptmx"].Exists {
			t.Error("devices created in a /dev bound from the host")
		}
	})
}

// TestConfigErrors: bad mounts and devices fail Prepare with one line
// naming the object.
func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		mounts []specs.Mount
		devs   []specs.LinuxDevice
		want   string
	}{
		{"unknown filesystem", []specs.Mount{{Destination: "/x", Source: "nosuchfs", Type: "nosuchfs"}}, nil,
			"mount nosuchfs on /x: no such device"},
		{"missing bind source", []specs.Mount{{Destination: "/x", Source: "/nonexistent/src", Options: []string{"bind"}}}, nil,
			"mount /nonexistent/src on /x: no such file or directory"},
		{"bad tmpfs option", []specs.Mount{{Destination: "/x", Source: "tmpfs", Type: "tmpfs", Options: []string{"bogus=1"}}}, nil,
			"mount tmpfs on /x: invalid argument"},
		{"tmpcopyup on a bind", []specs.Mount{{Destination: "/x", Source: "/tmp", Options: []string{"bind", "tmpcopyup"}}}, nil,
			"mount /tmp on /x: option tmpcopyup needs a tmpfs mount"},
		{"empty option", []specs.Mount{{Destination: "/x", Source: "tmpfs", Type: "tmpfs", Options: []string{""}}}, nil,
			"mount tmpfs on /x: empty option"},
		{"device over a file", nil, []specs.LinuxDevice{{Path: "/etc/passwd", Type: "c", Major: 1, Minor: 3}},
			"device /etc/passwd: a file that is not this device exists there"},
		{"device type", nil, []specs.LinuxDevice{{Path: "/dev/x", Type: "q"}},
			`device /dev/x: type "q": not one of c, b, u, p`},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBundle(t)
			spec := baseSpec()
			spec.Mounts = append(spec.Mounts, c.mounts...)
			spec.Linux.Devices = c.devs
			rep := runChild(t, &childConfig{Spec: spec, Bundle: b})
			if rep.Err != c.want {
				t.Errorf("error %q, want %q", rep.Err, c.want)
			}
		})
	}
}

// TestRelativeDestination: a relative destination (deprecated) is relative
// to "/".
func TestRelativeDestination(t *testing.T) {
	b := newBundle(t)
	spec := baseSpec()
	spec.Mounts = append(spec.Mounts, specs.Mount{Destination: "rel/dir", Source: "tmpfs", Type: "tmpfs"})
	rep := runChild(t, &childConfig{Spec: spec, Bundle: b})
	if rep.Err != "" {
		t.Fatalf("prepare/finish: %s", rep.Err)
	}
	if m := mountAt(rep.Mounts, "/rel/dir"); m == nil || m.FSType != "tmpfs" {
		t.Errorf("/rel/dir: %+v, want a tmpfs", m)
	}
}

// absentIn finds the directory of a destination that is plainly missing,
// and leaves every other case (a dangling link, a missing parent, a file
// in the way) to resolve's SecureJoin walk.
func TestAbsentIn(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"etc", "file"} {
		if p == "etc" {
			os.Mkdir(filepath.Join(dir, p), 0o755)
		} else {
			os.WriteFile(filepath.Join(dir, p), nil, 0o644)
		}
	}
	os.Symlink("/nowhere/x", filepath.Join(dir, "etc", "dangling"))
	os.Symlink("etc", filepath.Join(dir, "link"))
	r, err := openRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tests := []struct {
		dest string
		want string // the parent's real path inside dir; "" for nil
	}{
		{"/etc/missing", "/etc"},
		{"/link/missing", "/etc"},
		{"/missing", "/"},
		{"/etc/dangling", ""},
		{"/nodir/missing", ""},
		{"/file/missing", ""},
		{"/etc", ""},
	}
	for _, tt := range tests {
		f := r.absentIn(tt.dest)
		got := ""
		if f != nil {
			real, err := os.Readlink(fdPath(f))
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			got = "/" + strings.TrimPrefix(strings.TrimPrefix(real, dir), "/")
		}
		if got != tt.want {
			t.Errorf("absentIn(%q) = %q, want %q", tt.dest, got, tt.want)
		}
	}
}
