package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/checkpoint-restore/go-criu/v8/rpc"
	"github.com/ocikit/ocikit/cgroups"
	"golang.org/x/sys/unix"
)

// restoreJob is a restore in progress: its options, CRIU's cgroup mode
// and the namespaces to restore empty.
type restoreJob struct {
	o       RestoreOptions
	mode    *rpc.CriuCgMode
	emptyNs uint32 // CLONE_NEW* of --empty-ns
}

// Restore creates container id from the bundle with its processes
// restored from the checkpoint in ro.ImagePath (runc's restore). It goes
// through create's path (checks, state, cgroup and its limits, prestart
// and createRuntime hooks, console socket, pid file); the container is
// running once it returns. With ro.Detach it returns 0 then; otherwise it
// waits for the restored init as Run does, deletes the container and
// returns the init's exit status.
func (r *Runtime) Restore(ctx context.Context, id, bundle string, o CreateOptions, ro RestoreOptions) (int, error) {
	if ro.ImagePath == "" {
		return -1, errorf(ErrInvalidSpec, "--image-path is required")
	}
	mode, err := cgroupsMode(ro.ManageCgroupsMode)
	if err != nil {
		return -1, err
	}
	emptyNs, err := emptyNsMask(ro.EmptyNs)
	if err != nil {
		return -1, err
	}
	if _, err := os.Stat(ro.ImagePath); err != nil {
		return -1, fmt.Errorf("image path: %w", err)
	}
	if err := criuRootless(); err != nil {
		return -1, err
	}
	if ro.LazyPages {
		if err := lazyDaemon(ro.CRIUOptions); err != nil {
			return -1, err
		}
		if err := criuCanLazy(ctx); err != nil {
			return -1, err
		}
	}
	var fg *foreground
	if !ro.Detach {
		// The restored init is our child (CRIU's rst_sibling): as Run, wait
		// for it with every signal forwarded.
		if fg, err = newForeground(!ro.NoSubreaper); err != nil {
			return -1, err
		}
		defer fg.stop()
		ctx = context.WithoutCancel(ctx)
	}
	c, err := r.createWith(ctx, id, bundle, o, false, &restoreJob{o: ro, mode: mode, emptyNs: emptyNs})
	if err != nil {
		return -1, err
	}
	if ro.Detach {
		return 0, nil
	}
	fg.ready()
	code := fg.wait(c.Pid, nil)
	r.deleteQuiet(ctx, id)
	return code, nil
}

