package rootfs

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const cgroupRoot = "/sys/fs/cgroup"

// mountCgroup mounts a "cgroup" mount: on a cgroup v2 host a cgroup2
// filesystem (own cgroup namespace) or a bind of the container's cgroup;
// on a v1 (or hybrid) host a tmpfs holding a bind of the container's cgroup
// in every hierarchy, as runc does. "ro" applies to all of it.
func (s *setup) mountCgroup(m *specs.Mount, o *mountOpts) error {
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupRoot, &st); err != nil {
		return mountErr(m, "", &os.PathError{Op: "statfs", Path: cgroupRoot, Err: err})
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return s.mountCgroup2(m, o)
	}
	return s.mountCgroup1(m, o)
}

func (s *setup) ownCgroupNS() bool {
	if s.spec.Linux == nil {
		return false
	}
	for _, ns := range s.spec.Linux.Namespaces {
		if ns.Type == specs.CgroupNamespace {
			return true
		}
	}
	return false
}

func (s *setup) mountCgroup2(m *specs.Mount, o *mountOpts) error {
	dir := ""
	if !s.ownCgroupNS() {
		paths, err := s.cgroupPaths(nil)
		if err != nil {
			return mountErr(m, "", err)
		}
		dir = paths[""]
	}
	if dir == "" {
		fs := *m
		fs.Type, fs.Source = "cgroup2", "cgroup2"
		err := s.mountFS(&fs, o)
		if err == nil || !(errors.Is(err, unix.EPERM) || errors.Is(err, unix.EBUSY)) {
			return err
		}
		// Not the owner of the cgroup namespace: bind the cgroup we are in.
		paths, perr := s.cgroupPaths(nil)
		if perr != nil || paths[""] == "" {
			return err
		}
		dir = paths[""]
	}
	b := &specs.Mount{Destination: m.Destination, Source: dir, Type: "bind", Options: m.Options}
	return s.mountBind(b, withBind(o), nil)
}

func (s *setup) mountCgroup1(m *specs.Mount, o *mountOpts) error {
	hs := s.opts.Hierarchies
	var err error
	if hs == nil {
		if hs, err = Hierarchies(); err != nil {
			return mountErr(m, "", err)
		}
	}
	// In a cgroup namespace of its own, without the container's paths,
	// each hierarchy is mounted: the kernel roots it at the namespace's
	// cgroup. (/proc/self/cgroup shows paths relative to that root, which
	// say nothing of the host directories to bind.)
	mountFS := s.opts.CgroupPaths == nil && s.ownCgroupNS()
	var paths map[string]string
	if !mountFS {
		if paths, err = s.cgroupPaths(hs); err != nil {
			return mountErr(m, "", err)
		}
	}
	t, err := s.resolveMount(m, kindDir)
	if err != nil {
		return mountErr(m, "", err)
	}
	defer t.Close()
	tmpfsFlags := unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | o.flags&^(unix.MS_RDONLY|unix.MS_REMOUNT)
	if err := mount("tmpfs", fdPath(t.fd), "tmpfs", tmpfsFlags, "mode=755", t.name); err != nil {
		return mountErr(m, "", err)
	}
	top, err := t.top()
	if err != nil {
		return mountErr(m, "", err)
	}
	defer top.Close()
	bindOpts := &mountOpts{flags: unix.MS_BIND | unix.MS_REC | o.flags&bindRemountFlags, clear: o.clear & bindRemountFlags}
	for _, h := range hs {
		name := path.Base(h.Mountpoint)
		dest := path.Join(containerPath(m.Destination), name)
		if mountFS {
			fs := &specs.Mount{Destination: dest, Source: "cgroup", Type: "cgroup",
				Options: append(slices.Clone(m.Options), h.Controllers...)}
			if len(h.Controllers) == 0 {
				fs.Source, fs.Type = "cgroup2", "cgroup2"
			}
			fo, err := parseMount(fs)
			if err != nil {
				return mountErr(fs, "", err)
			}
			if err := s.mountFS(fs, fo); err != nil {
				return err
			}
			if err := cgroupLinks(top, name, h.Controllers); err != nil {
				return mountErr(m, "", err)
			}
			continue
		}
		dir := h.Dir(paths)
		if dir == "" {
			continue
		}
		if err := s.bindCgroupDir(top, name, dir, dest, bindOpts); err != nil {
			return err
		}
		if err := cgroupLinks(top, name, h.Controllers); err != nil {
			return mountErr(m, "", err)
		}
	}
	if o.flags&unix.MS_RDONLY != 0 {
		if err := mount("", fdPath(top), "", unix.MS_REMOUNT|unix.MS_RDONLY|tmpfsFlags, "mode=755", t.name); err != nil {
			return mountErr(m, "remount read-only", err)
		}
	}
	return s.finishMount(m, o, top)
}

