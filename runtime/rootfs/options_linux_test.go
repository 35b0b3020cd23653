package rootfs

import (
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// specOptions is the table of config.md "Linux mount options".
var specOptions = []string{
	"async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "iversion", "lazytime",
	"loud", "mand", "noatime", "nodev", "nodiratime", "noexec", "noiversion", "nolazytime", "nomand",
	"norelatime", "nostrictatime", "nosuid", "nosymfollow", "private", "ratime", "rbind", "rdev",
	"rdiratime", "relatime", "remount", "rexec", "rnoatime", "rnodiratime", "rnoexec", "rnorelatime",
	"rnostrictatime", "rnosuid", "rnosymfollow", "ro", "rprivate", "rrelatime", "rro", "rrw", "rshared",
	"rslave", "rstrictatime", "rsuid", "rsymfollow", "runbindable", "rw", "shared", "silent", "slave",
	"strictatime", "suid", "symfollow", "sync", "tmpcopyup", "unbindable", "idmap", "ridmap",
}

func TestMountOptions(t *testing.T) {
	got := MountOptions()
	for _, o := range specOptions {
		if !slices.Contains(got, o) {
			t.Errorf("MountOptions lacks %s", o)
		}
	}
	if !slices.IsSorted(got) {
		t.Error("MountOptions is not sorted")
	}
	// Every option listed is understood: none ends up as data.
	for _, o := range got {
		p, err := parseOptions([]string{o})
		if err != nil || len(p.data) != 0 {
			t.Errorf("option %s: parsed as %+v, %v", o, p, err)
		}
	}
}

func TestParseOptions(t *testing.T) {
	for _, c := range []struct {
		name     string
		opts     []string
		flags    uintptr
		clear    uintptr
		prop     []uintptr
		set, clr uint64
		data     string
	}{
		{name: "empty"},
		{name: "bind ro", opts: []string{"bind", "ro"}, flags: unix.MS_BIND | unix.MS_RDONLY},
		{name: "rbind", opts: []string{"rbind"}, flags: unix.MS_BIND | unix.MS_REC},
		{name: "ro then rw", opts: []string{"ro", "rw"}, clear: unix.MS_RDONLY},
		{name: "rw then ro", opts: []string{"rw", "ro"}, flags: unix.MS_RDONLY},
		{name: "atime last wins", opts: []string{"noatime", "relatime", "strictatime"}, flags: unix.MS_STRICTATIME},
		{name: "security", opts: []string{"nosuid", "nodev", "noexec"}, flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
		{name: "sync family", opts: []string{"sync", "dirsync", "mand", "remount", "silent", "lazytime", "iversion"},
			flags: unix.MS_SYNCHRONOUS | unix.MS_DIRSYNC | unix.MS_MANDLOCK | unix.MS_REMOUNT | unix.MS_SILENT | unix.MS_LAZYTIME | unix.MS_I_VERSION},
		{name: "clears", opts: []string{"suid", "dev", "exec", "async", "atime", "diratime", "loud", "symfollow"},
			clear: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_SYNCHRONOUS | unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_SILENT | unix.MS_NOSYMFOLLOW},
		{name: "propagation in order", opts: []string{"rshared", "private", "slave", "runbindable"},
			prop: []uintptr{unix.MS_SHARED | unix.MS_REC, unix.MS_PRIVATE, unix.MS_SLAVE, unix.MS_UNBINDABLE | unix.MS_REC}},
		{name: "recursive", opts: []string{"rro", "rnosuid", "rnodev", "rnoexec", "rnosymfollow", "rnodiratime"},
			set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC | unix.MOUNT_ATTR_NOSYMFOLLOW | unix.MOUNT_ATTR_NODIRATIME},
		{name: "recursive clears", opts: []string{"rro", "rrw", "rsuid"}, clr: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID},
		{name: "recursive atime", opts: []string{"rnoatime"}, set: unix.MOUNT_ATTR_NOATIME, clr: unix.MOUNT_ATTR__ATIME},
		{name: "recursive atime last wins", opts: []string{"rnoatime", "rstrictatime"}, set: unix.MOUNT_ATTR_STRICTATIME, clr: unix.MOUNT_ATTR__ATIME},
		{name: "recursive relatime", opts: []string{"rrelatime"}, set: unix.MOUNT_ATTR_RELATIME, clr: unix.MOUNT_ATTR__ATIME},
		{name: "data", opts: []string{"mode=755", "nosuid", "size=64k", "newinstance"}, flags: unix.MS_NOSUID, data: "mode=755,size=64k,newinstance"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o, err := parseOptions(c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if o.flags != c.flags || o.clear != c.clear {
				t.Errorf("flags %#x clear %#x, want %#x %#x", o.flags, o.clear, c.flags, c.clear)
			}
			if !slices.Equal(o.propagation, c.prop) {
				t.Errorf("propagation %#x, want %#x", o.propagation, c.prop)
			}
			if o.recAttr.Attr_set != c.set || o.recAttr.Attr_clr != c.clr {
				t.Errorf("recursive set %#x clear %#x, want %#x %#x", o.recAttr.Attr_set, o.recAttr.Attr_clr, c.set, c.clr)
			}
			if o.dataString() != c.data {
				t.Errorf("data %q, want %q", o.dataString(), c.data)
			}
		})
	}
	if _, err := parseOptions([]string{"ro", ""}); err == nil {
		t.Error("an empty option was accepted")
	}
}

// FuzzParseOptions: any option list parses without panic, and the mount
// attributes it yields are a valid mount_setattr request (a partial
// MOUNT_ATTR__ATIME in attr_clr is EINVAL).
func FuzzParseOptions(f *testing.F) {
	f.Add("rbind,rro,rnoatime,mode=755")
	f.Add("ro,rw,ratime,rnostrictatime,shared")
	f.Fuzz(func(t *testing.T, s string) {
		var opts []string
		start := 0
		for i := 0; i <= len(s); i++ {
			if i == len(s) || s[i] == ',' {
				opts = append(opts, s[start:i])
				start = i + 1
			}
		}
		o, err := parseOptions(opts)
		if err != nil {
			return
		}
		if c := o.recAttr.Attr_clr & unix.MOUNT_ATTR__ATIME; c != 0 && c != unix.MOUNT_ATTR__ATIME {
			t.Errorf("partial atime clear %#x", c)
		}
		if o.recAttr.Attr_set&unix.MOUNT_ATTR__ATIME != 0 && o.recAttr.Attr_clr&unix.MOUNT_ATTR__ATIME == 0 {
			t.Errorf("atime set without clear: %+v", o.recAttr)
		}
	})
}

func TestWithLabel(t *testing.T) {
	const l = "system_u:object_r:container_file_t:s0:c1,c2"
	for _, c := range []struct {
		data, fstype, label, want string
	}{
		{"mode=755", "tmpfs", l, `mode=755,context="` + l + `"`},
		{"", "mqueue", l, `context="` + l + `"`},
		{"", "proc", l, ""},
		{"", "sysfs", l, ""},
		{"mode=755", "tmpfs", "", "mode=755"},
	} {
		if got := withLabel(c.data, c.fstype, c.label); got != c.want {
			t.Errorf("withLabel(%q, %q): %q, want %q", c.data, c.fstype, got, c.want)
		}
	}
}
