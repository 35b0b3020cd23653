package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/checkpoint-restore/go-criu/v8/rpc"
	"github.com/ocikit/ocikit/cgroups"
	"github.com/ocikit/ocikit/internal/fsutil"
	"github.com/ocikit/ocikit/runtime/rootfs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// descriptorsFile, in the images directory, lists what the init's stdio
// (descriptors 0-2) were at the dump, as runc's descriptors.json: restore
// hands its own stdio to CRIU for those that were pipes.
const descriptorsFile = "descriptors.json"

// Checkpoint dumps a running container's processes with CRIU into
// o.ImagePath (runc's checkpoint). Without LeaveRunning or PreDump the
// container is stopped and deleted afterwards, as with runc. On a host
// where CRIU cannot run, nothing is dumped and the error says why in one
// line.
func (r *Runtime) Checkpoint(ctx context.Context, id string, o CheckpointOptions) error {
	if o.ImagePath == "" {
		return errorf(ErrInvalidSpec, "--image-path is required")
	}
	mode, err := cgroupsMode(o.ManageCgroupsMode)
	if err != nil {
		return err
	}
	emptyNs, err := emptyNsMask(o.EmptyNs)
	if err != nil {
		return err
	}
	ps, err := pageServer(o.PageServer)
	if err != nil {
		return err
	}
	if err := checkLazy(o); err != nil {
		return err
	}
	if err := criuRootless(); err != nil {
		return err
	}
	l, rec, err := r.lockState(id)
	if err != nil {
		return err
	}
	defer l.unlock()
	if rec.State.Status != specs.StateRunning && rec.State.Status != StatePaused {
		return errorf(ErrWrongState, "container %q is %s, not running", id, rec.State.Status)
	}
	if o.LazyPages {
		if err := criuCanLazy(ctx); err != nil {
			return err
		}
	}
	spec, err := rec.loadSpec(l.path)
	if err != nil {
		return err
	}
	if rec.HostMounts != nil {
		return errorf(ErrNotSupported, "checkpoint needs a container with a mount namespace of its own")
	}
	images, work, closeDirs, removeNew, err := criuDirs(o.CRIUOptions, true)
	if err != nil {
		return err
	}
	defer closeDirs()
	if err := saveDescriptors(images.Name(), rec.State.Pid); err != nil {
		removeNew()
		return err
	}
	t := rpc.CriuReqType_DUMP
	if o.PreDump {
		t = rpc.CriuReqType_PRE_DUMP
	}
	opts := r.criuOpts(spec, rec.State.Rootfs, images, work, o.CRIUOptions, mode, "dump.log")
	opts.Pid = proto32(rec.State.Pid)
	opts.LeaveRunning = ptr(o.LeaveRunning || o.PreDump)
	opts.AutoDedup = ptr(o.AutoDedup)
	// The master of a container's terminal is outside it (with whoever
	// took it from the console socket): CRIU dumps the slave without it,
	// and restore makes a new pair, as with runc.
	opts.OrphanPtsMaster = ptr(true)
	if o.PreDump || o.ParentPath != "" {
		// Memory changes are tracked from a pre-dump to the next dump.
		opts.TrackMem = ptr(true)
	}
	if o.ParentPath != "" {
		opts.ParentImg = &o.ParentPath
	}
	opts.Ps = ps
	opts.LazyPages = ptr(o.LazyPages)
	if emptyNs != 0 {
		opts.EmptyNs = &emptyNs
	}
	var cgPaths map[string]string
	if rec.Cgroup != nil {
		cgPaths = rec.Cgroup.Paths
	}
	cg, err := hostCgroupLayout(cgPaths)
	if err != nil {
		removeNew()
		return err
	}
	for _, m := range criuExtMounts(spec, rec.State.Bundle, cg) {
		opts.ExtMnt = append(opts.ExtMnt, &rpc.ExtMountMap{Key: ptr(m.dest), Val: ptr(m.dest)})
	}
	for _, ns := range spec.Linux.Namespaces {
		if key, ok := extNsKey(ns); ok {
			var st unix.Stat_t
			if err := unix.Stat(ns.Path, &st); err != nil {
				removeNew()
				return &os.PathError{Op: "stat", Path: ns.Path, Err: err}
			}
			// The namespace was given by path: CRIU records it as external,
			// restore joins the one given then.
			opts.External = append(opts.External, fmt.Sprintf("%s[%d]:%s", criuNsName(ns.Type), st.Ino, key))
		}
	}
	if rec.State.Status == StatePaused && rec.Cgroup != nil {
		// The cgroup that froze it: v1's freezer hierarchy where there is
		// one (v1 and hybrid hosts, as runc), else the unified one.
		fcg := rec.Cgroup.Paths["freezer"]
		if fcg == "" {
			fcg = rec.Cgroup.Paths[""]
		}
		opts.FreezeCgroup = &fcg
	}
	c, err := startCriu([3]*os.File{}, nil, -1)
	if err != nil {
		removeNew()
		return err
	}
	_, err = c.do(&rpc.CriuReq{Type: &t, Opts: opts}, func(script string, _, fd int) error {
		if fd >= 0 {
			unix.Close(fd)
		}
		if script == "status-ready" && o.StatusFd != nil {
			// The lazy dump's images are written and its page server
			// listens: one zero byte, then the descriptor is closed, as
			// runc does (CRIU 3.15 and later say so by notification).
			if _, werr := o.StatusFd.Write([]byte{0}); werr != nil {
				r.log.Warn("status fd", "err", werr)
			}
			o.StatusFd.Close()
			o.StatusFd = nil
		}
		return nil
	})
	cerr := c.close()
	if err == nil && !o.PreDump {
		// After a pre-dump criu swrk waits for the next request of the
		// series and exits 255 when the socket closes instead: its answer
		// said whether the pre-dump worked.
		err = cerr
	}
	if err != nil {
		return r.criuFailed(ctx, opMsg(o.PreDump), work.Name(), "dump.log", err, removeNew)
	}
	if o.LeaveRunning || o.PreDump {
		return nil
	}
	// The processes are gone (CRIU killed them after the dump): the
	// container is stopped; delete it, as runc does, so that restore can
	// take its id.
	rec.State.Status = specs.StateStopped
	return r.destroy(ctx, l.path, rec)
}