// bindCgroupDir binds dir on a directory name it makes in the tmpfs top
// of a cgroup mount, through top's handle: the tmpfs is new and holds
// nothing but what mountCgroup1 put there, so the destination (dest in the
// container) needs no resolution inside the root, whose walk of the host
// path costs a stat per component for each hierarchy. Anything else there
// by that name goes the general way (mountBind).
func (s *setup) bindCgroupDir(top *os.File, name, dir, dest string, o *mountOpts) error {
	b := &specs.Mount{Destination: dest, Source: dir, Type: "bind"}
	if name == "" || name == "." || name == ".." || strings.Contains(name, "/") {
		return s.mountBind(b, o, nil)
	}
	if err := unix.Mkdirat(int(top.Fd()), name, 0o755); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return s.mountBind(b, o, nil)
		}
		return mountErr(b, "", &os.PathError{Op: "mkdir", Path: dest, Err: err})
	}
	fd, err := unix.Openat(int(top.Fd()), name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return mountErr(b, "", &os.PathError{Op: "open", Path: dest, Err: err})
	}
	f := os.NewFile(uintptr(fd), dest)
	defer f.Close()
	if err := mount(dir, fdPath(f), "", unix.MS_BIND|o.flags&unix.MS_REC, "", dest); err != nil {
		return mountErr(b, "", err)
	}
	t := &target{name: dest, parent: top, base: name, fd: f}
	mt, err := t.top()
	if err != nil {
		return mountErr(b, "", err)
	}
	defer mt.Close()
	if o.flags&bindRemountFlags != 0 || o.clear&bindRemountFlags != 0 {
		if err := setBindFlags(fdPath(mt), o.flags&bindRemountFlags, o.clear&bindRemountFlags, dest); err != nil {
			return mountErr(b, "remount", err)
		}
	}
	return s.finishMount(b, o, mt)
}

// Dir is the container's directory in the hierarchy, from paths keyed as
// cgroups.State.Paths (a controller; "" for the unified hierarchy): ""
// when it has none, and the cgroup mount leaves the hierarchy out.
func (h Hierarchy) Dir(paths map[string]string) string {
	if len(h.Controllers) == 0 {
		return paths[""]
	}
	for _, c := range h.Controllers {
		if p := paths[c]; p != "" {
			return p
		}
	}
	return ""
}

// CgroupBind is one bind a "cgroup" mount is made of on a cgroup v1 or
// hybrid host.
type CgroupBind struct {
	Dest   string // in the container: the mount's destination/the hierarchy's name
	Source string // the container's directory in that hierarchy
}

// CgroupBinds are the binds a "cgroup" mount at dest is made of on a
// cgroup v1 or hybrid host whose hierarchies are hs, given the container's
// cgroup paths (keyed as cgroups.State.Paths), as mountCgroup1 binds them
// (outside a cgroup namespace mounted without paths): the container's
// directory of each hierarchy at dest/NAME, on a tmpfs at dest.
func CgroupBinds(hs []Hierarchy, dest string, paths map[string]string) []CgroupBind {
	var out []CgroupBind
	for _, h := range hs {
		if dir := h.Dir(paths); dir != "" {
			out = append(out, CgroupBind{Dest: path.Join(containerPath(dest), path.Base(h.Mountpoint)), Source: dir})
		}
	}
	return out
}

