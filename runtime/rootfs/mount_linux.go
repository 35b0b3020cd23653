package rootfs

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// setup is the state of one Prepare call.
type setup struct {
	spec   *specs.Spec
	bundle string
	opts   Options
	log    *slog.Logger
	root   *root
	userNS bool
	label  string // linux.mountLabel when SELinux is enabled, else ""
}

// Prepare builds the container's root filesystem, before pivot_root: it
// sets the propagation of "/", binds root.path (relative to bundle) onto
// itself, mounts spec.Mounts in order, creates the default devices (when
// /dev is not a bind mount), the configured linux.devices, the /dev
// symbolic links and /dev/ptmx (a terminal's /dev/console is BindConsole's).
// It leaves the working directory at the root filesystem, where Finish
// expects it (createContainer hooks run in between as child processes).
func Prepare(spec *specs.Spec, bundle string, opts Options) (err error) {
	if spec == nil || spec.Root == nil || spec.Root.Path == "" {
		return errors.New("rootfs: config has no root.path")
	}
	rootPath := spec.Root.Path
	if !filepath.IsAbs(rootPath) {
		rootPath = filepath.Join(bundle, rootPath)
	}
	if rootPath, err = filepath.Abs(rootPath); err != nil {
		return fmt.Errorf("root.path %s: %w", spec.Root.Path, err)
	}
	if rootPath, err = filepath.EvalSymlinks(rootPath); err != nil {
		return fmt.Errorf("root.path %s: %w", spec.Root.Path, err)
	}
	if fi, err := os.Stat(rootPath); err != nil {
		return fmt.Errorf("root.path %s: %w", spec.Root.Path, err)
	} else if !fi.IsDir() {
		return fmt.Errorf("root.path %s: not a directory", spec.Root.Path)
	}
	prop, err := rootPropagation(spec)
	if err != nil {
		return err
	}
	if opts.NoMountNS {
		// The host's mount table: its propagation is not ours to change.
		prop = rootProp{}
	} else if err := mount("", "/", "", prop.before, "", "/"); err != nil {
		return fmt.Errorf("set propagation of /: %w", err)
	}
	if prop.before&unix.MS_SHARED != 0 {
		// pivot_root(2) needs the parent mounts of the new and the current
		// root not to be shared; nothing mounted in the root may reach the
		// host either.
		for _, p := range []string{rootPath, "/"} {
			if err := privateParent(p); err != nil {
				return err
			}
		}
	}
	// pivot_root needs the new root to be a mount point.
	if data, ok := spec.Annotations[AnnotationOverlay]; ok {
		if opts.NoMountNS {
			return fmt.Errorf("annotation %s: needs a mount namespace", AnnotationOverlay)
		}
		if err := mountOverlayRoot(data, rootPath); err != nil {
			return fmt.Errorf("mount overlay root %s: %w", rootPath, err)
		}
	} else if err := mount(rootPath, rootPath, "", unix.MS_BIND|unix.MS_REC, "", rootPath); err != nil {
		return fmt.Errorf("bind root %s: %w", rootPath, err)
	}
	if opts.NoMountNS {
		// Only the bind just made becomes private: what is mounted under
		// the root then stays there, not copied into the peers of the
		// host mount holding it (where delete could not reach it).
		if err := mount("", rootPath, "", unix.MS_PRIVATE, "", rootPath); err != nil {
			return fmt.Errorf("make root %s private: %w", rootPath, err)
		}
	}
	r, err := openRoot(rootPath)
	if err != nil {
		return fmt.Errorf("open root: %w", err)
	}
	defer r.Close()
	s := &setup{spec: spec, bundle: bundle, opts: opts, log: opts.logger(), root: r,
		userNS: opts.UserNS || inUserNS(), label: mountLabel(spec)}
	start := time.Now()
	for i := range spec.Mounts {
		if err := s.mountOne(i, &spec.Mounts[i]); err != nil {
			return err
		}
	}
	mounted := time.Now()
	if err := s.devices(); err != nil {
		return err
	}
	s.log.Debug("rootfs prepared", "root", rootPath, "mounts", len(spec.Mounts),
		"mountTime", mounted.Sub(start), "deviceTime", time.Since(mounted))
	if err := unix.Chdir(rootPath); err != nil {
		return &os.PathError{Op: "chdir", Path: rootPath, Err: err}
	}
	return nil
}

