package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ocikit/ocikit/cgroups"
	"github.com/ocikit/ocikit/runtime/nsenter"
	"github.com/ocikit/ocikit/runtime/process"
	"github.com/ocikit/ocikit/runtime/rootfs"
	"github.com/ocikit/ocikit/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Container is a container this process has just created.
type Container struct {
	ID  string
	Pid int
	// Console is the pty master of a foreground container with
	// process.terminal and no console socket; nil otherwise.
	Console *os.File
}

// Create creates a container from the bundle (runtime.md "Create"): its
// namespaces, cgroup, root filesystem and process attributes are set up and
// its init waits for Start. On failure nothing is left behind.
func (r *Runtime) Create(ctx context.Context, id, bundle string, o CreateOptions) (*Container, error) {
	return r.create(ctx, id, bundle, o, false)
}

var nsFlags = map[specs.LinuxNamespaceType]uintptr{
	specs.PIDNamespace:     unix.CLONE_NEWPID,
	specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.MountNamespace:   unix.CLONE_NEWNS,
	specs.IPCNamespace:     unix.CLONE_NEWIPC,
	specs.UTSNamespace:     unix.CLONE_NEWUTS,
	specs.UserNamespace:    unix.CLONE_NEWUSER,
	specs.CgroupNamespace:  unix.CLONE_NEWCGROUP,
	specs.TimeNamespace:    unix.CLONE_NEWTIME,
}

// nsPlan is how the init gets its namespaces.
type nsPlan struct {
	newFlags uintptr // namespaces to create (without cgroup: the init unshares it)
	joins    []specs.LinuxNamespace
	has      map[specs.LinuxNamespaceType]bool // new or joined
	newNS    map[specs.LinuxNamespaceType]bool
	viaC     bool // nsenter does the work (joins or a time namespace)
	fork     bool // nsenter forks once (pid or time namespace)
}

func planNamespaces(l *specs.Linux) (*nsPlan, error) {
	p := &nsPlan{has: map[specs.LinuxNamespaceType]bool{}, newNS: map[specs.LinuxNamespaceType]bool{}}
	for _, ns := range l.Namespaces {
		f, ok := nsFlags[ns.Type]
		if !ok {
			return nil, errorf(ErrInvalidSpec, "linux.namespaces: unknown type %q", ns.Type)
		}
		if p.has[ns.Type] {
			return nil, errorf(ErrInvalidSpec, "linux.namespaces: %s namespace listed twice", ns.Type)
		}
		p.has[ns.Type] = true
		if ns.Path == "" {
			p.newNS[ns.Type] = true
			if ns.Type != specs.CgroupNamespace {
				p.newFlags |= f
			}
			continue
		}
		if !filepath.IsAbs(ns.Path) || strings.ContainsAny(ns.Path, "\n\x00") {
			return nil, errorf(ErrInvalidSpec, "linux.namespaces: %s path %q must be absolute", ns.Type, ns.Path)
		}
		p.joins = append(p.joins, ns)
	}
	p.viaC = len(p.joins) > 0 || p.has[specs.TimeNamespace]
	// Joining or unsharing a pid or time namespace affects only the
	// children of the caller: nsenter forks the init once.
	p.fork = p.viaC && (p.has[specs.PIDNamespace] || p.has[specs.TimeNamespace])
	return p, nil
}

