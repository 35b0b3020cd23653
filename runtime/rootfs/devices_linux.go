package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// defaultDevices are the devices every container gets (config-linux.md
// "Default Devices"); /dev/console and /dev/ptmx are set up apart.
func defaultDevices() []specs.LinuxDevice {
	mode := os.FileMode(0o666)
	var zero uint32
	dev := func(name string, major, minor int64) specs.LinuxDevice {
		return specs.LinuxDevice{Path: "/dev/" + name, Type: "c", Major: major, Minor: minor,
			FileMode: &mode, UID: &zero, GID: &zero}
	}
	return []specs.LinuxDevice{
		dev("null", 1, 3), dev("zero", 1, 5), dev("full", 1, 7),
		dev("random", 1, 8), dev("urandom", 1, 9), dev("tty", 5, 0),
	}
}

// devLinks are the symbolic links of runtime-linux.md "Dev symbolic links".
var devLinks = [][2]string{
	{"/proc/self/fd", "fd"},
	{"/proc/self/fd/0", "stdin"},
	{"/proc/self/fd/1", "stdout"},
	{"/proc/self/fd/2", "stderr"},
}

// setupDev reports whether ocikit populates /dev: not when the config binds
// a directory onto /dev (then /dev is the user's, as with runc).
func setupDev(spec *specs.Spec) bool {
	for _, m := range spec.Mounts {
		if containerPath(m.Destination) != "/dev" {
			continue
		}
		o, err := parseMount(&m)
		if err == nil && o.bind() {
			return false
		}
	}
	return true
}

// devices creates the default devices, /dev/ptmx and the /dev links (when
// /dev is ours), then the configured linux.devices.
func (s *setup) devices() error {
	var configured []specs.LinuxDevice
	if s.spec.Linux != nil {
		configured = s.spec.Linux.Devices
	}
	bind := s.userNS
	ours := setupDev(s.spec)
	if ours {
		have := map[string]bool{}
		for _, d := range configured {
			have[containerPath(d.Path)] = true
		}
		for _, d := range defaultDevices() {
			if have[d.Path] {
				continue
			}
			if err := s.createDevice(d, &bind); err != nil {
				return err
			}
		}
		if err := s.devSymlinks(); err != nil {
			return err
		}
	}
	for _, d := range configured {
		if ours && containerPath(d.Path) == "/dev/ptmx" {
			// The link to the container's own devpts made above is the
			// /dev/ptmx of config-linux.md; runc likewise replaces a
			// configured one (containerd's --privileged lists the host's).
			continue
		}
		if err := s.createDevice(d, &bind); err != nil {
			return err
		}
	}
	return nil
}

func deviceType(t string) (uint32, error) {
	switch t {
	case "c", "u":
		return unix.S_IFCHR, nil
	case "b":
		return unix.S_IFBLK, nil
	case "p":
		return unix.S_IFIFO, nil
	}
	return 0, fmt.Errorf("type %q: not one of c, b, u, p", t)
}

// createDevice makes the device node with mknod, or when mknod is not
// allowed (a user namespace: EPERM) binds the host's node of the same path
// onto an empty file (config-linux.md "Devices": the runtime MAY supply
// them however it likes). *bind records the fallback for the next devices.
func (s *setup) createDevice(d specs.LinuxDevice, bind *bool) error {
	dest := containerPath(d.Path)
	fail := func(err error) error { return fmt.Errorf("device %s: %w", dest, err) }
	typ, err := deviceType(d.Type)
	if err != nil {
		return fail(err)
	}
	if dest == "/" {
		return fail(errors.New("path is the root"))
	}
	perm := uint32(0o666)
	if d.FileMode != nil {
		perm = uint32(d.FileMode.Perm())
	}
	rdev := int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))
	if typ == unix.S_IFIFO {
		rdev = 0
	}
	parent, err := s.root.mkdirAll(path.Dir(dest))
	if err != nil {
		return fail(err)
	}
	defer parent.Close()
	pfd, base := int(parent.Fd()), path.Base(dest)

	var st unix.Stat_t
	exists := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW) == nil
	matches := exists && st.Mode&unix.S_IFMT == typ && (typ == unix.S_IFIFO || st.Rdev == uint64(rdev))
	if exists && !matches && !(*bind && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size == 0) {
		// config-linux.md: a file at path that does not match the
		// requested device MUST be an error.
		return fail(errors.New("a file that is not this device exists there"))
	}
	if !exists && !*bind {
		err := unix.Mknodat(pfd, base, typ|perm, rdev)
		if errors.Is(err, unix.EPERM) && typ != unix.S_IFIFO {
			s.log.Debug("mknod not permitted: binding devices from the host", "device", dest)
			*bind = true
		} else if err != nil {
			return fail(&os.PathError{Op: "mknod", Path: dest, Err: err})
		} else {
			exists, matches = true, true
		}
	}
	if !matches {
		return s.bindDevice(d, parent, base, dest, exists)
	}
	uid, gid := 0, 0
	if d.UID != nil {
		uid = int(*d.UID)
	}
	if d.GID != nil {
		gid = int(*d.GID)
	}
	if err := unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fail(&os.PathError{Op: "chown", Path: dest, Err: err})
	}
	// mknod applied the umask; set the mode asked for.
	if err := unix.Fchmodat(pfd, base, perm, 0); err != nil {
		return fail(&os.PathError{Op: "chmod", Path: dest, Err: err})
	}
	return nil
}

