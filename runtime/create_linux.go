package runtime

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ocikit/ocikit/cgroups"
	"github.com/ocikit/ocikit/internal/fastjson"
	"github.com/ocikit/ocikit/internal/fsutil"
	"github.com/ocikit/ocikit/runtime/nsenter"
	"github.com/ocikit/ocikit/runtime/process"
	"github.com/ocikit/ocikit/runtime/rootfs"
	"github.com/ocikit/ocikit/runtime/rules"
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
	// stdio relays a foreground container's stdio without a terminal.
	stdio *pipeRelay
}

// Create creates a container from the bundle (runtime.md "Create"): its
// namespaces, cgroup, root filesystem and process attributes are set up and
// its init waits for Start. On failure nothing is left behind.
func (r *Runtime) Create(ctx context.Context, id, bundle string, o CreateOptions) (*Container, error) {
	c, err := r.create(ctx, id, bundle, o, false)
	if err == nil && o.PidfdSocket != "" {
		if err = sendPidfd(o.PidfdSocket, c.Pid); err != nil {
			r.deleteQuiet(ctx, id)
			return nil, err
		}
	}
	return c, err
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
		nsRule, ok := rules.LookupNamespace(ns.Type)
		f := nsRule.CloneFlag
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
	// A new user namespace too, as runc does: nsenter unshares it after
	// execve, so the init runs as the runtime's user (not the container's
	// root, whose host uid others may share) until it is non-dumpable,
	// and is dumpable only while the runtime writes its id maps.
	p.viaC = len(p.joins) > 0 || p.has[specs.TimeNamespace] || p.newNS[specs.UserNamespace]
	// Joining or unsharing a pid or time namespace affects only the
	// children of the caller: nsenter forks the init once.
	p.fork = p.viaC && (p.has[specs.PIDNamespace] || p.has[specs.TimeNamespace])
	return p, nil
}

// loadSpec reads config (runc's --config), by default the bundle's
// config.json.
func loadSpec(bundle, config string) (*specs.Spec, []byte, error) {
	if config == "" {
		config = filepath.Join(bundle, configFile)
	}
	data, err := os.ReadFile(config)
	if err != nil {
		return nil, nil, fmt.Errorf("read bundle: %w", err)
	}
	var spec specs.Spec
	// fastjson: encoding/json would first build its caches for every
	// spec type, about 2 ms of each create.
	if err := fastjson.Unmarshal(data, &spec); err != nil {
		return nil, nil, errorf(ErrInvalidSpec, "%s: %v", config, err)
	}
	return &spec, data, nil
}