func opMsg(pre bool) string {
	if pre {
		return "pre-dump"
	}
	return "dump"
}

// criuOpts are the options dump and restore share.
//
// CRIU opens the images and work directories through /proc/<pid>/fd/<fd>
// of the process that made its RPC socket, ours: their descriptors here,
// not passed to criu.
func (r *Runtime) criuOpts(spec *specs.Spec, rootfs string, images, work *os.File, o CRIUOptions, mode *rpc.CriuCgMode, logName string) *rpc.CriuOpts {
	opts := &rpc.CriuOpts{
		ImagesDirFd:    proto32(int(images.Fd())),
		WorkDirFd:      proto32(int(work.Fd())),
		LogLevel:       proto32(4),
		LogFile:        &logName,
		Root:           &rootfs,
		ManageCgroups:  ptr(true),
		TcpEstablished: ptr(o.TCPEstablished),
		ExtUnixSk:      ptr(o.ExtUnixSk),
		ShellJob:       ptr(o.ShellJob),
		FileLocks:      ptr(o.FileLocks),
		NotifyScripts:  ptr(true),
	}
	if mode != nil {
		opts.ManageCgroupsMode = mode
	}
	if os.Geteuid() != 0 {
		// CRIU's non-root mode (CRIU 3.18 and later, with
		// CAP_CHECKPOINT_RESTORE): a rootless container's user asks.
		opts.Unprivileged = ptr(true)
	}
	// runc's annotation: a configuration file for CRIU; none when empty.
	cfg, ok := spec.Annotations[CriuConfigAnnotation]
	if !ok {
		cfg = "/etc/criu/ocikit.conf"
		if _, err := os.Stat(cfg); err != nil {
			cfg = ""
		}
	}
	if cfg != "" {
		opts.ConfigFile = &cfg
	}
	return opts
}

// criuDirs opens the images directory (creating it for a dump) and the
// work directory (default: the images directory, created when missing).
// undo removes the directories it created, for a dump that did not
// happen.
func criuDirs(o CRIUOptions, dump bool) (images, work *os.File, closeAll, undo func(), err error) {
	var made []string
	mkdir := func(p string) error {
		if _, serr := os.Stat(p); errors.Is(serr, os.ErrNotExist) {
			made = append(made, p)
		}
		return os.MkdirAll(p, 0o700)
	}
	undo = func() {
		for _, p := range made {
			os.RemoveAll(p)
		}
	}
	if dump {
		if err := mkdir(o.ImagePath); err != nil {
			return nil, nil, nil, nil, fmt.Errorf("image path: %w", err)
		}
	}
	images, err = os.Open(o.ImagePath)
	if err != nil {
		undo()
		return nil, nil, nil, nil, fmt.Errorf("image path: %w", err)
	}
	wp := o.WorkPath
	if wp == "" {
		wp = o.ImagePath
	} else if err := mkdir(wp); err != nil {
		images.Close()
		undo()
		return nil, nil, nil, nil, fmt.Errorf("work path: %w", err)
	}
	work, err = os.Open(wp)
	if err != nil {
		images.Close()
		undo()
		return nil, nil, nil, nil, fmt.Errorf("work path: %w", err)
	}
	return images, work, func() { images.Close(); work.Close() }, undo, nil
}