// cgroupLinks links each controller of a hierarchy mounted under a
// combined name to it (cpu -> cpu,cpuacct), as on the host.
func cgroupLinks(dir *os.File, name string, controllers []string) error {
	if len(controllers) < 2 {
		return nil
	}
	for _, c := range controllers {
		if c == name || strings.HasPrefix(c, "name=") {
			continue
		}
		err := unix.Symlinkat(name, int(dir.Fd()), c)
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return &os.PathError{Op: "symlink", Path: c, Err: err}
		}
	}
	return nil
}

// Hierarchies lists the cgroup filesystems mounted directly under
// /sys/fs/cgroup: on a v1 or hybrid host each hierarchy, none on a v2 host
// (where /sys/fs/cgroup is the mount).
func Hierarchies() ([]Hierarchy, error) {
	ms, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return nil, err
	}
	var out []Hierarchy
	seen := map[string]bool{}
	for _, mi := range ms {
		if path.Dir(mi.Mountpoint) != cgroupRoot || seen[mi.Mountpoint] {
			continue
		}
		seen[mi.Mountpoint] = true
		h := Hierarchy{Mountpoint: mi.Mountpoint, Root: mi.Root}
		if mi.FSType == "cgroup" {
			for _, opt := range strings.Split(mi.VFSOptions, ",") {
				if opt == "rw" || opt == "ro" || strings.HasPrefix(opt, "release_agent=") || opt == "clone_children" || opt == "xattr" || opt == "noprefix" || opt == "cpuset_v2_mode" {
					continue
				}
				h.Controllers = append(h.Controllers, opt)
			}
		}
		out = append(out, h)
	}
	return out, nil
}

// cgroupPaths returns Options.CgroupPaths, or the cgroups the process is in
// (/proc/self/cgroup mapped onto the host's hierarchies hs: the v1 or
// hybrid ones, nil on a v2 host).
func (s *setup) cgroupPaths(hs []Hierarchy) (map[string]string, error) {
	if s.opts.CgroupPaths != nil {
		return s.opts.CgroupPaths, nil
	}
	return cgroupsOf("/proc/self/cgroup", hs)
}

// ProcessCgroups returns the host directories of the cgroups process pid
// is in, keyed as Options.CgroupPaths: what a cgroup mount binds for a
// rootless container that has no cgroup of its own and runs in its
// caller's, as runc binds its init's (/proc/self/cgroup).
func ProcessCgroups(pid int) (map[string]string, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupRoot, &st); err != nil {
		return nil, &os.PathError{Op: "statfs", Path: cgroupRoot, Err: err}
	}
	var hs []Hierarchy
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		var err error
		if hs, err = Hierarchies(); err != nil {
			return nil, err
		}
	}
	return cgroupsOf("/proc/"+strconv.Itoa(pid)+"/cgroup", hs)
}

// cgroupsOf maps a /proc/PID/cgroup file onto the host's hierarchies hs
// (nil on a cgroup v2 host).
func cgroupsOf(file string, hs []Hierarchy) (map[string]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if hs == nil {
		hs = []Hierarchy{{Mountpoint: cgroupRoot, Root: "/"}}
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		// hierarchy-ID:controller-list:cgroup-path (cgroups(7))
		f := strings.SplitN(sc.Text(), ":", 3)
		if len(f) != 3 {
			continue
		}
		var ctrls []string
		if f[1] != "" {
			ctrls = strings.Split(f[1], ",")
		}
		for _, h := range hs {
			if !sameControllers(h.Controllers, ctrls) {
				continue
			}
			rel, err := filepath.Rel(h.Root, f[2])
			if err != nil || strings.HasPrefix(rel, "..") {
				continue
			}
			dir := filepath.Join(h.Mountpoint, rel)
			if len(ctrls) == 0 {
				out[""] = dir
			}
			for _, c := range ctrls {
				out[c] = dir
			}
		}
	}
	return out, sc.Err()
}

func sameControllers(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		found := false
		for _, y := range b {
			found = found || x == y
		}
		if !found {
			return false
		}
	}
	return true
}