// inUserNS reports whether the process is in a user namespace other than
// the initial one, whose uid_map is the identity on the whole range.
func inUserNS() bool {
	data, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := strings.Fields(string(data))
	return !(len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
}

// sourcePath is a bind mount's source on the host: absolute, or relative
// to the bundle (config.md "Mounts").
func (s *setup) sourcePath(m *specs.Mount) string {
	if filepath.IsAbs(m.Source) {
		return m.Source
	}
	return filepath.Join(s.bundle, m.Source)
}

func (s *setup) mountOne(i int, m *specs.Mount) error {
	o, err := parseMount(m)
	if err != nil {
		return mountErr(m, "", err)
	}
	if err := s.check(m, o); err != nil {
		return mountErr(m, "", err)
	}
	s.log.Debug("mount", "source", m.Source, "destination", m.Destination, "type", m.Type, "options", m.Options)
	switch {
	case o.flags&unix.MS_REMOUNT != 0:
		return s.remount(m, o)
	case o.bind():
		if s.opts.OpenSource == nil || !(o.idmap || o.ridmap || !reachable(s.sourcePath(m))) {
			return s.mountBind(m, o, nil)
		}
		// Mounts apply in order: the runtime opens the source now, so
		// that it may be something an earlier mount put in place.
		f, err := s.opts.OpenSource(i)
		if err != nil {
			return mountErr(m, "", err)
		}
		defer f.Close()
		return s.mountBind(m, o, f)
	case m.Type == "cgroup" || m.Type == "cgroup2":
		if f := s.opts.BeforeCgroupMount; f != nil {
			s.opts.BeforeCgroupMount = nil
			if err := f(); err != nil {
				return err
			}
		}
		return s.mountCgroup(m, o)
	case m.Type == "proc" && s.opts.OpenProc != nil && !o.tmpcopyup:
		return s.mountProc(m, o)
	default:
		return s.mountFS(m, o)
	}
}

// check rejects option combinations that cannot be honoured.
func (s *setup) check(m *specs.Mount, o *mountOpts) error {
	if m.Destination == "" {
		return errors.New("no destination")
	}
	if (m.UIDMappings == nil) != (m.GIDMappings == nil) {
		return errors.New("uidMappings and gidMappings must be given together")
	}
	if m.UIDMappings != nil && !o.idmap && !o.ridmap {
		// config.md: the options SHOULD say idmap or ridmap; mappings
		// alone still mean an idmapped mount.
		o.idmap = true
	}
	if o.idmap && o.ridmap {
		return errors.New("options idmap and ridmap are exclusive")
	}
	if (o.idmap || o.ridmap) && !o.bind() {
		return errors.New("option idmap needs a bind mount")
	}
	if (o.idmap || o.ridmap) && m.UIDMappings == nil &&
		(s.spec.Linux == nil || len(s.spec.Linux.UIDMappings) == 0) {
		// config.md: without mappings on the mount and without a user
		// namespace an error MUST be returned.
		return errors.New("option idmap without uidMappings needs a user namespace")
	}
	if o.tmpcopyup && m.Type != "tmpfs" {
		return errors.New("option tmpcopyup needs a tmpfs mount")
	}
	if o.tmpcopyup && o.bind() {
		return errors.New("options tmpcopyup and bind are exclusive")
	}
	return nil
}

// reachable reports whether this process can look up p: in a user
// namespace a bind source may be behind a directory only the host's root
// may search.
func reachable(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// mountBind binds the source onto the destination, then, when the options
// name per-mount flags, gives it exactly those (setBindFlags). opened is
// the source the runtime opened (Options.OpenSource), or nil: a detached
// idmapped tree, moved into place, or an O_PATH handle of a bind source.
func (s *setup) mountBind(m *specs.Mount, o *mountOpts, opened *os.File) error {
	src := s.sourcePath(m)
	k := kindDir
	if opened != nil {
		var st unix.Stat_t
		if err := unix.Fstat(int(opened.Fd()), &st); err != nil {
			return mountErr(m, "", &os.PathError{Op: "stat", Path: src, Err: err})
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			k = kindFile
		}
	} else {
		fi, err := os.Stat(src)
		if err != nil {
			return mountErr(m, "", err)
		}
		if !fi.IsDir() {
			k = kindFile
		}
	}
	t, err := s.resolveMount(m, k)
	if err != nil {
		return mountErr(m, "", err)
	}
	defer t.Close()
	switch {
	case opened != nil && (o.idmap || o.ridmap):
		err = moveMount(opened, t)
	case opened != nil:
		err = mount(fdPath(opened), fdPath(t.fd), "", unix.MS_BIND|o.flags&unix.MS_REC, "", t.name)
	case o.idmap || o.ridmap:
		var ns, tree *os.File
		if ns, err = idmapNS(s.spec, m); err == nil {
			tree, err = openIDMapped(ns, o, src)
			ns.Close()
		}
		if err == nil {
			err = moveMount(tree, t)
			tree.Close()
		}
		if errors.Is(err, unix.EPERM) && s.userNS {
			// mount_setattr(2): idmapping a filesystem needs
			// CAP_SYS_ADMIN in the user namespace it was mounted in.
			err = fmt.Errorf("idmap inside a user namespace (the runtime must open it with OpenMountSource): %w", err)
		}
	default:
		err = mount(src, fdPath(t.fd), "", unix.MS_BIND|o.flags&unix.MS_REC, "", t.name)
	}
	if err != nil {
		return mountErr(m, "", err)
	}
	top, err := t.top()
	if err != nil {
		return mountErr(m, "", err)
	}
	defer top.Close()
	if o.flags&bindRemountFlags != 0 || o.clear&bindRemountFlags != 0 {
		if err := setBindFlags(fdPath(top), o.flags&bindRemountFlags, o.clear&bindRemountFlags, t.name); err != nil {
			return mountErr(m, "remount", err)
		}
	}
	return s.finishMount(m, o, top)
}

// remount changes a mount already at the destination (option "remount").
func (s *setup) remount(m *specs.Mount, o *mountOpts) error {
	t, err := s.resolveMount(m, kindNone)
	if err != nil {
		return mountErr(m, "", err)
	}
	defer t.Close()
	if o.bind() {
		err = remountBind(fdPath(t.fd), o.flags&bindRemountFlags, o.clear&bindRemountFlags, t.name)
	} else {
		err = mount(m.Source, fdPath(t.fd), m.Type, o.flags, o.dataString(), t.name)
	}
	if err != nil {
		return mountErr(m, "", err)
	}
	return s.finishMount(m, o, t.fd)
}

// mountFS mounts a filesystem (tmpfs, proc, sysfs, devpts, mqueue, ...).
func (s *setup) mountFS(m *specs.Mount, o *mountOpts) error {
	t, err := s.resolveMount(m, kindDir)
	if err != nil {
		return mountErr(m, "", err)
	}
	defer t.Close()
	flags := o.flags
	if devReadonlyLater(m, o) {
		// Devices are created on it first; Finish makes it read-only.
		flags &^= unix.MS_RDONLY
	}
	var under *os.File
	if o.tmpcopyup {
		if under, err = reopenDir(t.fd); err != nil {
			return mountErr(m, "tmpcopyup", err)
		}
		defer under.Close()
		// Copy into a writable tmpfs; the ro flag comes after the copy.
		flags &^= unix.MS_RDONLY
	}
	src := m.Source
	if src == "" {
		src = m.Type
	}
	data := o.dataString()
	if m.Type == "tmpfs" && !t.created {
		if data, err = keepDirMode(t.fd, data); err != nil {
			return mountErr(m, "", err)
		}
	}
	data = withLabel(data, m.Type, s.label)
	err = mount(src, fdPath(t.fd), m.Type, flags, data, t.name)
	if err != nil && m.Type == "sysfs" && errors.Is(err, unix.EPERM) && s.userNS {
		// sysfs can only be mounted by the owner of the network namespace:
		// in a user namespace without its own network namespace, bind the
		// host's /sys instead, as runc does.
		s.log.Debug("sysfs not mountable in this user namespace: binding /sys", "destination", t.name)
		return s.mountBind(&specs.Mount{Destination: m.Destination, Source: "/sys", Type: "none",
			Options: append([]string{"rbind"}, m.Options...)}, sysfsBind(o), nil)
	}
	if err != nil {
		return mountErr(m, "", err)
	}
	top, err := t.top()
	if err != nil {
		return mountErr(m, "", err)
	}
	defer top.Close()
	if o.tmpcopyup {
		if err := copyTree(under, top); err != nil {
			return mountErr(m, "tmpcopyup", err)
		}
		if o.flags&unix.MS_RDONLY != 0 {
			if err := mount("", fdPath(top), "", unix.MS_REMOUNT|o.flags, data, t.name); err != nil {
				return mountErr(m, "remount read-only", err)
			}
		}
	}
	return s.finishMount(m, o, top)
}

// mountProc mounts a procfs from the context Options.OpenProc gives: the
// mount's data options go to fsconfig(2), its flags become mount
// attributes of fsmount(2), and the detached mount is moved into place.
func (s *setup) mountProc(m *specs.Mount, o *mountOpts) error {
	t, err := s.resolveMount(m, kindDir)
	if err != nil {
		return mountErr(m, "", err)
	}
	defer t.Close()
	fsf, err := s.opts.OpenProc()
	if err != nil {
		return mountErr(m, "", err)
	}
	defer fsf.Close()
	fs := int(fsf.Fd())
	src := m.Source
	if src == "" {
		src = m.Type
	}
	if err := unix.FsconfigSetString(fs, "source", src); err != nil {
		return mountErr(m, "", &os.PathError{Op: "fsconfig source", Path: t.name, Err: err})
	}
	for _, kv := range strings.Split(withLabel(o.dataString(), m.Type, s.label), ",") {
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if ok {
			// mount(2)'s data quotes an SELinux context (withLabel);
			// fsconfig(2) takes the value as it is.
			err = unix.FsconfigSetString(fs, k, strings.Trim(v, `"`))
		} else {
			err = unix.FsconfigSetFlag(fs, k)
		}
		if err != nil {
			return mountErr(m, "", &os.PathError{Op: "fsconfig " + k, Path: t.name, Err: err})
		}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return mountErr(m, "", &os.PathError{Op: "fsconfig", Path: t.name, Err: err})
	}
	mfd, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, mountAttrs(o.flags))
	if err != nil {
		return mountErr(m, "", &os.PathError{Op: "fsmount", Path: t.name, Err: err})
	}
	tree := os.NewFile(uintptr(mfd), t.name)
	defer tree.Close()
	if err := moveMount(tree, t); err != nil {
		return mountErr(m, "", err)
	}
	top, err := t.top()
	if err != nil {
		return mountErr(m, "", err)
	}
	defer top.Close()
	return s.finishMount(m, o, top)
}

// mountAttrs are the MOUNT_ATTR_* flags of fsmount(2) for MS_* flags.
func mountAttrs(flags uintptr) int {
	attr := 0
	for _, f := range []struct {
		ms   uintptr
		attr int
	}{
		{unix.MS_RDONLY, unix.MOUNT_ATTR_RDONLY},
		{unix.MS_NOSUID, unix.MOUNT_ATTR_NOSUID},
		{unix.MS_NODEV, unix.MOUNT_ATTR_NODEV},
		{unix.MS_NOEXEC, unix.MOUNT_ATTR_NOEXEC},
		{unix.MS_NOATIME, unix.MOUNT_ATTR_NOATIME},
		{unix.MS_STRICTATIME, unix.MOUNT_ATTR_STRICTATIME},
		{unix.MS_NODIRATIME, unix.MOUNT_ATTR_NODIRATIME},
	} {
		if flags&f.ms != 0 {
			attr |= f.attr
		}
	}
	return attr
}

// keepDirMode gives a tmpfs mounted over an existing directory that
// directory's mode, setuid, setgid and sticky bits included, unless the
// options say mode= themselves (as runc does: "mode=%04o" put before the
// options, so a later mode= wins). A tmpfs on a directory made for it
// keeps the kernel's default, 1777.
func keepDirMode(dir *os.File, data string) (string, error) {
	for _, opt := range strings.Split(data, ",") {
		if strings.HasPrefix(opt, "mode=") {
			return data, nil
		}
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(dir.Fd()), &st); err != nil {
		return "", &os.PathError{Op: "stat", Path: dir.Name(), Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return data, nil
	}
	mode := fmt.Sprintf("mode=%04o", st.Mode&0o7777)
	if data == "" {
		return mode, nil
	}
	return mode + "," + data, nil
}

// withBind is o for a bind in place of a filesystem mount: an rbind with
// the same flags.
func withBind(o *mountOpts) *mountOpts {
	c := *o
	c.flags |= unix.MS_BIND | unix.MS_REC
	return &c
}

// sysfsBind is o for the /sys fallback: an rbind whose ro, nosuid, nodev
// and noexec also reach the host's mounts under /sys (cgroup hierarchies
// among them), which a container could otherwise uncover rw by unmounting
// what the config mounts over them.
func sysfsBind(o *mountOpts) *mountOpts {
	c := withBind(o)
	for _, f := range []struct {
		ms   uintptr
		attr uint64
	}{
		{unix.MS_RDONLY, unix.MOUNT_ATTR_RDONLY}, {unix.MS_NOSUID, unix.MOUNT_ATTR_NOSUID},
		{unix.MS_NODEV, unix.MOUNT_ATTR_NODEV}, {unix.MS_NOEXEC, unix.MOUNT_ATTR_NOEXEC},
	} {
		if o.flags&f.ms != 0 {
			c.recAttr.Attr_set |= f.attr
			c.recAttr.Attr_clr &^= f.attr
		}
	}
	return c
}

// devReadonlyLater reports whether m is a read-only tmpfs on /dev, which
// must stay writable until the devices are created.
func devReadonlyLater(m *specs.Mount, o *mountOpts) bool {
	return containerPath(m.Destination) == "/dev" && !o.bind() && o.flags&unix.MS_RDONLY != 0
}

// finishMount applies the propagation options (each a mount(2) call of its
// own) and the recursive r* attributes (mount_setattr AT_RECURSIVE).
func (s *setup) finishMount(m *specs.Mount, o *mountOpts, top *os.File) error {
	for _, p := range o.propagation {
		if err := mount("", fdPath(top), "", p, "", containerPath(m.Destination)); err != nil {
			return mountErr(m, "set propagation", err)
		}
	}
	if o.hasRecAttr() {
		attr := o.recAttr
		if err := mountSetattr(top, unix.AT_RECURSIVE, &attr, containerPath(m.Destination)); err != nil {
			return mountErr(m, "set recursive attributes", err)
		}
	}
	return nil
}

// reopenDir opens the directory an O_PATH handle holds for reading.
func reopenDir(f *os.File) (*os.File, error) {
	fd, err := unix.Openat(int(f.Fd()), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: f.Name(), Err: err}
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// rootProp is how the propagation of the root is set: before, recursively
// on the whole tree before anything is mounted; after, on the new root
// after pivot_root (0: nothing to do).
type rootProp struct {
	before, after uintptr
}

// rootPropagation reads linux.rootfsPropagation (config-linux.md "Rootfs
// Mount Propagation"). By default the tree is made rslave, as runc does:
// host unmounts still reach the container, nothing goes back. "private"
// and "unbindable" make it rprivate, and the root unbindable after
// pivot_root (an unbindable tree could not be bound as the root).
// "shared" keeps the host's peer groups (rshared, as runc), so that a
// volume bound with "rshared" propagates both ways (Kubernetes
// Bidirectional), while the mount holding the root is made private and the
// root itself, after pivot_root, gets a new peer group: "this does not
// mean that it's shared with the host".
func rootPropagation(spec *specs.Spec) (rootProp, error) {
	v := ""
	if spec.Linux != nil {
		v = spec.Linux.RootfsPropagation
	}
	switch strings.TrimPrefix(v, "r") {
	case "":
		if v != "" {
			break
		}
		return rootProp{before: unix.MS_SLAVE | unix.MS_REC}, nil
	case "slave":
		return rootProp{before: unix.MS_SLAVE | unix.MS_REC, after: unix.MS_SLAVE | unix.MS_REC}, nil
	case "shared":
		return rootProp{before: unix.MS_SHARED | unix.MS_REC, after: unix.MS_SHARED}, nil
	case "private":
		return rootProp{before: unix.MS_PRIVATE | unix.MS_REC, after: unix.MS_PRIVATE | unix.MS_REC}, nil
	case "unbindable":
		return rootProp{before: unix.MS_PRIVATE | unix.MS_REC, after: unix.MS_UNBINDABLE}, nil
	}
	return rootProp{}, fmt.Errorf("rootfs: linux.rootfsPropagation %q: not one of shared, slave, private, unbindable", v)
}

// resolveMount resolves a mount's destination inside the root and checks
// that the mount may go there.
func (s *setup) resolveMount(m *specs.Mount, k kind) (*target, error) {
	t, err := s.root.resolve(m.Destination, k)
	if err != nil {
		return nil, err
	}
	if err := checkProcDest(m, t); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// procAllowed are the files under /proc that may be mounted over (by
// lxcfs-like tools), as runc allows.
var procAllowed = []string{
	"/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps",
	"/proc/uptime", "/proc/loadavg", "/proc/slabinfo", "/proc/net/dev", "/proc/sys/kernel/ns_last_pid",
}

// checkProcDest refuses a mount over the container's /proc or a file in it
// unless it is a procfs (a proc mount, or a bind of one) or one of
// procAllowed: a mount over /proc/self/attr/... or /proc/sys/... could
// defeat the LSM or the read-only paths (CVE-2019-16884). The check is on
// the path the destination resolved to, so a symbolic link cannot hide it.
//
// A proc mount must not go through a symbolic link: an image whose /proc
// is a link would otherwise move procfs elsewhere, out of reach of the
// path checks here (CVE-2019-19921). Beyond the path, a destination whose
// directory is on a procfs (wherever procfs was mounted) counts as inside
// /proc.
func checkProcDest(m *specs.Mount, t *target) error {
	if m.Type == "proc" && filepath.Join("/", m.Destination) != t.real {
		return fmt.Errorf("proc mount destination %s goes through a symbolic link (to %s)", m.Destination, t.real)
	}
	onProc := false
	if t.parent != nil {
		var st unix.Statfs_t
		onProc = unix.Fstatfs(int(t.parent.Fd()), &st) == nil && st.Type == unix.PROC_SUPER_MAGIC
	}
	if !onProc && t.real != "/proc" && !strings.HasPrefix(t.real, "/proc/") {
		return nil
	}
	if slices.Contains(procAllowed, t.real) || strings.HasPrefix(t.real, "/proc/pressure/") {
		return nil
	}
	if m.Type == "proc" {
		return nil
	}
	if o, err := parseMount(m); err == nil && o.bind() {
		var st unix.Statfs_t
		if unix.Statfs(m.Source, &st) == nil && st.Type == unix.PROC_SUPER_MAGIC {
			return nil
		}
	}
	return fmt.Errorf("destination %s is inside /proc and the source is not a procfs", t.real)
}

// mountLabel is linux.mountLabel (config-linux.md "Mount Label") when
// SELinux is enabled on the host: without it the kernel refuses a context=
// option, and runc and crun ignore the label.
func mountLabel(spec *specs.Spec) string {
	if spec.Linux == nil || spec.Linux.MountLabel == "" {
		return ""
	}
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/selinux", &st) != nil || st.Type != unix.SELINUX_MAGIC {
		return ""
	}
	return spec.Linux.MountLabel
}

// withLabel adds the SELinux context of the mount to its data, for the
// filesystems that take one (proc, sysfs and cgroup have their own labels).
func withLabel(data, fstype, label string) string {
	switch fstype {
	case "", "proc", "sysfs", "cgroup", "cgroup2", "bind", "none":
		return data
	}
	if label == "" {
		return data
	}
	ctx := `context="` + label + `"`
	if data == "" {
		return ctx
	}
	return data + "," + ctx
}

// privateParent makes the mount holding p private (not recursively).
func privateParent(p string) error {
	// The calling thread's mount table: a runtime thread that joined the
	// container's mount namespace (setns) is not in its thread-group
	// leader's, which /proc/self/mountinfo shows.
	f, err := os.Open("/proc/thread-self/mountinfo")
	if err != nil {
		return fmt.Errorf("find the mount of %s: %w", p, err)
	}
	defer f.Close()
	ms, err := mountinfo.GetMountsFromReader(f, mountinfo.ParentsFilter(p))
	if err != nil {
		return fmt.Errorf("find the mount of %s: %w", p, err)
	}
	var best *mountinfo.Info
	for _, m := range ms {
		if best == nil || len(m.Mountpoint) >= len(best.Mountpoint) {
			best = m
		}
	}
	if best == nil || !strings.Contains(best.Optional, "shared:") {
		return nil
	}
	if err := mount("", best.Mountpoint, "", unix.MS_PRIVATE, "", best.Mountpoint); err != nil {
		return fmt.Errorf("make the mount of the root private: %w", err)
	}
	return nil
}