// cgroupsMode maps --manage-cgroups-mode to CRIU's; nil for the default.
func cgroupsMode(m CgroupsMode) (*rpc.CriuCgMode, error) {
	var v rpc.CriuCgMode
	switch m {
	case "":
		return nil, nil
	case "soft":
		v = rpc.CriuCgMode_SOFT
	case "full":
		v = rpc.CriuCgMode_FULL
	case "strict":
		v = rpc.CriuCgMode_STRICT
	case "ignore":
		v = rpc.CriuCgMode_IGNORE
	default:
		return nil, errorf(ErrInvalidSpec, "--manage-cgroups-mode %q: want soft, full, strict or ignore", m)
	}
	return &v, nil
}

// extMount is a mount of the container whose source is outside it: CRIU
// cannot dump it and is told, at the dump, that it is external (key: its
// destination) and, at the restore, what to bind there.
type extMount struct {
	dest   string
	source string // on the host, for restore
}

// cgroupLayout is what a cgroup mount of the container binds: the
// host's cgroup v1 or hybrid hierarchies (none on a v2 host) and the
// container's cgroup directories, keyed as cgroups.State.Paths (at the
// dump the checkpointed container's, at the restore the new one's).
type cgroupLayout struct {
	hs    []rootfs.Hierarchy
	paths map[string]string
}

// hostCgroupLayout is the layout of this host with the container's paths.
func hostCgroupLayout(paths map[string]string) (cgroupLayout, error) {
	var hs []rootfs.Hierarchy
	if cgroups.HostMode() != cgroups.Unified {
		var err error
		if hs, err = rootfs.Hierarchies(); err != nil {
			return cgroupLayout{}, fmt.Errorf("cgroup hierarchies: %w", err)
		}
	}
	return cgroupLayout{hs: hs, paths: paths}, nil
}

// criuExtMounts are the container's external mounts, as runc declares
// them: bind mounts, and with a user namespace the devices, which are
// then bound from the host's /dev. A cgroup mount is external where it
// is made of binds of the container's cgroups: on a cgroup v1 or hybrid
// host each hierarchy's directory under a tmpfs (the tmpfs itself CRIU
// dumps), on a cgroup v2 host without a cgroup namespace the unified
// directory. (runc leaves v1 hierarchies out in a cgroup namespace, where
// it mounts them; ocikit binds them there too.)
func criuExtMounts(spec *specs.Spec, bundle string, cg cgroupLayout) []extMount {
	var out []extMount
	userns := false
	cgroupns := false
	for _, ns := range spec.Linux.Namespaces {
		userns = userns || ns.Type == specs.UserNamespace
		cgroupns = cgroupns || ns.Type == specs.CgroupNamespace
	}
	for _, m := range spec.Mounts {
		dest := path.Clean("/" + m.Destination)
		switch {
		case m.Type == "bind" || slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind"):
			src := m.Source
			if !filepath.IsAbs(src) {
				src = filepath.Join(bundle, src)
			}
			out = append(out, extMount{dest: dest, source: src})
		case (m.Type == "cgroup" || m.Type == "cgroup2") && len(cg.hs) > 0:
			for _, b := range rootfs.CgroupBinds(cg.hs, dest, cg.paths) {
				out = append(out, extMount{dest: b.Dest, source: b.Source})
			}
		case m.Type == "cgroup" || m.Type == "cgroup2":
			if !cgroupns && cg.paths[""] != "" {
				out = append(out, extMount{dest: dest, source: cg.paths[""]})
			}
		case m.Type == "sysfs" && userns:
			// Without a network namespace of its own a user namespace
			// cannot mount sysfs: ocikit binds the host's /sys.
			out = append(out, extMount{dest: dest, source: "/sys"})
		}
	}
	if userns {
		devs := spec.Linux.Devices
		for _, d := range defaultDevPaths {
			if !slices.ContainsFunc(devs, func(x specs.LinuxDevice) bool { return x.Path == d }) {
				out = append(out, extMount{dest: d, source: d})
			}
		}
		for _, d := range devs {
			out = append(out, extMount{dest: d.Path, source: d.Path})
		}
	}
	return out
}

var defaultDevPaths = []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"}

