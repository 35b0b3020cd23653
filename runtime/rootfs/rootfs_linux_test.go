package rootfs

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/runtime/defaults"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func fileMode(m os.FileMode) *os.FileMode { return &m }
func u32(v uint32) *uint32                { return &v }

func baseSpec() *specs.Spec {
	return &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: "rootfs"},
		Mounts:  defaults.Mounts(),
		Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{
			{Type: specs.MountNamespace}, {Type: specs.PIDNamespace},
		}},
	}
}

func mkdirs(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	mkdirs(t, filepath.Dir(p))
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// openPty returns the path of a fresh pty slave.
func openPty(t *testing.T) string {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	return "/dev/pts/" + strconv.Itoa(n)
}

// TestPrepareFinish runs a full container set-up: the default mounts plus
// mounts exercising every kind of option, devices, a console, masked and
// read-only paths and a read-only root, and checks each took effect.
func TestPrepareFinish(t *testing.T) {
	b := newBundle(t)
	rootfs := filepath.Join(b, "rootfs")
	writeFile(t, filepath.Join(b, "data", "file"), "hello")
	writeFile(t, filepath.Join(b, "hostfile"), "file content")
	mkdirs(t, filepath.Join(b, "rsrc"), filepath.Join(b, "shsrc"), filepath.Join(rootfs, "etc", "secret-dir"))
	writeFile(t, filepath.Join(rootfs, "etc", "secret-dir", "key"), "secret")
	writeFile(t, filepath.Join(rootfs, "etc", "secret-file"), "secret")
	writeFile(t, filepath.Join(rootfs, "copy", "sub", "f"), "copied")
	if err := os.Symlink("sub/f", filepath.Join(rootfs, "copy", "link")); err != nil {
		t.Fatal(err)
	}
	console := openPty(t)

	spec := baseSpec()
	spec.Root.Readonly = true
	spec.Process = &specs.Process{Terminal: true}
	spec.Mounts = append(spec.Mounts,
		specs.Mount{Destination: "/data", Source: "data", Type: "bind", Options: []string{"bind", "ro", "nosuid", "nodev"}},
		specs.Mount{Destination: "/etc/hostfile", Source: filepath.Join(b, "hostfile"), Type: "none", Options: []string{"bind"}},
		specs.Mount{Destination: "/etc/new/hostfile-ro", Source: filepath.Join(b, "hostfile"), Type: "none", Options: []string{"bind", "ro"}},
		specs.Mount{Destination: "/rdata", Source: filepath.Join(b, "rsrc"), Type: "none", Options: []string{"rbind", "rro"}},
		specs.Mount{Destination: "/rdata2", Source: filepath.Join(b, "rsrc"), Type: "none", Options: []string{"rbind", "ro"}},
		specs.Mount{Destination: "/rdata3", Source: filepath.Join(b, "rsrc"), Type: "none", Options: []string{"rbind", "rnosuid", "rnodev", "rnoexec", "rnoatime", "rnodiratime"}},
		specs.Mount{Destination: "/tmp", Source: "tmpfs", Type: "tmpfs", Options: []string{"nosuid", "nodev", "noexec", "noatime", "mode=1777", "size=1m"}},
		specs.Mount{Destination: "/t/strict", Source: "tmpfs", Type: "tmpfs", Options: []string{"strictatime"}},
		specs.Mount{Destination: "/t/rel", Source: "tmpfs", Type: "tmpfs", Options: []string{"relatime", "nodiratime", "nosymfollow"}},
		specs.Mount{Destination: "/t/sync", Source: "tmpfs", Type: "tmpfs", Options: []string{"sync", "dirsync", "mand", "lazytime", "silent", "defaults"}},
		specs.Mount{Destination: "/t/remount", Source: "tmpfs", Type: "tmpfs"},
		specs.Mount{Destination: "/t/remount", Source: "tmpfs", Type: "tmpfs", Options: []string{"remount", "ro", "nosuid"}},
		specs.Mount{Destination: "/t/bremount", Source: "tmpfs", Type: "tmpfs", Options: []string{"nodev"}},
		specs.Mount{Destination: "/t/bremount", Type: "none", Options: []string{"bind", "remount", "ro"}},
		specs.Mount{Destination: "/t/shared", Source: "tmpfs", Type: "tmpfs", Options: []string{"shared"}},
		specs.Mount{Destination: "/t/rshared", Source: "tmpfs", Type: "tmpfs", Options: []string{"rshared"}},
		specs.Mount{Destination: "/t/unbindable", Source: "tmpfs", Type: "tmpfs", Options: []string{"runbindable"}},
		specs.Mount{Destination: "/t/private", Source: "tmpfs", Type: "tmpfs", Options: []string{"shared", "private"}},
		specs.Mount{Destination: "/t/slave", Source: filepath.Join(b, "shsrc"), Type: "none", Options: []string{"rbind", "rslave"}},
		specs.Mount{Destination: "/t/bindslave", Source: filepath.Join(b, "shsrc"), Type: "none", Options: []string{"rbind"}},
		specs.Mount{Destination: "/rwt", Source: "tmpfs", Type: "tmpfs"},
		specs.Mount{Destination: "/copy", Source: "tmpfs", Type: "tmpfs", Options: []string{"tmpcopyup", "ro"}},
	)
	spec.Linux.Devices = []specs.LinuxDevice{
		{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: fileMode(0o640), UID: u32(1000), GID: u32(1001)},
		{Path: "/dev/loopx", Type: "b", Major: 7, Minor: 0, FileMode: fileMode(0o600)},
		{Path: "/dev/myfifo", Type: "p", FileMode: fileMode(0o620)},
		{Path: "/dev/unbuf", Type: "u", Major: 1, Minor: 3},
		{Path: "/opt/devs/null2", Type: "c", Major: 1, Minor: 3, FileMode: fileMode(0o666)},
		{Path: "/dev/ptmx", Type: "c", Major: 5, Minor: 2, FileMode: fileMode(0o666)}, // stays the link to pts/ptmx
	}
	spec.Linux.MaskedPaths = append(defaults.MaskedPaths(), "/etc/secret-dir", "/etc/secret-file", "/nonexistent")
	spec.Linux.ReadonlyPaths = append(defaults.ReadonlyPaths(), "/rwt", "/nonexistent2")

	rep := runChild(t, &childConfig{
		Spec: spec, Bundle: b, Console: console,
		Tmpfs:       []string{filepath.Join(b, "rsrc"), filepath.Join(b, "rsrc", "sub")},
		OuterShared: []string{filepath.Join(b, "shsrc")},
		Stat: []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty",
			"/dev/console", "/dev/ptmx", "/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr",
			"/dev/fuse", "/dev/loopx", "/dev/myfifo", "/dev/unbuf", "/opt/devs/null2", "/etc/hostfile",
			"/copy/sub/f", "/copy/link", "/dev/core"},
		Write: []string{"/etc/probe", "/tmp/probe", "/rwt/probe", "/data/probe", "/rdata/probe",
			"/rdata2/probe", "/rdata3/probe", "/t/remount/probe", "/t/bremount/probe", "/etc/hostfile", "/etc/new/hostfile-ro", "/proc/sys/kernel/hostname", "/copy/probe",
			"/rdata/sub/probe", "/rdata2/sub/probe"},
		Read: []string{"/data/file", "/etc/hostfile", "/etc/new/hostfile-ro", "/proc/timer_list", "/etc/secret-file", "/copy/sub/f"},
		List: []string{"/etc/secret-dir", "/sys/fs/cgroup"},
	})
	if rep.Err != "" {
		t.Fatalf("prepare/finish: %s", rep.Err)
	}
	ms := rep.Mounts

	t.Run("mounts", func(t *testing.T) {
		for _, c := range []struct {
			at, fstype string
			opts       []string // per-mount options that must be set
			absent     []string // per-mount options that must not be set
			super      []string // super options that must be set
		}{
			{"/", "ext4", []string{"ro"}, nil, nil},
			{"/proc", "proc", []string{"rw", "nosuid", "nodev", "noexec"}, nil, nil},
			{"/dev", "tmpfs", []string{"nosuid"}, []string{"relatime", "noatime"}, []string{"mode=755", "size=65536k"}},
			{"/dev/pts", "devpts", []string{"nosuid", "noexec"}, nil, []string{"ptmxmode=666", "mode=620", "gid=5"}},
			{"/dev/shm", "tmpfs", []string{"nosuid", "nodev", "noexec"}, nil, []string{"size=65536k"}},
			{"/dev/mqueue", "mqueue", []string{"nosuid", "nodev", "noexec"}, nil, nil},
			{"/sys", "sysfs", []string{"ro", "nosuid", "nodev", "noexec"}, nil, nil},
			{"/sys/fs/cgroup", "tmpfs", []string{"ro", "nosuid", "nodev", "noexec"}, nil, nil},
			{"/data", "ext4", []string{"ro", "nosuid", "nodev"}, nil, nil},
			{"/etc/hostfile", "ext4", []string{"rw"}, nil, nil},
			{"/etc/new/hostfile-ro", "ext4", []string{"ro"}, nil, nil},
			{"/rdata", "tmpfs", []string{"ro"}, nil, nil},
			{"/rdata2", "tmpfs", []string{"ro"}, nil, nil},
			{"/rdata3", "tmpfs", []string{"nosuid", "nodev", "noexec", "noatime", "nodiratime"}, nil, nil},
			{"/tmp", "tmpfs", []string{"rw", "nosuid", "nodev", "noexec", "noatime"}, nil, []string{"size=1024k"}},
			{"/t/strict", "tmpfs", nil, []string{"relatime", "noatime"}, nil},
			{"/t/rel", "tmpfs", []string{"relatime", "nodiratime", "nosymfollow"}, nil, nil},
			{"/t/sync", "tmpfs", nil, nil, []string{"sync", "dirsync", "lazytime"}},
			{"/t/remount", "tmpfs", []string{"ro", "nosuid"}, nil, []string{"ro"}},
			// A bind remount changes the mount, not the filesystem, and
			// keeps the flags it does not name.
			{"/t/bremount", "tmpfs", []string{"ro", "nodev"}, nil, []string{"rw"}},
			{"/rwt", "tmpfs", []string{"ro"}, nil, nil},
			{"/copy", "tmpfs", []string{"ro"}, nil, nil},
			{"/dev/console", "devpts", nil, nil, nil},
			{"/proc/timer_list", "tmpfs", nil, nil, nil},
			{"/etc/secret-file", "tmpfs", nil, nil, nil},
			{"/etc/secret-dir", "tmpfs", []string{"ro"}, nil, nil},
			{"/proc/sys", "proc", []string{"ro"}, nil, nil},
		} {
			m := mountAt(ms, c.at)
			if m == nil {
				t.Errorf("%s: not a mount point", c.at)
				continue
			}
			if m.FSType != c.fstype {
				t.Errorf("%s: type %s, want %s", c.at, m.FSType, c.fstype)
			}
			for _, o := range c.opts {
				if !hasOpt(m.Options, o) {
					t.Errorf("%s: options %q lack %s", c.at, m.Options, o)
				}
			}
			for _, o := range c.absent {
				if hasOpt(m.Options, o) {
					t.Errorf("%s: options %q have %s", c.at, m.Options, o)
				}
			}
			for _, o := range c.super {
				if !hasOpt(m.VFSOptions, o) {
					t.Errorf("%s: super options %q lack %s", c.at, m.VFSOptions, o)
				}
			}
		}
	})

	t.Run("writes", func(t *testing.T) {
		want := map[string]string{
			"/etc/probe": "read-only file system", "/tmp/probe": "",
			"/etc/hostfile": "", "/etc/new/hostfile-ro": "read-only file system", "/rwt/probe": "read-only file system",
			"/data/probe": "read-only file system", "/rdata/probe": "read-only file system",
			"/rdata2/probe": "read-only file system", "/rdata3/probe": "", "/copy/probe": "read-only file system",
			"/t/remount/probe": "read-only file system", "/t/bremount/probe": "read-only file system", "/proc/sys/kernel/hostname": "read-only file system",
		}
		for p, w := range want {
			if got := rep.Write[p]; got != w {
				t.Errorf("write %s: %q, want %q", p, got, w)
			}
		}
	})

	t.Run("reads", func(t *testing.T) {
		want := map[string]string{"/data/file": "hello", "/etc/hostfile": "x", "/etc/new/hostfile-ro": "x", "/proc/timer_list": "", "/etc/secret-file": "", "/copy/sub/f": "copied"}
		for p, w := range want {
			if got := rep.Read[p]; got != w {
				t.Errorf("read %s: %q, want %q", p, got, w)
			}
		}
		if got := rep.List["/etc/secret-dir"]; len(got) != 0 {
			t.Errorf("masked /etc/secret-dir lists %q", got)
		}
		cg := strings.Join(rep.List["/sys/fs/cgroup"], " ")
		for _, c := range []string{"memory", "cpu", "pids", "systemd"} {
			if !strings.Contains(" "+cg+" ", " "+c+" ") {
				t.Errorf("/sys/fs/cgroup has %q, no %s", cg, c)
			}
		}
	})

	t.Run("devices", func(t *testing.T) {
		for _, c := range []struct {
			path         string
			typ          uint32
			perm         uint32
			major, minor uint32
			uid, gid     uint32
		}{
			{"/dev/null", unix.S_IFCHR, 0o666, 1, 3, 0, 0},
			{"/dev/zero", unix.S_IFCHR, 0o666, 1, 5, 0, 0},
			{"/dev/full", unix.S_IFCHR, 0o666, 1, 7, 0, 0},
			{"/dev/random", unix.S_IFCHR, 0o666, 1, 8, 0, 0},
			{"/dev/urandom", unix.S_IFCHR, 0o666, 1, 9, 0, 0},
			{"/dev/tty", unix.S_IFCHR, 0o666, 5, 0, 0, 0},
			{"/dev/fuse", unix.S_IFCHR, 0o640, 10, 229, 1000, 1001},
			{"/dev/loopx", unix.S_IFBLK, 0o600, 7, 0, 0, 0},
			{"/dev/myfifo", unix.S_IFIFO, 0o620, 0, 0, 0, 0},
			{"/dev/unbuf", unix.S_IFCHR, 0o666, 1, 3, 0, 0},
			{"/opt/devs/null2", unix.S_IFCHR, 0o666, 1, 3, 0, 0},
		} {
			st := rep.Stat[c.path]
			if !st.Exists {
				t.Errorf("%s: missing", c.path)
				continue
			}
			if st.Mode&unix.S_IFMT != c.typ || st.Mode&0o7777 != c.perm || st.Major != c.major || st.Minor != c.minor || st.UID != c.uid || st.GID != c.gid {
				t.Errorf("%s: mode %o %d:%d owner %d:%d, want mode %o %d:%d owner %d:%d", c.path,
					st.Mode, st.Major, st.Minor, st.UID, st.GID, c.typ|c.perm, c.major, c.minor, c.uid, c.gid)
			}
		}
		if st := rep.Stat["/dev/console"]; st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Major != 136 {
			t.Errorf("/dev/console: mode %o major %d, want the pty slave (136)", st.Mode, st.Major)
		}
		for p, want := range map[string]string{"/dev/ptmx": "pts/ptmx", "/dev/fd": "/proc/self/fd",
			"/dev/stdin": "/proc/self/fd/0", "/dev/stdout": "/proc/self/fd/1", "/dev/stderr": "/proc/self/fd/2",
			"/copy/link": "sub/f"} {
			if st := rep.Stat[p]; st.Mode&unix.S_IFMT != unix.S_IFLNK || st.Link != want {
				t.Errorf("%s: mode %o link %q, want a link to %q", p, st.Mode, st.Link, want)
			}
		}
		if rep.Stat["/dev/core"].Exists {
			t.Error("/dev/core exists; runtime-linux.md does not ask for it")
		}
	})

	t.Run("propagation", func(t *testing.T) {
		for _, c := range []struct {
			at, want, not string
		}{
			{"/t/shared", "shared:", "master:"},
			{"/t/rshared", "shared:", "master:"},
			{"/t/unbindable", "unbindable", "shared:"},
			{"/t/private", "", "shared:"},
			{"/t/slave", "master:", "shared:"},
			{"/t/bindslave", "master:", "shared:"},
		} {
			m := mountAt(ms, c.at)
			if m == nil {
				t.Errorf("%s: not a mount point", c.at)
				continue
			}
			if c.want != "" && !strings.Contains(m.Optional, c.want) {
				t.Errorf("%s: optional fields %q lack %s", c.at, m.Optional, c.want)
			}
			if c.want == "" && m.Optional != "" {
				t.Errorf("%s: optional fields %q, want none (private)", c.at, m.Optional)
			}
			if strings.Contains(m.Optional, c.not) {
				t.Errorf("%s: optional fields %q have %s", c.at, m.Optional, c.not)
			}
		}
	})

	t.Run("recursive", func(t *testing.T) {
		// Masked files are the container's /dev/null.
		for _, p := range []string{"/proc/timer_list", "/etc/secret-file"} {
			if m := mountAt(ms, p); m == nil || m.Root != "/null" {
				t.Errorf("%s: not masked by /dev/null: %+v", p, m)
			}
		}
		// rro and r* reach the submount; a plain ro does not.
		for _, c := range []struct {
			at           string
			opts, absent []string
		}{
			{"/rdata/sub", []string{"ro"}, nil},
			{"/rdata2/sub", []string{"rw"}, []string{"ro"}},
			{"/rdata3/sub", []string{"rw", "nosuid", "nodev", "noexec", "noatime", "nodiratime"}, nil},
		} {
			m := mountAt(ms, c.at)
			if m == nil {
				t.Errorf("%s: not a mount point", c.at)
				continue
			}
			for _, o := range c.opts {
				if !hasOpt(m.Options, o) {
					t.Errorf("%s: options %q lack %s", c.at, m.Options, o)
				}
			}
			for _, o := range c.absent {
				if hasOpt(m.Options, o) {
					t.Errorf("%s: options %q have %s", c.at, m.Options, o)
				}
			}
		}
		for p, w := range map[string]string{"/rdata/sub/probe": "read-only file system", "/rdata2/sub/probe": ""} {
			if got := rep.Write[p]; got != w {
				t.Errorf("write %s: %q, want %q", p, got, w)
			}
		}
	})

	t.Run("old root gone", func(t *testing.T) {
		for _, m := range ms {
			if strings.HasPrefix(m.Mountpoint, "/tmp/") || m.FSType == "devtmpfs" {
				t.Errorf("host mount visible in the container: %s", m.Mountpoint)
			}
		}
	})
}