// restoreProcess has CRIU restore the container's processes, the part of
// create that launch does for a new container. CRIU runs in the
// container's cgroup (created and limited first), so that what it
// restores is born there, as with runc.
func (s *setup) restoreProcess(ctx context.Context) error {
	ro := s.restore.o
	spec := s.spec
	if s.rec.HostMounts != nil {
		return errorf(ErrNotSupported, "restore needs a container with a mount namespace of its own")
	}
	images, work, closeDirs, undo, err := criuDirs(ro.CRIUOptions, false)
	if err != nil {
		return err
	}
	defer closeDirs()
	fds, err := loadDescriptors(images.Name())
	if err != nil {
		return err
	}
	if err := s.cg.Apply(-1); err != nil {
		return step("cgroup", err)
	}
	if res := spec.Linux.Resources; res != nil {
		if err := s.cg.Set(res); err != nil {
			return step("cgroup", err)
		}
	}
	// CRIU wants the root filesystem to be a mount point (runc binds it
	// onto itself too); the bind is ours to remove once CRIU has made
	// the container's mount namespace.
	root := s.rec.State.Rootfs
	if err := unix.Mount(root, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return &os.PathError{Op: "bind", Path: root, Err: err}
	}
	defer unix.Unmount(root, unix.MNT_DETACH)

	opts := s.r.criuOpts(spec, root, images, work, ro.CRIUOptions, s.restore.mode, "restore.log")
	opts.RstSibling = ptr(true)
	opts.EvasiveDevices = ptr(true)
	opts.AutoDedup = ptr(ro.AutoDedup)
	opts.LazyPages = ptr(ro.LazyPages)
	if e := s.restore.emptyNs; e != 0 {
		// A new namespace that CRIU leaves as the kernel makes it (only
		// a loopback, down): whoever restores sets it up, e.g. from a
		// prestart or createRuntime hook, which run once it exists.
		opts.EmptyNs = &e
	}
	if ro.LsmProfile != "" {
		opts.LsmProfile = ptr(ro.LsmProfile)
	}
	if ro.LsmMountContext != "" {
		opts.LsmMountContext = ptr(ro.LsmMountContext)
	}
	// The cgroup mount binds the new container's cgroups, as create
	// would (its caller's where a rootless one has none).
	cg, err := hostCgroupLayout(mountCgroupPaths(s.cg, os.Getpid()))
	if err != nil {
		return err
	}
	for _, m := range criuExtMounts(spec, s.rec.State.Bundle, cg) {
		opts.ExtMnt = append(opts.ExtMnt, &rpc.ExtMountMap{Key: ptr(m.dest), Val: ptr(m.source)})
	}
	var files []*os.File
	for i, d := range fds {
		// The restored stdio: ours where it was a pipe (a caller's pipes,
		// as runc does; a terminal comes back through the console socket).
		if strings.HasPrefix(d, "pipe:") {
			opts.InheritFd = append(opts.InheritFd, &rpc.InheritFd{Key: ptr(d), Fd: proto32(i)})
		}
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Path == "" {
			continue
		}
		if key, ok := extNsKey(ns); ok {
			f, err := os.Open(ns.Path)
			if err != nil {
				return fmt.Errorf("restore: %w", err)
			}
			defer f.Close()
			opts.InheritFd = append(opts.InheritFd, &rpc.InheritFd{Key: ptr(key), Fd: ptr(fdOf(len(files)))})
			files = append(files, f)
			continue
		}
		opts.JoinNs = append(opts.JoinNs, &rpc.JoinNamespace{Ns: ptr(criuNsName(ns.Type)), NsFile: ptr(ns.Path)})
	}
	if spec.Process != nil && spec.Process.Terminal {
		// The pty master stayed with whoever held it: CRIU makes a new
		// pair and sends the master (orphan-pts-master), which goes to the
		// console socket.
		opts.OrphanPtsMaster = ptr(true)
	}
	// Born in the container's cgroup where the host allows (cgroup v2,
	// the filesystem driver), moved there before the request otherwise.
	cgFD := -1
	if !s.r.systemd && cgroups.HostMode() == cgroups.Unified {
		if f, err := os.OpenFile(s.cg.Path(""), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
			defer f.Close()
			cgFD = int(f.Fd())
		}
	}
	t0 := time.Now()
	c, err := startCriu([3]*os.File{orStd(s.o.Stdin, os.Stdin), orStd(s.o.Stdout, os.Stdout), orStd(s.o.Stderr, os.Stderr)}, files, cgFD)
	if err != nil {
		return err
	}
	defer c.close()
	if cgFD < 0 {
		if err := s.cg.Enter(c.cmd.Process.Pid); err != nil {
			return step("cgroup", err)
		}
	}
	if opts.CgRoot, err = cgroupRoots(c.cmd.Process.Pid); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	t := rpc.CriuReqType_RESTORE
	_, err = c.do(&rpc.CriuReq{Type: &t, Opts: opts}, func(script string, pid, fd int) error {
		return s.criuNotified(ctx, script, pid, fd)
	})
	if err != nil {
		return s.r.criuFailed(ctx, "restore", work.Name(), "restore.log", err, undo)
	}
	if err := c.close(); err != nil {
		return err
	}
	if s.pid <= 0 {
		return errors.New("restore: CRIU did not report the restored init")
	}
	s.r.log.Debug("restored", "container", s.id, "pid", s.pid, "elapsed", time.Since(t0))
	return nil
}

// criuNotified handles CRIU's notifications during a restore: the
// prestart and createRuntime hooks once the namespaces exist (runc runs
// them there too), the restored init's pid, the new pty master.
func (s *setup) criuNotified(ctx context.Context, script string, pid, fd int) error {
	switch script {
	case "setup-namespaces":
		if h := s.spec.Hooks; h != nil && (len(h.Prestart) > 0 || len(h.CreateRuntime) > 0) {
			s.rec.State.Pid = pid
			return s.runtimeHooks(ctx)
		}
	case "post-restore":
		s.pid = pid
		s.rec.State.Pid = pid
		if st, _, err := procStat(pid); err == nil {
			s.rec.InitStart = st
		}
		// Recorded now: a restore killed from here on leaves a container
		// whose processes delete --force finds.
		return writeState(s.dir, s.rec)
	case "orphan-pts-master":
		if fd < 0 {
			return errors.New("restore: no pty master from CRIU")
		}
		return s.console(fd)
	}
	if fd >= 0 {
		unix.Close(fd)
	}
	return nil
}

// lazyPagesSocket is where a `criu lazy-pages` daemon listens for the
// restore, in its work directory (CRIU's LAZY_PAGES_SOCK_NAME).
const lazyPagesSocket = "lazy-pages.socket"

// lazyDaemon checks that a criu lazy-pages daemon serves the restore's
// work directory: without one CRIU fails deep in the restore.
func lazyDaemon(o CRIUOptions) error {
	dir := o.WorkPath
	if dir == "" {
		dir = o.ImagePath
	}
	p := filepath.Join(dir, lazyPagesSocket)
	if st, err := os.Stat(p); err != nil || st.Mode()&os.ModeSocket == 0 {
		w := ""
		if o.WorkPath != "" {
			w = " -W " + o.WorkPath
		}
		return errorf(ErrInvalidSpec, "--lazy-pages: no criu lazy-pages daemon serves %s (start `criu lazy-pages [--page-server --address A --port P] -D %s%s` first)", dir, o.ImagePath, w)
	}
	return nil
}