// extNsKey is the key of a namespace given by path that CRIU treats as
// external (network and pid, as runc), and whether it is one.
func extNsKey(ns specs.LinuxNamespace) (string, bool) {
	if ns.Path == "" {
		return "", false
	}
	switch ns.Type {
	case specs.NetworkNamespace:
		return "extRootNetNS", true
	case specs.PIDNamespace:
		return "extRootPidNS", true
	}
	return "", false
}

// criuNsName is the name CRIU gives a namespace type.
func criuNsName(t specs.LinuxNamespaceType) string {
	switch t {
	case specs.NetworkNamespace:
		return "net"
	case specs.MountNamespace:
		return "mnt"
	}
	return string(t)
}

// emptyNsMask is the CLONE_NEW* mask of --empty-ns. CRIU empties only a
// network namespace (its RPC refuses any other bit with a bare "bad
// request"): the others are refused here by name.
func emptyNsMask(names []string) (uint32, error) {
	var mask uint32
	for _, ns := range names {
		flag, ok := criuNsFlag(ns)
		switch {
		case !ok:
			return 0, errorf(ErrInvalidSpec, "--empty-ns %q: not a namespace type", ns)
		case flag != unix.CLONE_NEWNET:
			return 0, errorf(ErrNotSupported, "--empty-ns %q: CRIU can leave only the network namespace empty", ns)
		}
		mask |= flag
	}
	return mask, nil
}

// pageServer parses --page-server ADDRESS:PORT (nil when empty).
func pageServer(s string) (*rpc.CriuPageServerInfo, error) {
	if s == "" {
		return nil, nil
	}
	host, port, err := net.SplitHostPort(s)
	p, perr := strconv.Atoi(port)
	if err != nil || perr != nil || p <= 0 || p > 65535 {
		return nil, errorf(ErrInvalidSpec, "--page-server %q: want ADDRESS:PORT", s)
	}
	ps := &rpc.CriuPageServerInfo{Port: proto32(p)}
	if host != "" {
		ps.Address = &host
	}
	return ps, nil
}

// checkLazy checks the options of a lazy dump before anything happens: a
// page server to serve the memory from, a writable status descriptor
// that only a lazy dump uses.
func checkLazy(o CheckpointOptions) error {
	if o.StatusFd != nil {
		if !o.LazyPages {
			return errorf(ErrInvalidSpec, "--status-fd is only used with --lazy-pages")
		}
		fl, err := unix.FcntlInt(o.StatusFd.Fd(), unix.F_GETFL, 0)
		if err != nil {
			return errorf(ErrInvalidSpec, "--status-fd %s: %v", o.StatusFd.Name(), err)
		}
		if fl&unix.O_ACCMODE == unix.O_RDONLY {
			return errorf(ErrInvalidSpec, "--status-fd %s: not open for writing", o.StatusFd.Name())
		}
	}
	if o.LazyPages && o.PageServer == "" {
		return errorf(ErrInvalidSpec, "--lazy-pages needs --page-server ADDRESS:PORT, where the memory is served to the restore's criu lazy-pages daemon")
	}
	if o.LazyPages && o.PreDump {
		return errorf(ErrInvalidSpec, "--lazy-pages and --pre-dump: a pre-dump copies the memory, a lazy dump serves it; use one")
	}
	return nil
}

func criuNsFlag(name string) (uint32, bool) {
	switch name {
	case "network", "net":
		return unix.CLONE_NEWNET, true
	case "ipc":
		return unix.CLONE_NEWIPC, true
	case "uts":
		return unix.CLONE_NEWUTS, true
	case "mount", "mnt":
		return unix.CLONE_NEWNS, true
	case "pid":
		return unix.CLONE_NEWPID, true
	case "user":
		return unix.CLONE_NEWUSER, true
	case "cgroup":
		return unix.CLONE_NEWCGROUP, true
	}
	return 0, false
}

// saveDescriptors writes what descriptors 0-2 of pid are (readlink of
// /proc/pid/fd/N) to the images directory.
func saveDescriptors(dir string, pid int) error {
	fds := make([]string, 3)
	for i := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, i))
		if err == nil {
			fds[i] = l
		}
	}
	b, _ := json.Marshal(fds)
	if err := fsutil.WriteFile(filepath.Join(dir, descriptorsFile), b, 0o600, fsutil.NoSync()); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// loadDescriptors reads saveDescriptors' file (nil without one).
func loadDescriptors(dir string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, descriptorsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	var fds []string
	if err := json.Unmarshal(b, &fds); err != nil {
		return nil, fmt.Errorf("restore: %s: %w", descriptorsFile, err)
	}
	return fds, nil
}

func ptr[T any](v T) *T { return &v }

func proto32[T ~int | ~int32](v T) *int32 { x := int32(v); return &x }