func loadSpec(bundle string) (*specs.Spec, []byte, error) {
	data, err := os.ReadFile(filepath.Join(bundle, configFile))
	if err != nil {
		return nil, nil, fmt.Errorf("read bundle: %w", err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, nil, errorf(ErrInvalidSpec, "%s: %v", filepath.Join(bundle, configFile), err)
	}
	return &spec, data, nil
}

// checkSpec rejects what the runtime cannot apply, before anything starts
// (runtime.md "Create": a property that cannot be applied is an error and
// no container is created).
func checkSpec(spec *specs.Spec, plan *nsPlan, o CreateOptions, fg bool, log *slog.Logger) error {
	bad := func(format string, args ...any) error { return errorf(ErrInvalidSpec, format, args...) }
	if !validVersion.MatchString(spec.Version) {
		return bad("config.json: ociVersion %q is not a runtime-spec 1.x version", spec.Version)
	}
	p := spec.Process
	if p == nil {
		// runtime.md "Start" (not create) MUST fail without a process.
		p = &specs.Process{Args: []string{"-"}}
	}
	if len(p.Args) == 0 || p.Args[0] == "" {
		return bad("config.json: process.args must not be empty")
	}
	if spec.Root == nil || spec.Root.Path == "" {
		return bad("config.json: root.path is required")
	}
	if spec.Hostname != "" && !plan.has[specs.UTSNamespace] {
		return bad("config.json: hostname needs a uts namespace")
	}
	if spec.Domainname != "" && !plan.has[specs.UTSNamespace] {
		return bad("config.json: domainname needs a uts namespace")
	}
	l := spec.Linux
	if plan.newNS[specs.UserNamespace] && (len(l.UIDMappings) == 0 || len(l.GIDMappings) == 0) {
		return bad("config.json: a new user namespace needs uidMappings and gidMappings")
	}
	if !plan.newNS[specs.UserNamespace] && (len(l.UIDMappings) > 0 || len(l.GIDMappings) > 0) {
		return bad("config.json: uidMappings and gidMappings need a new user namespace")
	}
	if len(l.TimeOffsets) > 0 && !plan.newNS[specs.TimeNamespace] {
		return bad("config.json: timeOffsets need a new time namespace")
	}
	if p.Terminal && o.ConsoleSocket == "" && !fg {
		return bad("process.terminal is true: --console-socket is required")
	}
	if !p.Terminal && o.ConsoleSocket != "" {
		return bad("--console-socket given but process.terminal is false")
	}
	if o.PreserveFDs < 0 {
		return bad("--preserve-fds must not be negative")
	}
	if spec.Process != nil {
		// Unknown capability names are a warning, not an error
		// (config.md "Linux Process", runtime-spec 1.3).
		if err := process.ValidateProcess(p, process.WithLogger(log)); err != nil {
			return err
		}
	}
	return process.ValidateLinux(l)
}

// validVersion matches the SemVer 2.0.0 versions of runtime-spec 1.x
// (config.md "Specification version").
var validVersion = regexp.MustCompile(`^1\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// setup is one create in progress.
type setup struct {
	r       *Runtime
	id      string
	bundle  string
	spec    *specs.Spec
	o       CreateOptions
	fg      bool
	plan    *nsPlan
	dir     string
	dirFile *os.File // the state directory, open (and locked)
	rec     *record

	cmd      *exec.Cmd
	pid      int
	cg       *cgroups.Manager
	master   *os.File
	closers  []io.Closer
	hookFail bool
}

func (r *Runtime) create(ctx context.Context, id, bundle string, o CreateOptions, fg bool) (*Container, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	bundle, err := filepath.Abs(bundle)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	spec, specData, err := loadSpec(bundle)
	if err != nil {
		return nil, err
	}
	if spec.Linux == nil {
		spec.Linux = &specs.Linux{}
	}
	plan, err := planNamespaces(spec.Linux)
	if err != nil {
		return nil, err
	}
	if err := checkSpec(spec, plan, o, fg, r.log); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(r.root, 0o700); err != nil {
		return nil, fmt.Errorf("state root: %w", err)
	}
	dir := r.dir(id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, errorf(ErrExist, "container %q already exists", id)
		}
		return nil, fmt.Errorf("state: %w", err)
	}
	lf, err := os.Open(dir)
	if err == nil {
		err = flock(lf, unix.LOCK_EX)
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("lock state: %w", err)
	}
	defer lf.Close()
	rootPath := spec.Root.Path
	if !filepath.IsAbs(rootPath) {
		rootPath = filepath.Join(bundle, rootPath)
	}
	s := &setup{r: r, id: id, bundle: bundle, spec: spec, o: o, fg: fg, plan: plan, dir: dir, dirFile: lf}
	if err := os.WriteFile(filepath.Join(dir, configFile), specData, 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("state: %w", err)
	}
	needsSpec := spec.Linux.Seccomp != nil && spec.Linux.Seccomp.ListenerPath != ""
	if h := spec.Hooks; h != nil && (len(h.Poststart) > 0 || len(h.Poststop) > 0) {
		needsSpec = true
	}
	s.rec = &record{spec: spec, Hooks: needsSpec, State: State{
		State: specs.State{
			Version: specs.Version, ID: id, Status: specs.StateCreating,
			Bundle: bundle, Annotations: spec.Annotations,
		},
		Rootfs:  rootPath,
		Created: time.Now().UTC(),
	}}
	if !plan.has[specs.MountNamespace] {
		// config-linux.md "Namespaces": a type not listed is inherited.
		// The init mounts in the runtime's mount namespace, under the
		// root filesystem; delete must unmount what it mounted there.
		hm, err := newHostMounts(rootPath)
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		s.rec.HostMounts = hm
	}
	c, err := s.run(ctx)
	for _, cl := range s.closers {
		cl.Close()
	}
	if err != nil {
		s.abort(ctx)
		return nil, err
	}
	return c, nil
}

// newHostMounts resolves the root filesystem as the init will (symbolic
// links and all) and notes the mounts already there, which are not the
// container's to remove.
func newHostMounts(rootPath string) (*hostMounts, error) {
	p, err := filepath.EvalSymlinks(rootPath)
	if err != nil {
		return nil, fmt.Errorf("root.path: %w", err)
	}
	keep, err := rootfs.MountsUnder(p)
	if err != nil {
		return nil, err
	}
	return &hostMounts{Root: p, Keep: keep}, nil
}

func (s *setup) closeLater(c io.Closer) { s.closers = append(s.closers, c) }

func (s *setup) run(ctx context.Context) (*Container, error) {
	spec, plan := s.spec, s.plan
	// The cgroup manager first: a configuration it refuses (or a missing
	// systemd) fails before any process starts. Nothing is created yet.
	cg, err := s.r.newCgroup(s.id, spec)
	if err != nil {
		return nil, err
	}
	s.cg = cg
	exeFile, err := initBinary()
	if err != nil {
		return nil, err
	}
	s.closeLater(exeFile)
	cfg := &initConfig{
		ID: s.id, Bundle: s.bundle, Spec: spec,
		NoPivot: s.o.NoPivot, NoMountNS: !plan.has[specs.MountNamespace], NoNewKeyring: s.o.NoNewKeyring, PreserveFDs: s.o.PreserveFDs,
		ConsoleFD:   -1,
		UserNS:      plan.has[specs.UserNamespace],
		NewCgroupNS: plan.newNS[specs.CgroupNamespace],
	}
	if h := spec.Hooks; h != nil {
		cfg.RuntimeHooks = len(h.Prestart) > 0 || len(h.CreateRuntime) > 0
	}
	var files []*os.File
	for i := 0; i < s.o.PreserveFDs; i++ {
		files = append(files, os.NewFile(uintptr(3+i), "preserved"))
	}
	addFile := func(f *os.File) int {
		files = append(files, f)
		return 3 + len(files) - 1
	}
	if spec.Linux.Seccomp != nil {
		// Compiled here, loaded by the init: see initConfig.Seccomp.
		prog, err := seccomp.Compile(spec.Linux.Seccomp,
			seccomp.WithCacheDir(filepath.Join(s.r.root, seccompCache)), seccomp.WithLogger(s.r.log))
		if err != nil {
			return nil, err // "seccomp: ..."
		}
		cfg.Seccomp = prog
		l := *spec.Linux
		l.Seccomp = nil
		sp := *spec
		sp.Linux = &l
		cfg.Spec = &sp
	}
	// Idmapped mounts are made here, in the runtime's user namespace:
	// inside the container's, mount_setattr(2) would need privileges over
	// the filesystem's owner namespace. Not for a mount namespace joined
	// by path, where the sources are the joined namespace's.
	if !plan.has[specs.MountNamespace] || plan.newNS[specs.MountNamespace] {
		fds, err := rootfs.OpenIDMappedMounts(spec, s.bundle)
		if err != nil {
			return nil, step("prepare rootfs", err)
		}
		for i, f := range fds {
			s.closeLater(f)
			if cfg.MountFds == nil {
				cfg.MountFds = map[int]int{}
			}
			cfg.MountFds[i] = addFile(f)
		}
	}
	// The init is executed through a descriptor: the state root may be
	// closed to the init's user (a user namespace's root is not the
	// host's), the binary itself is world-executable.
	cmd := &exec.Cmd{Path: "/proc/self/fd/" + strconv.Itoa(addFile(exeFile)), Args: []string{"ocikit", "init"}}

	// Configuration pipe.
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("config pipe: %w", err)
	}
	s.closeLater(cfgR)
	s.closeLater(cfgW)
	cfgFD := addFile(cfgR)
	// Sync socket.
	syncP, syncC, err := socketpair()
	if err != nil {
		return nil, err
	}
	s.closeLater(syncP)
	s.closeLater(syncC)
	cfg.SyncFD = addFile(syncC)
	// Start socket: the init accepts on it once ready; `start` connects.
	lfd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	lf := os.NewFile(uintptr(lfd), "start.sock")
	s.closeLater(lf)
	if err := unix.Bind(lfd, &unix.SockaddrUnix{Name: sockPath(s.dirFile)}); err != nil {
		return nil, &os.PathError{Op: "bind", Path: filepath.Join(s.dir, startSock), Err: err}
	}
	if err := unix.Listen(lfd, 1); err != nil {
		return nil, os.NewSyscallError("listen", err)
	}
	cfg.StartFD = addFile(lf)
	// Terminal.
	if spec.Process != nil && spec.Process.Terminal {
		master, slavePath, err := openPty()
		if err != nil {
			return nil, step("console", err)
		}
		s.master = master
		slave, err := openSlave(slavePath)
		if err != nil {
			return nil, step("console", err)
		}
		s.closeLater(slave)
		if uid := spec.Process.User.UID; uid != 0 || spec.Process.User.GID != 0 {
			// The program owns its terminal, as with a login.
			hostUID := hostID(spec.Linux.UIDMappings, uid)
			hostGID := hostID(spec.Linux.GIDMappings, spec.Process.User.GID)
			if err := slave.Chown(int(hostUID), int(hostGID)); err != nil {
				return nil, step("console", err)
			}
		}
		cfg.ConsoleFD = addFile(slave)
		cfg.ConsolePath = slavePath
	} else {
		cmd.Stdin = orStd(s.o.Stdin, os.Stdin)
		cmd.Stdout = orStd(s.o.Stdout, os.Stdout)
		cmd.Stderr = orStd(s.o.Stderr, os.Stderr)
	}
	cmd.Env = []string{initFDEnv + "=" + strconv.Itoa(cfgFD)}
	if !plan.has[specs.UserNamespace] {
		// In a user namespace the init needs to write its own /proc files
		// (a non-dumpable process's belong to the host's root) and its
		// root cannot write the host's binary anyway.
		cmd.Env = append(cmd.Env, "_OCIKIT_NODUMP=1")
	}
	attr := &syscall.SysProcAttr{}
	if plan.viaC && !nsenter.Available {
		return nil, errorf(ErrNotSupported, "namespaces given by path and time namespaces need ocikit built with cgo")
	}
	if plan.viaC {
		planText := s.nsenterPlan(cfg.SyncFD)
		pr, pw, err := os.Pipe()
		if err != nil {
			return nil, fmt.Errorf("nsenter pipe: %w", err)
		}
		s.closeLater(pr)
		if _, err := pw.WriteString(planText); err != nil {
			pw.Close()
			return nil, fmt.Errorf("nsenter pipe: %w", err)
		}
		pw.Close()
		cmd.Env = append(cmd.Env, "_OCIKIT_NSENTER="+strconv.Itoa(addFile(pr)))
	} else {
		attr.Cloneflags = plan.newFlags
		if plan.newNS[specs.UserNamespace] {
			attr.UidMappings = idMaps(spec.Linux.UIDMappings)
			attr.GidMappings = idMaps(spec.Linux.GIDMappings)
			// An unprivileged user may write gid_map only after denying
			// setgroups(2) (user_namespaces(7)).
			attr.GidMappingsEnableSetgroups = os.Geteuid() == 0
			// Become the namespace's root before execve, or the init
			// would run without capabilities in its own namespace.
			if isMapped(spec.Linux.UIDMappings, 0) && isMapped(spec.Linux.GIDMappings, 0) {
				attr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true}
			}
		}
	}
	cmd.SysProcAttr = attr
	cmd.ExtraFiles = files
	// On a pure cgroup v2 host the init is born in its cgroup
	// (clone3 CLONE_INTO_CGROUP): no migration, whose write lock on the
	// cgroup hierarchy costs an RCU grace period.
	intoCgroup, err := s.cgroupAtClone(attr)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		if !intoCgroup {
			return nil, fmt.Errorf("start init: %w", err)
		}
		// A kernel without clone3 or a cgroup refusing processes: start
		// the usual way and migrate the init below.
		s.r.log.Debug("clone into cgroup failed", "container", s.id, "error", err)
		intoCgroup = false
		attr.UseCgroupFD, attr.CgroupFD = false, -1
		cmd = &exec.Cmd{Path: cmd.Path, Args: cmd.Args, Env: cmd.Env, Stdin: cmd.Stdin, Stdout: cmd.Stdout,
			Stderr: cmd.Stderr, ExtraFiles: cmd.ExtraFiles, SysProcAttr: attr}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("start init: %w", err)
		}
	}
	s.r.log.Debug("init started", "container", s.id, "pid", cmd.Process.Pid)
	s.cmd = cmd
	syncC.Close()
	cfgR.Close()
	lf.Close()

	if plan.fork {
		pid, err := s.waitForkedPid(syncP)
		if err != nil {
			return nil, err
		}
		s.pid = pid
		// The intermediate process exits right after reporting.
		cmd.Wait()
		s.cmd = nil
	} else {
		s.pid = cmd.Process.Pid
	}
	s.rec.State.Pid = s.pid
	if st, _, err := procStat(s.pid); err == nil {
		s.rec.InitStart = st
	}
	// Record the pid now: a create killed from here on leaves a
	// "creating" container that delete --force can clean up.
	if err := writeState(s.dir, s.rec); err != nil {
		return nil, err
	}

	// The cgroup, before the init runs anything of the container's.
	if !intoCgroup {
		if err := cg.Apply(s.pid); err != nil {
			return nil, step("cgroup", err)
		}
	}
	cgState := cg.State()
	s.rec.Cgroup = &cgState
	if err := writeState(s.dir, s.rec); err != nil {
		return nil, err
	}
	// The pids limit waits until the init is set up (msgReady below): the
	// init is a Go program whose runtime starts threads while it sets up,
	// and each counts against pids.max, so `docker run --pids-limit 2`
	// would abort it. runc likewise sets its limits only once its init
	// has prepared the rootfs; the container's own program, started by
	// execve, is bound by the limit from its first instruction.
	var pids *specs.LinuxPids
	if res := spec.Linux.Resources; res != nil {
		early := *res
		pids, early.Pids = res.Pids, nil
		if err := cg.Set(&early); err != nil {
			return nil, step("cgroup", err)
		}
	}
	cfg.CgroupPaths = cg.Paths()
	s.r.log.Debug("cgroup applied", "container", s.id, "elapsed", time.Since(t0))

	data, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encode init config: %w", err)
	}
	go func() {
		cfgW.Write(data)
		cfgW.Close()
	}()
	if err := s.converse(ctx, syncP); err != nil {
		return nil, err
	}
	if pids != nil {
		if err := cg.Update(&specs.LinuxResources{Pids: pids}); err != nil {
			return nil, step("cgroup", err)
		}
	}
	s.r.log.Debug("init ready", "container", s.id, "elapsed", time.Since(t0))
	if s.master != nil && s.o.ConsoleSocket != "" {
		if err := sendConsole(s.o.ConsoleSocket, s.master); err != nil {
			return nil, err
		}
		s.master.Close()
		s.master = nil
	}
	s.rec.State.Status = specs.StateCreated
	if err := writeState(s.dir, s.rec); err != nil {
		return nil, err
	}
	if s.o.PidFile != "" {
		pf, err := filepath.Abs(s.o.PidFile)
		if err == nil {
			err = writeFileAtomic(pf, []byte(strconv.Itoa(s.pid)), 0o644)
		}
		if err != nil {
			return nil, fmt.Errorf("pid file: %w", err)
		}
	}
	c := &Container{ID: s.id, Pid: s.pid, Console: s.master}
	s.master = nil
	return c, nil
}

const startSock = "start.sock"

// seccompCache is the directory under the root holding compiled seccomp
// programs (`list` skips it: it has no state.json).
const seccompCache = ".seccomp-cache"

// sockPath names the start socket through the open state directory: a
// unix socket path is limited to 107 bytes, a state directory's is not.
func sockPath(dir *os.File) string {
	return "/proc/self/fd/" + strconv.Itoa(int(dir.Fd())) + "/" + startSock
}

// cgroupAtClone prepares attr to start the init in the container's
// cgroup when the host has only cgroup v2 and the cgroup driver is the
// filesystem one; it reports whether it did.
func (s *setup) cgroupAtClone(attr *syscall.SysProcAttr) (bool, error) {
	if s.r.systemd || cgroups.HostMode() != cgroups.Unified {
		return false, nil
	}
	cg := s.cg
	// pid -1 creates the cgroup without moving anyone into it.
	if err := cg.Apply(-1); err != nil {
		return false, step("cgroup", err)
	}
	dir := cg.Path("")
	if dir == "" {
		return false, nil
	}
	f, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, nil
	}
	s.closeLater(f)
	attr.UseCgroupFD, attr.CgroupFD = true, int(f.Fd())
	return true, nil
}

// newCgroup returns the container's cgroup manager for the runtime's
// driver and rootless mode.
func (r *Runtime) newCgroup(id string, spec *specs.Spec) (*cgroups.Manager, error) {
	cg, err := cgroups.New(id, spec, cgroups.WithSystemd(r.systemd), cgroups.WithRootless(r.rootless), cgroups.WithLogger(r.log))
	if errors.Is(err, cgroups.ErrSystemdUnavailable) {
		return nil, errorf(ErrNotSupported, "--systemd-cgroup: the systemd cgroup driver is not available (systemd is not running on this host)")
	}
	if err != nil {
		return nil, step("cgroup", err)
	}
	return cg, nil
}

func idMaps(m []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(m))
	for i, e := range m {
		out[i] = syscall.SysProcIDMap{ContainerID: int(e.ContainerID), HostID: int(e.HostID), Size: int(e.Size)}
	}
	return out
}

func isMapped(m []specs.LinuxIDMapping, id uint32) bool {
	for _, e := range m {
		if id >= e.ContainerID && id-e.ContainerID < e.Size {
			return true
		}
	}
	return false
}

// hostID maps a container id to the host through the mappings (identity
// without them).
func hostID(m []specs.LinuxIDMapping, id uint32) uint32 {
	if len(m) == 0 {
		return id
	}
	for _, e := range m {
		if id >= e.ContainerID && id-e.ContainerID < e.Size {
			return e.HostID + id - e.ContainerID
		}
	}
	return id
}

func (s *setup) nsenterPlan(syncFD int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "sync %d\n", syncFD)
	for _, ns := range s.plan.joins {
		fmt.Fprintf(&b, "join %s %s\n", ns.Type, ns.Path)
	}
	if s.plan.newFlags != 0 {
		fmt.Fprintf(&b, "unshare %d\n", s.plan.newFlags)
	}
	if s.plan.newNS[specs.TimeNamespace] {
		for clock, off := range s.spec.Linux.TimeOffsets {
			fmt.Fprintf(&b, "timeoffset %s %d %d\n", clock, off.Secs, off.Nanosecs)
		}
	}
	if s.plan.fork {
		b.WriteString("fork\n")
	}
	return b.String()
}

// writeMaps writes the id maps of the init's new user namespace (nsenter
// unshared it and waits).
func (s *setup) writeMaps(pid int) error {
	format := func(m []specs.LinuxIDMapping) []byte {
		var b strings.Builder
		for _, e := range m {
			fmt.Fprintf(&b, "%d %d %d\n", e.ContainerID, e.HostID, e.Size)
		}
		return []byte(b.String())
	}
	base := "/proc/" + strconv.Itoa(pid)
	if err := os.WriteFile(base+"/uid_map", format(s.spec.Linux.UIDMappings), 0); err != nil {
		return step("uidMappings", err)
	}
	if os.Geteuid() != 0 {
		// An unprivileged user may write gid_map only after denying
		// setgroups(2) (user_namespaces(7)).
		if err := os.WriteFile(base+"/setgroups", []byte("deny"), 0); err != nil {
			return step("gidMappings", err)
		}
	}
	if err := os.WriteFile(base+"/gid_map", format(s.spec.Linux.GIDMappings), 0); err != nil {
		return step("gidMappings", err)
	}
	return nil
}

// waitForkedPid handles nsenter's messages until it reports the pid of the
// container init it forked.
func (s *setup) waitForkedPid(sync *os.File) (int, error) {
	for {
		m, err := recvMsg(sync)
		if err != nil {
			return 0, s.initDied(err)
		}
		switch m.Type {
		case msgMaps:
			if err := s.writeMaps(m.Pid); err != nil {
				return 0, err
			}
			sendMsg(sync, syncMsg{Type: msgOK})
		case msgPid:
			return m.Pid, nil
		case msgError:
			return 0, errors.New(m.Msg)
		default:
			return 0, fmt.Errorf("unexpected message %q from init", m.Type)
		}
	}
}

// converse serves the init until it is ready: user namespace maps,
// runtime hooks, errors.
func (s *setup) converse(ctx context.Context, sync *os.File) error {
	for {
		m, err := recvMsg(sync)
		if err != nil {
			return s.initDied(err)
		}
		switch m.Type {
		case msgMaps:
			if err := s.writeMaps(m.Pid); err != nil {
				return err
			}
			sendMsg(sync, syncMsg{Type: msgOK})
		case msgHooks:
			st := s.rec.State.State
			h := s.spec.Hooks
			err := runHooks(ctx, "prestart", h.Prestart, &st)
			if err == nil {
				err = runHooks(ctx, "createRuntime", h.CreateRuntime, &st)
			}
			if err != nil {
				s.hookFail = true
				sendMsg(sync, syncMsg{Type: msgAbort})
				return err
			}
			sendMsg(sync, syncMsg{Type: msgOK})
		case msgError:
			if strings.HasPrefix(m.Msg, "createContainer hook") {
				s.hookFail = true
			}
			return errors.New(m.Msg)
		case msgSeccomp:
			err := s.r.sendSeccomp(s.spec, s.rec.State.State, m.fd)
			if err != nil {
				sendMsg(sync, syncMsg{Type: msgAbort})
				return err
			}
			sendMsg(sync, syncMsg{Type: msgOK})
		case msgReady:
			return nil
		default:
			return fmt.Errorf("unexpected message %q from init", m.Type)
		}
	}
}

// initDied builds the error for an init that closed the sync socket
// without saying why.
func (s *setup) initDied(err error) error {
	if err != io.EOF {
		return fmt.Errorf("sync with init: %w", err)
	}
	if s.cmd != nil {
		if werr := s.cmd.Wait(); werr != nil {
			s.cmd = nil
			return fmt.Errorf("init exited during setup: %w", werr)
		}
		s.cmd = nil
	}
	return errors.New("init exited during setup")
}

// abort undoes a failed create: kill the init, remove its cgroup and the
// state directory. After a failing hook the poststop hooks run too
// (runtime.md "Lifecycle" steps 3-5 continue at step 12).
func (s *setup) abort(ctx context.Context) {
	if s.master != nil {
		s.master.Close()
	}
	if s.pid > 0 {
		killWait(s.pid, s.rec.InitStart)
	}
	if s.cmd != nil {
		if s.cmd.Process != nil && s.pid != s.cmd.Process.Pid {
			s.cmd.Process.Kill()
		}
		s.cmd.Wait()
	}
	if s.cg != nil {
		if err := s.cg.Destroy(); err != nil {
			s.r.log.Warn("remove cgroup", "container", s.id, "error", err)
		}
	}
	if err := s.rec.HostMounts.unmount(); err != nil {
		s.r.log.Warn("unmount", "container", s.id, "error", err)
	}
	os.RemoveAll(s.dir)
	if s.hookFail && s.spec.Hooks != nil {
		st := s.rec.State.State
		st.Status = specs.StateStopped
		st.Pid = 0
		if err := runHooks(ctx, "poststop", s.spec.Hooks.Poststop, &st); err != nil {
			s.r.log.Warn("poststop hook failed", "container", s.id, "error", err)
		}
	}
}

// killWait sends SIGKILL to pid (when it is still the process started at
// start) and waits for it to exit, through a pidfd: no polling.
func killWait(pid int, start uint64) error {
	pfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if err == unix.ESRCH {
			return nil
		}
		return os.NewSyscallError("pidfd_open", err)
	}
	defer unix.Close(pfd)
	if st, state, err := procStat(pid); err != nil || (start != 0 && st != start) || state == 'Z' {
		return nil
	}
	if err := unix.PidfdSendSignal(pfd, unix.SIGKILL, nil, 0); err != nil && err != unix.ESRCH {
		return os.NewSyscallError("pidfd_send_signal", err)
	}
	return waitPidfd(pfd)
}

func waitPidfd(pfd int) error {
	fds := []unix.PollFd{{Fd: int32(pfd), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if err != unix.EINTR {
			if err != nil {
				return os.NewSyscallError("poll", err)
			}
			return nil
		}
	}
}