// bindDevice binds the host's node at the device's path onto an empty file.
func (s *setup) bindDevice(d specs.LinuxDevice, parent *os.File, base, dest string, exists bool) error {
	fail := func(err error) error { return fmt.Errorf("device %s: %w", dest, err) }
	host := containerPath(d.Path)
	if _, err := os.Stat(host); err != nil {
		return fail(fmt.Errorf("cannot create it in a user namespace and the host has none to bind: %w", err))
	}
	if !exists {
		fd, err := unix.Openat(int(parent.Fd()), base, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_RDONLY|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return fail(&os.PathError{Op: "create", Path: dest, Err: err})
		}
		unix.Close(fd)
	}
	fd, err := unix.Openat(int(parent.Fd()), base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(&os.PathError{Op: "open", Path: dest, Err: err})
	}
	t := os.NewFile(uintptr(fd), dest)
	defer t.Close()
	if err := mount(host, fdPath(t), "", unix.MS_BIND, "", dest); err != nil {
		return fail(err)
	}
	return nil
}

// devSymlinks makes /dev/ptmx a link to pts/ptmx (config-linux.md "Default
// Devices": the container's own devpts instance) and creates the /dev links
// of runtime-linux.md when their sources exist, that is when /proc is a
// procfs.
func (s *setup) devSymlinks() error {
	dev, err := s.root.mkdirAll("/dev")
	if err != nil {
		return fmt.Errorf("open /dev: %w", err)
	}
	defer dev.Close()
	dfd := int(dev.Fd())
	if err := unix.Unlinkat(dfd, "ptmx", 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return &os.PathError{Op: "remove", Path: "/dev/ptmx", Err: err}
	}
	if err := unix.Symlinkat("pts/ptmx", dfd, "ptmx"); err != nil {
		return &os.PathError{Op: "symlink", Path: "/dev/ptmx", Err: err}
	}
	if !s.procMounted() {
		return nil
	}
	for _, l := range devLinks {
		err := unix.Symlinkat(l[0], dfd, l[1])
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return &os.PathError{Op: "symlink", Path: "/dev/" + l[1], Err: err}
		}
	}
	return nil
}

// procMounted reports whether the container's /proc is a procfs.
func (s *setup) procMounted() bool {
	f, err := openInRoot(s.root.dir, "/proc")
	if err != nil {
		return false
	}
	defer f.Close()
	var st unix.Statfs_t
	return unix.Fstatfs(int(f.Fd()), &st) == nil && st.Type == unix.PROC_SUPER_MAGIC
}

// BindConsole binds the pty slave onto /dev/console (config-linux.md
// "Default Devices") of the root filesystem Prepare left as the working
// directory, creating the file when it is missing. It comes between
// Prepare and Finish: the terminal is a pty of the container's own devpts
// (runc opens it there too), which exists only once Prepare has mounted it.
func BindConsole(slave *os.File) error {
	cwd, err := unix.Getwd()
	if err != nil {
		return fmt.Errorf("console: %w", os.NewSyscallError("getcwd", err))
	}
	r, err := openRoot(cwd)
	if err != nil {
		return fmt.Errorf("console: open root: %w", err)
	}
	defer r.Close()
	t, err := r.resolve("/dev/console", kindFile)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	defer t.Close()
	if err := mount(fdPath(slave), fdPath(t.fd), "", unix.MS_BIND, "", t.name); err != nil {
		return fmt.Errorf("console %s: %w", slave.Name(), err)
	}
	return nil
}