// checkSpec rejects what the runtime cannot apply, before anything starts
// (runtime.md "Create": a property that cannot be applied is an error and
// no container is created).
func checkSpec(spec *specs.Spec, plan *nsPlan, o CreateOptions, fg bool) error {
	bad := func(format string, args ...any) error { return errorf(ErrInvalidSpec, format, args...) }
	if !rules.SupportedVersion(spec.Version) {
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
	if spec.Process != nil {
		if err := checkCwd("config.json: process.cwd", p.Cwd); err != nil {
			return err
		}
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
	if o.ListenFDs < 0 {
		return bad("LISTEN_FDS must not be negative")
	}
	if spec.Process != nil {
		// Unknown capability names are a warning, not an error
		// (config.md "Linux Process", runtime-spec 1.3), which the init
		// sends when it applies the capabilities (syncLogger).
		if err := process.ValidateProcess(p); err != nil {
			return err
		}
	}
	return process.ValidateLinux(l)
}

// setup is one create in progress.
type setup struct {
	r      *Runtime
	id     string
	bundle string
	spec   *specs.Spec
	// specData is config.json as read, for the init (initConfig.RawSpec).
	specData []byte
	o        CreateOptions
	fg       bool
	plan     *nsPlan
	maps     *idMapWriter // how a new user namespace's maps are written
	dir      string
	dirFile  *os.File // the state directory, open (and locked)
	rec      *record

	l      *launcher
	pid    int
	cg     *cgroups.Manager
	master *os.File
	mntns  *os.File // the init's mount namespace, once a mount source is asked for
	chroot *os.File // the root the C init chroots into (cinit_linux.go)
	// hierarchies are the host's cgroup hierarchies, read while the C
	// init starts (rootfs.Options.Hierarchies); nil: not read.
	hierarchies []rootfs.Hierarchy
	stdio       *pipeRelay // relayed stdio of a failed create, finished by abort
	hookFail    bool
	// withoutGo: the init is the C stage alone (cInit, decided once in
	// run: it probes fsopen).
	withoutGo bool
	// createdWritten: the state says created already (writeCreated).
	createdWritten bool
	// copied gives the result of writing the copy of the configuration
	// (waitCopy).
	copied  chan error
	copyErr error
	// restore, when set, has the processes restored by CRIU instead of
	// a new init started (restore).
	restore *restoreJob
}

func (r *Runtime) create(ctx context.Context, id, bundle string, o CreateOptions, fg bool) (*Container, error) {
	return r.createWith(ctx, id, bundle, o, fg, nil)
}

// createWith is create, with the processes restored from a checkpoint
// when rs is set: the same checks, state, cgroup, hooks, console socket
// and pid file as a new container.
func (r *Runtime) createWith(ctx context.Context, id, bundle string, o CreateOptions, fg bool, rs *restoreJob) (*Container, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	bundle, err := filepath.Abs(bundle)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	spec, specData, err := loadSpec(bundle, o.Config)
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
	if err := checkSpec(spec, plan, o, fg); err != nil {
		return nil, err
	}
	// How the id maps are written, and whether they can be, before
	// anything exists.
	var maps *idMapWriter
	if plan.newNS[specs.UserNamespace] {
		if maps, err = newIDMapWriter(spec.Linux); err != nil {
			return nil, err
		}
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
		err = fsutil.Lock(ctx, lf, true)
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
	s := &setup{r: r, id: id, bundle: bundle, spec: spec, specData: specData, o: o, fg: fg, plan: plan, maps: maps, dir: dir, dirFile: lf, restore: rs}
	// The copy of the configuration is read only once create has
	// returned (start, exec, delete, which take the lock it holds until
	// then): it is written beside the rest of the create, and waited for
	// before create returns or removes the directory.
	copied := make(chan error, 1)
	s.copied = copied
	go func() { copied <- os.WriteFile(filepath.Join(dir, configFile), specData, 0o600) }()
	needsSpec := spec.Linux.Seccomp != nil && spec.Linux.Seccomp.ListenerPath != ""
	if h := spec.Hooks; h != nil && (len(h.Poststart) > 0 || len(h.Poststop) > 0) {
		needsSpec = true
	}
	s.rec = &record{spec: spec, Hooks: needsSpec, OwnPidNS: plan.newNS[specs.PIDNamespace], NoNewKeyring: o.NoNewKeyring, State: State{
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
			s.waitCopy()
			os.RemoveAll(dir)
			return nil, err
		}
		s.rec.HostMounts = hm
	}
	c, err := s.run(ctx)
	s.waitCopy() // before abort removes the directory
	if s.l != nil {
		if err != nil {
			s.stdio = s.l.takeStdio()
		}
		s.l.close()
	}
	if err != nil {
		s.abort(ctx)
		return nil, err
	}
	return c, nil
}

// waitCopy waits for the copy of the configuration in the state
// directory and returns the error writing it, if any; again and again.
func (s *setup) waitCopy() error {
	if s.copied != nil {
		if err := <-s.copied; err != nil {
			s.copyErr = fmt.Errorf("state: %w", err)
		}
		s.copied = nil
	}
	return s.copyErr
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

func (s *setup) run(ctx context.Context) (*Container, error) {
	// The cgroup manager and the first state, before anything exists
	// outside the state directory. An init without Go that is moved into
	// its cgroup late (cgroup v1 and hybrid hosts) is started first and
	// launchC does these while it execs: until the first state it is a
	// process that exits once the runtime is gone (the sync socket
	// closes), and a configuration the manager refuses then ends it.
	s.withoutGo = s.restore == nil && s.cInit()
	if !s.withoutGo || cgroups.HostMode() == cgroups.Unified {
		if err := s.newCgroupState(); err != nil {
			return nil, err
		}
	}
	status := specs.StateCreated
	if s.restore != nil {
		// The processes come from CRIU's images instead of a new init:
		// they run as they did when dumped.
		if err := s.restoreProcess(ctx); err != nil {
			return nil, err
		}
		status = specs.StateRunning
	} else if err := s.launch(ctx); err != nil {
		return nil, err
	}
	if err := s.waitCopy(); err != nil {
		return nil, err
	}
	if s.master != nil && s.o.ConsoleSocket != "" {
		if err := sendConsole(s.o.ConsoleSocket, s.master); err != nil {
			return nil, err
		}
		s.master.Close()
		s.master = nil
	}
	s.rec.State.Status = status
	if !s.createdWritten || status != specs.StateCreated {
		if err := writeState(s.dir, s.rec); err != nil {
			return nil, err
		}
	}
	if s.o.PidFile != "" {
		if err := writePidFile(s.o.PidFile, s.pid); err != nil {
			return nil, err
		}
	}
	c := &Container{ID: s.id, Pid: s.pid, Console: s.master}
	if s.l != nil {
		c.stdio = s.l.takeStdio()
	}
	s.master = nil
	return c, nil
}

// newCgroupState makes the cgroup manager (a configuration it refuses, or
// a missing systemd, fails here; nothing is created yet) and writes the
// first state: a create killed from then on leaves a "creating" container
// that names its cgroup (and its init, once started), so delete --force
// finds all of it.
func (s *setup) newCgroupState() error {
	cg, err := s.r.newCgroup(s.id, s.spec)
	if err != nil {
		return err
	}
	return s.firstState(cg)
}

// firstState records the cgroup manager cg and writes the first state.
func (s *setup) firstState(cg *cgroups.Manager) error {
	s.cg = cg
	cgState := cg.State()
	s.rec.Cgroup = &cgState
	return writeState(s.dir, s.rec)
}

// launch starts the container's init through the launcher and serves it
// until it waits for start.
func (s *setup) launch(ctx context.Context) error {
	spec, plan, cg := s.spec, s.plan, s.cg
	if plan.viaC && !nsenter.Available {
		return errorf(ErrNotSupported, "user namespaces, namespaces given by path and time namespaces need ocikit built with cgo")
	}
	if s.withoutGo {
		return s.launchC(ctx)
	}
	l, err := newLauncher(s.r, s.id, "init", initFDEnv, s.o.ListenFDs, s.o.PreserveFDs)
	if err != nil {
		return err
	}
	s.l = l
	l.spec, l.rec, l.cgroup = spec, s.rec, cg
	l.onMaps = s.writeMaps
	l.onSource = s.sendMountSource
	l.onHooks = s.runtimeHooks
	l.onConsole = s.console
	cfg := &initConfig{
		ID: s.id, Bundle: s.bundle, RawSpec: s.specData, ListenFDs: s.o.ListenFDs,
		NoPivot: s.o.NoPivot, NoMountNS: !plan.has[specs.MountNamespace], NoNewKeyring: s.o.NoNewKeyring, PreserveFDs: s.o.ListenFDs + s.o.PreserveFDs,
		UserNS:      plan.has[specs.UserNamespace],
		NewCgroupNS: plan.newNS[specs.CgroupNamespace],
		SyncFD:      l.syncFD,
	}
	if h := spec.Hooks; h != nil {
		cfg.RuntimeHooks = len(h.Prestart) > 0 || len(h.CreateRuntime) > 0
	}
	// Compiled here, loaded by the init: see initConfig.Seccomp.
	if cfg.Seccomp, err = l.compileSeccomp(); err != nil {
		return err
	}
	// In a user namespace the init asks for the bind sources it cannot
	// reach and for idmapped mounts (mount_setattr(2) needs privileges
	// over the filesystem's user namespace), one at a time as it comes to
	// them: the runtime opens them in the init's mount namespace. Not
	// when the runtime itself has no more privileges than the container
	// (rootless: it could not join the init's mount namespace either).
	// Without a user namespace too: the helper an idmapped mount needs
	// (rootfs.userNS) is then the runtime's child, not the init's, which
	// is in the container's pid namespace with the host's root until
	// pivot_root: a root process of a pid namespace joined by path could
	// open the helper's /proc/<pid>/root (it owns the helper's user
	// namespace).
	cfg.MountSources = os.Geteuid() == 0
	if cfg.StartFD, err = s.listenStart(); err != nil {
		return err
	}
	// A terminal is the init's to open in the container's devpts
	// (setupTerminal); it sends the master back (msgConsole).
	if spec.Process == nil || !spec.Process.Terminal {
		err := l.setStdio(s.fg, int(hostID(spec.Linux.UIDMappings, 0)), int(hostID(spec.Linux.GIDMappings, 0)),
			orStd(s.o.Stdin, os.Stdin), orStd(s.o.Stdout, os.Stdout), orStd(s.o.Stderr, os.Stderr))
		if err != nil {
			return err
		}
	}
	l.oomScoreAdj(spec.Process)
	if plan.viaC {
		l.useNsenter()
		for _, ns := range plan.joins {
			l.joinNS(ns.Type, ns.Path)
		}
		if plan.newFlags != 0 {
			l.nsenterLine("unshare %d", plan.newFlags)
		}
		if plan.newNS[specs.TimeNamespace] {
			for clock, off := range spec.Linux.TimeOffsets {
				l.nsenterLine("timeoffset %s %d %d", clock, off.Secs, off.Nanosecs)
			}
		}
		if plan.fork {
			l.forkOnce()
		}
	} else {
		l.cloneNamespaces(plan.newFlags, spec.Linux.UIDMappings, spec.Linux.GIDMappings)
	}
	// On a pure cgroup v2 host the init is born in its cgroup
	// (clone3 CLONE_INTO_CGROUP): no migration, whose write lock on the
	// cgroup hierarchy costs an RCU grace period.
	intoCgroup, err := s.cgroupAtClone()
	if err != nil {
		return err
	}
	t0 := time.Now()
	if intoCgroup, err = s.runInit(intoCgroup, true); err != nil {
		return err
	}

	// The cgroup, before the init runs anything of the container's: now,
	// or (late) when the init asks, once it has set up the root
	// filesystem, so that its own memory is not charged to the container.
	late := !intoCgroup && s.lateCgroup()
	if !intoCgroup {
		pid := s.pid
		if late {
			pid = -1 // create it, set its limits; the init joins later
		}
		if err := cg.Apply(pid); err != nil {
			return step("cgroup", err)
		}
	}
	cfg.JoinCgroup = late
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
			return step("cgroup", err)
		}
	}
	cfg.CgroupPaths = mountCgroupPaths(cg, s.pid)
	s.r.log.Debug("cgroup applied", "container", s.id, "elapsed", time.Since(t0))

	if err := l.sendConfig(cfg); err != nil {
		return err
	}
	if err := l.converse(ctx); err != nil {
		if strings.HasPrefix(err.Error(), "createContainer hook") {
			// Reported by the init (runtime.md "Lifecycle" step 6).
			s.hookFail = true
		}
		return err
	}
	if pids != nil {
		if err := cg.Update(&specs.LinuxResources{Pids: pids}); err != nil {
			return step("cgroup", err)
		}
	}
	s.r.log.Debug("init ready", "container", s.id, "elapsed", time.Since(t0))
	return nil
}

// listenStart binds the start socket in the state directory for the
// init, which accepts on it once ready (`start` connects), and returns its
// descriptor number in the init.
func (s *setup) listenStart() (int, error) {
	lfd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, os.NewSyscallError("socket", err)
	}
	fd := s.l.add(os.NewFile(uintptr(lfd), "start.sock"))
	if err := unix.Bind(lfd, &unix.SockaddrUnix{Name: sockPath(s.dirFile)}); err != nil {
		return 0, &os.PathError{Op: "bind", Path: filepath.Join(s.dir, startSock), Err: err}
	}
	if err := unix.Listen(lfd, 1); err != nil {
		return 0, os.NewSyscallError("listen", err)
	}
	return fd, nil
}

// runInit starts the init (launcher.run) and, with write, records its pid
// at once: a create killed from here on leaves a "creating" container
// whose init delete --force kills. It reports whether the init was born
// in its cgroup.
func (s *setup) runInit(intoCgroup, write bool) (bool, error) {
	intoCgroup, err := s.l.run(intoCgroup)
	if err != nil {
		return false, err
	}
	s.pid = s.l.pid
	s.rec.State.Pid = s.pid
	s.rec.InitStart = s.l.start
	if !write {
		return intoCgroup, nil
	}
	return intoCgroup, writeState(s.dir, s.rec)
}

// writeCreated writes the created state in the background; the channel
// gives the result. s.rec keeps saying creating meanwhile, as the state a
// seccomp agent receives during the init's setup does (runc's too).
func (s *setup) writeCreated() <-chan error {
	rec := *s.rec
	rec.State.Status = specs.StateCreated
	s.createdWritten = true
	done := make(chan error, 1)
	go func() { done <- writeState(s.dir, &rec) }()
	return done
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

// cgroupAtClone reports whether the init is to start in the container's
// cgroup (launcher.run) and then creates the cgroup: when the host has
// only cgroup v2, the cgroup driver is the filesystem one and the init
// does not join late.
func (s *setup) cgroupAtClone() (bool, error) {
	if s.r.systemd || cgroups.HostMode() != cgroups.Unified || s.lateCgroup() {
		// Late, the init's own memory is not the container's (lateCgroup):
		// worth a migration, which measured no slower here (0.4 ms,
		// overlapped with the init's setup).
		return false, nil
	}
	// pid -1 creates the cgroup without moving anyone into it.
	if err := s.cg.Apply(-1); err != nil {
		return false, step("cgroup", err)
	}
	return true, nil
}

// mountCgroupPaths are the cgroup directories a cgroup mount binds: the
// container's; when some are missing (a rootless container whose cgroups
// could not be created), the cgroups its init runs in, the caller's, in
// every hierarchy, as runc binds its init's own (/proc/self/cgroup).
func mountCgroupPaths(cg *cgroups.Manager, pid int) map[string]string {
	paths := cg.Paths()
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	complete := len(paths) > 0
	for _, p := range paths {
		complete = complete && exists(p)
	}
	if complete {
		return paths
	}
	own, err := rootfs.ProcessCgroups(pid)
	if err != nil {
		own = map[string]string{}
	}
	for k, p := range paths {
		if exists(p) {
			own[k] = p
		}
	}
	return own
}

// lateCgroup reports whether the init may join its cgroup late, after it
// has prepared the root filesystem, instead of before it runs: the Go
// init's own pages (runtime, heap, the configuration it decodes, the mount
// table it reads) are charged to the memory cgroup the process is in when
// it touches them, and a charge stays with its cgroup after the process
// moves (cgroup v1 without memory.move_charge_at_immigrate; always on v2),
// so this keeps about 2.5 MiB of ocikit's memory off the container's
// account. Not with:
//   - hooks before the program (prestart, createRuntime, createContainer):
//     runc has the init in its cgroup when they run, and hooks rely on it
//     (a device plugin's hook finds the container's cgroup through
//     /proc/<pid>/cgroup);
//   - the systemd driver, whose scope cannot be created empty;
//   - rootless mode, where the cgroup may not exist: the init then stays
//     in the caller's cgroup, and a cgroup namespace it unshares must be
//     rooted there before the cgroup mounts are made.
//
// With a new cgroup namespace on a pure cgroup v2 host, where a cgroup
// mount is a new cgroup2 mount rooted at the init's namespace, the init
// joins and unshares right before its first cgroup mount
// (rootfs.Options.BeforeCgroupMount). On cgroup v1 and hybrid hosts cgroup
// mounts bind the container's cgroup directories, whatever the namespace.
//
// On a pure cgroup v2 host this replaces clone3 CLONE_INTO_CGROUP (born in
// the cgroup, no migration), which remains for the cases above.
func (s *setup) lateCgroup() bool {
	if s.r.systemd || s.r.rootless {
		return false
	}
	if h := s.spec.Hooks; h != nil && (len(h.Prestart) > 0 || len(h.CreateRuntime) > 0 || len(h.CreateContainer) > 0) {
		return false
	}
	return true
}

// newCgroup returns the container's cgroup manager for the runtime's
// driver and rootless mode.
func (r *Runtime) newCgroup(id string, spec *specs.Spec) (*cgroups.Manager, error) {
	cg, err := cgroups.New(id, spec, cgroups.WithSystemd(r.systemd), cgroups.WithRootless(r.rootless), cgroups.WithLogger(r.log))
	if errors.Is(err, cgroups.ErrSystemdUnavailable) {
		// One line naming the flag: "--systemd-cgroup: systemd is not
		// running (no /run/systemd/private): stat ...".
		return nil, errorf(ErrNotSupported, "--systemd-cgroup: %s", strings.TrimPrefix(err.Error(), "cgroups: "))
	}
	if err != nil {
		return nil, step("cgroup", err)
	}
	return cg, nil
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

// writeMaps writes the id maps of the init's new user namespace (nsenter
// unshared it and waits).
func (s *setup) writeMaps(pid int) error {
	return s.maps.write(pid, s.spec.Linux.UIDMappings, s.spec.Linux.GIDMappings)
}

// runtimeHooks runs the prestart and createRuntime hooks when the init
// asks (msgHooks), in the runtime's namespaces.
func (s *setup) runtimeHooks(ctx context.Context) error {
	st := s.rec.State.State
	h := s.spec.Hooks
	err := runHooks(ctx, "prestart", h.Prestart, &st, os.Environ())
	if err == nil {
		err = runHooks(ctx, "createRuntime", h.CreateRuntime, &st, os.Environ())
	}
	if err != nil {
		s.hookFail = true
	}
	return err
}

// console takes the pty master the init opened (msgConsole).
func (s *setup) console(fd int) error {
	if fd < 0 {
		return errors.New("console: no pty from init")
	}
	if s.master != nil {
		s.master.Close()
	}
	s.master = os.NewFile(uintptr(fd), "/dev/ptmx")
	if s.fg && s.o.ConsoleSocket == "" {
		// Relayed by Run: plain newlines, as runc's.
		if err := clearONLCR(s.master); err != nil {
			return step("console", err)
		}
	}
	return nil
}

// sendMountSource answers the init's msgSource: the source of mount i,
// opened in the init's mount namespace with the runtime's privileges
// (rootfs.OpenMountSource), or why it could not be, for the init to report.
func (s *setup) sendMountSource(i int) error {
	sync := s.l.sync
	if s.mntns == nil {
		f, err := os.Open("/proc/" + strconv.Itoa(s.pid) + "/ns/mnt")
		if err != nil {
			return fmt.Errorf("mount source: %w", err)
		}
		s.mntns = f
		s.l.closeLater(f)
	}
	f, err := rootfs.OpenMountSource(s.spec, s.bundle, i, s.mntns)
	if err != nil {
		return sendMsg(sync, syncMsg{Type: msgError, Msg: oneLine(err.Error())})
	}
	defer f.Close()
	if err := sendFd(int(sync.Fd()), syncMsg{Type: msgOK}, int(f.Fd())); err != nil {
		return fmt.Errorf("mount source: %w", os.NewSyscallError("sendmsg", err))
	}
	return nil
}

// abort undoes a failed create: kill the init, remove its cgroup and the
// state directory. After a failing hook the poststop hooks run too
// (runtime.md "Lifecycle" steps 3-5 continue at step 12).
func (s *setup) abort(ctx context.Context) {
	if s.master != nil {
		s.master.Close()
	}
	if s.stdio != nil {
		defer s.stdio.finish() // once the init is gone
	}
	if s.l != nil {
		s.l.kill()
	} else if s.pid > 0 {
		killWait(s.pid, s.rec.InitStart)
	}
	if s.cg != nil {
		if err := s.cg.Destroy(); err != nil {
			s.r.log.Warn("remove cgroup", "container", s.id, "error", err)
		}
	}
	if err := s.rec.HostMounts.unmount(); err != nil {
		s.r.log.Warn("unmount", "container", s.id, "error", err)
	}
	removeStateDir(s.dir)
	if s.hookFail && s.spec.Hooks != nil {
		st := s.rec.State.State
		st.Status = specs.StateStopped
		st.Pid = 0
		if err := runHooks(ctx, "poststop", s.spec.Hooks.Poststop, &st, os.Environ()); err != nil {
			s.r.log.Warn("poststop hook failed", "container", s.id, "error", err)
		}
	}
}

// killWait sends SIGKILL to pid (when it is still the process started at
// start) and waits for it to exit: through a pidfd, no polling, where the
// kernel has them.
func killWait(pid int, start uint64) error {
	p, err := openPid(pid, start)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return err
	}
	defer p.close()
	if err := p.signal(unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
		return err
	}
	return p.wait()
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
