package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ocikit/ocikit/cgroups"
	"github.com/ocikit/ocikit/internal/fastjson"
	"github.com/ocikit/ocikit/internal/osthread"
	"github.com/ocikit/ocikit/runtime/nsenter"
	"github.com/ocikit/ocikit/runtime/process"
	"github.com/ocikit/ocikit/runtime/rootfs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// A container init that never starts Go: the init is the
// C stage of the binary only (nsenter.c's "init" plan line, final.c's
// ocikit_init_run), and the runtime command itself prepares the
// container's root filesystem from one of its threads, which leaves the
// runtime's fs_struct (unshare CLONE_FS) and joins the init's mount, uts,
// ipc, network and cgroup namespaces (setns). The init does only what a
// member of its pid and cgroup namespaces must: unshare the cgroup
// namespace once in its cgroup and open the procfs context (fsopen) that
// the thread mounts. pivot_root from the thread moves the root of every
// task whose root was the namespace's old one, the init included unless
// the runtime runs chroot'ed; the init chroots into the thread's final
// root all the same (sent over sync), which also covers --no-pivot and
// containers without a mount namespace (chroot moves the thread only).
//
// msgProcFS (init): the procfs context rides along (SCM_RIGHTS).
const msgProcFS = "procfs"

// goInitEnv, when set in the runtime's environment, keeps the Go init for
// every container: to compare the two, or to fall back if a configuration
// trips the init without Go (README "Where a container's start goes").
const goInitEnv = "OCIKIT_GO_INIT"

// cInit reports whether this container's init can be the C stage alone;
// the rest keep the Go init (init_linux.go).
func (s *setup) cInit() bool {
	spec, plan := s.spec, s.plan
	switch {
	case !nsenter.Available, os.Getenv(goInitEnv) != "":
		return false
	case plan.has[specs.UserNamespace]:
		return false
	case s.r.rootless:
		return false
	case spec.Process == nil:
		return false
	}
	if h := spec.Hooks; h != nil {
		for _, hk := range h.StartContainer {
			if hk.Timeout != nil && *hk.Timeout <= 0 {
				return false // the Go init's runHook reports it at start
			}
		}
	}
	procs := 0
	for _, m := range spec.Mounts {
		if m.Type == "proc" {
			procs++
		}
	}
	// The init opens one procfs context (final.c ocikit_init_run), which
	// needs the new mount API (Linux 5.2).
	return procs <= 1 && fsopenWorks()
}

// fsopenWorks reports whether fsopen(2) exists here: a procfs context,
// created and dropped, mounts nothing. Before Linux 5.2 (and where a
// seccomp profile refuses the call) the Go init mounts proc instead.
func fsopenWorks() bool {
	fd, err := unix.Fsopen("proc", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// launchC is launch for a container init without Go.
func (s *setup) launchC(ctx context.Context) error {
	spec, plan := s.spec, s.plan
	p := spec.Process
	l, err := newLauncher(s.r, s.id, "init", nsenter.FinalEnv, s.o.ListenFDs, s.o.PreserveFDs)
	if err != nil {
		return err
	}
	s.l = l
	l.spec, l.rec, l.cgroup = spec, s.rec, s.cg
	l.onHooks = s.runtimeHooks
	startFD, err := s.listenStart()
	if err != nil {
		return err
	}
	if !p.Terminal {
		if err := l.setStdio(s.fg, 0, 0, orStd(s.o.Stdin, os.Stdin), orStd(s.o.Stdout, os.Stdout), orStd(s.o.Stderr, os.Stderr)); err != nil {
			return err
		}
	}
	l.oomScoreAdj(p)
	l.useNsenter()
	if plan.viaC {
		// Namespaces joined by path, a time namespace: nsenter joins and
		// unshares, and forks once into a new pid or time namespace.
		for _, ns := range plan.joins {
			l.joinNS(ns.Type, ns.Path)
		}
		if plan.newFlags != 0 {
			l.nsenterLine("unshare %d", plan.newFlags)
		}
		for clock, off := range spec.Linux.TimeOffsets {
			l.nsenterLine("timeoffset %s %d %d", clock, off.Secs, off.Nanosecs)
		}
		if plan.fork {
			l.forkOnce()
		}
	} else {
		l.cloneNamespaces(plan.newFlags, nil, nil)
	}
	l.nsenterLine("init")
	if plan.newNS[specs.CgroupNamespace] {
		l.nsenterLine("cgroupns")
	}
	// Born in its cgroup where the host allows it (cgroup v2), else moved
	// late, right before its final stage, as the Go init: then only what
	// it touches from there on is charged to the container. Not with
	// hooks before the program: they find the init in its cgroup, as
	// with runc (see lateCgroup).
	// With the systemd driver the cgroup is a unit that systemd starts
	// with the init in it (a scope cannot start empty): made once the
	// init's pid is known.
	withPid := s.r.systemd
	intoCgroup := cgroups.HostMode() == cgroups.Unified && !withPid
	late := !intoCgroup && s.lateCgroup()
	if late {
		l.nsenterLine("latecgroup")
		if words := affinityWords(); words != "" {
			l.nsenterLine("cpus%s", words)
		}
	}
	// Whether it was born there is known once it runs: clone3 may be
	// missing (before Linux 5.3, or refused by a seccomp profile) or
	// refuse CLONE_INTO_CGROUP (before 5.7); then it waits to be moved.
	l.planEnd = func(born bool) {
		if !late && !born {
			l.nsenterLine("waitcgroup")
		}
	}
	// The cgroup exists with its limits before the init joins it and
	// before the mounts bind its directories. An init born in it needs it
	// first; else it is made while the init starts (a directory and a few
	// files per hierarchy, about 1 ms on this v1 host, beside the init's
	// clone and execve) and waited for once the init has sent its procfs
	// context, and on every way out: abort removes the cgroup. Without a
	// manager yet (run), the manager is made beside the init's start and
	// the first state written after it, with the init's pid.
	early := s.cg == nil
	var cgDone chan error
	cgWait := func() error {
		if cgDone == nil {
			return nil
		}
		err := <-cgDone
		cgDone = nil
		return err
	}
	defer cgWait()
	if intoCgroup {
		if err := s.makeCgroup(-1); err != nil {
			return err
		}
	} else if !early && !withPid {
		cgDone = make(chan error, 1)
		go func() { cgDone <- s.makeCgroup(-1) }()
	}
	// The manager (it creates nothing) beside the init's clone and
	// execve; a failed start leaves it to the garbage collector.
	type managed struct {
		cg  *cgroups.Manager
		err error
	}
	var manager chan managed
	if early {
		manager = make(chan managed, 1)
		go func() {
			cg, err := s.r.newCgroup(s.id, spec)
			manager <- managed{cg, err}
		}()
	}
	t0 := time.Now()
	if intoCgroup, err = s.runInit(intoCgroup, !early); err != nil {
		return err
	}
	// The thread that prepares the root filesystem joins the init's
	// namespaces while the init starts when clone made them (nsenter
	// joins and unshares after the execve) and the cgroup namespace is
	// not to be joined (late: the thread stays in the runtime's).
	var job *rootJob
	if late && !plan.viaC {
		job = s.startRootThread(ctx, false)
		defer func() {
			if job != nil {
				job.giveUp()
			}
		}()
	}
	// The cgroup hierarchies a cgroup mount binds, from the runtime's
	// mount table while the init starts: a new mount namespace is a copy
	// of it.
	var hierarchies chan []rootfs.Hierarchy
	if !intoCgroup && plan.newNS[specs.MountNamespace] && hasCgroupMount(spec) {
		hierarchies = make(chan []rootfs.Hierarchy, 1)
		go func() {
			// On an error nil: the thread reads them and reports it.
			hs, _ := rootfs.Hierarchies()
			hierarchies <- hs
		}()
	}
	if early {
		mg := <-manager
		if mg.err != nil {
			return mg.err
		}
		if err := s.firstState(mg.cg); err != nil {
			return err
		}
		l.cgroup = s.cg
	}
	if early || withPid {
		pid := -1
		if withPid {
			pid = s.pid
		}
		cgDone = make(chan error, 1)
		go func() { cgDone <- s.makeCgroup(pid) }()
	}
	m, err := recvMsg(l.sync)
	if cerr := cgWait(); cerr != nil {
		if err == nil && m.fd >= 0 {
			unix.Close(m.fd)
		}
		return cerr
	}
	switch {
	case err != nil:
		return l.exited(err)
	case m.Type == msgError:
		return errors.New(m.Msg)
	case m.Type != msgProcFS || m.fd < 0:
		return fmt.Errorf("unexpected message %q from init", m.Type)
	}
	procfs := os.NewFile(uintptr(m.fd), "procfs context")
	l.closeLater(procfs)
	if hierarchies != nil {
		s.hierarchies = <-hierarchies
	}
	var slave *os.File
	joined := make(chan error, 1)
	if !late {
		if !intoCgroup {
			// (With the systemd driver the init is in its unit already.)
			if !withPid {
				if err := s.cg.Enter(s.pid); err != nil {
					return step("cgroup", err)
				}
			}
			if err := sendMsg(l.sync, syncMsg{Type: msgOK}); err != nil {
				return l.exited(err)
			}
		}
		// A cgroup2 mount is rooted at the init's cgroup namespace.
		if err := s.waitCgroupNS(); err != nil {
			return err
		}
		slave, err = s.prepareOnThread(ctx, procfs, true)
	} else {
		// Late: the init waits for its plan and touches nothing until
		// then; moving it now (its first migration waits for an RCU
		// grace period on cgroup v1) overlaps with the thread's mounts.
		go func() { joined <- s.cg.Enter(s.pid) }()
		if job != nil {
			j := job
			job = nil
			slave, err = j.run(procfs)
		} else {
			slave, err = s.prepareOnThread(ctx, procfs, false)
		}
		if jerr := <-joined; err == nil && jerr != nil {
			err = step("cgroup", jerr)
		}
	}
	if slave != nil {
		l.closeLater(slave)
	}
	if err != nil {
		return err
	}
	s.r.log.Debug("rootfs ready", "container", s.id, "elapsed", time.Since(t0))
	// The container's root, where the thread ended (sent to the init).
	root := s.chroot
	l.closeLater(root)
	env := p.Env
	if n := s.o.ListenFDs; n > 0 {
		env = append(env, "LISTEN_FDS="+strconv.Itoa(n), "LISTEN_PID=1")
	}
	env = process.Environ(env, func() string { return process.HomeDirIn(root, p.User.UID) })
	fin, err := process.Final(p, env, spec.Linux.Personality, spec.Linux.MemoryPolicy, process.WithLogger(s.r.log.With("container", s.id)))
	if err != nil {
		return err
	}
	prog, err := l.compileSeccomp()
	if err != nil {
		return err
	}
	if prog != nil {
		fin.Seccomp, fin.SeccompFlags = prog.BPF, uint32(prog.Flags)
	}
	fin.StartFD = startFD
	fin.RootFD = 0 // the number is not used: the root comes over sync
	if h := spec.Hooks; h != nil && len(h.StartContainer) > 0 {
		// Run by the init after start (final.c run_hooks), as the Go
		// init's runHooks: in the process's working directory, with its
		// environment unless hook.env is set.
		st := s.rec.State.State
		st.Status, st.Pid = specs.StateCreated, s.pid
		if fin.HookState, err = fastjson.Marshal(&st); err != nil {
			return fmt.Errorf("startContainer hook: encode state: %w", err)
		}
		for _, hk := range h.StartContainer {
			c := nsenter.Hook{Path: hk.Path, Args: hk.Args, Env: hk.Env}
			if c.Env == nil {
				c.Env = env
			}
			if hk.Timeout != nil {
				c.Timeout = uint32(*hk.Timeout)
			}
			fin.Hooks = append(fin.Hooks, c)
		}
	}
	fin.CloseFrom = 3 + s.o.ListenFDs + s.o.PreserveFDs
	if !s.o.NoNewKeyring {
		fin.Keyring = s.id
	}
	if slave != nil {
		// The number is not used: the slave comes over sync.
		fin.ConsoleFD = 0
		if sz := p.ConsoleSize; sz != nil {
			fin.ConsoleSize, fin.ConsoleRows, fin.ConsoleCols = true, uint16(sz.Height), uint16(sz.Width)
		}
	}
	if err := l.sendConfig(fin.Encode()); err != nil {
		return err
	}
	if slave != nil {
		if err := sendFd(int(l.sync.Fd()), syncMsg{Type: msgOK}, int(slave.Fd())); err != nil {
			return fmt.Errorf("send pty: %w", err)
		}
	}
	if err := sendFd(int(l.sync.Fd()), syncMsg{Type: msgOK}, int(root.Fd())); err != nil {
		return fmt.Errorf("send root: %w", err)
	}
	if late {
		// In its cgroup (above): it may unshare its cgroup namespace.
		if err := sendMsg(l.sync, syncMsg{Type: msgOK}); err != nil {
			return l.exited(err)
		}
	}
	// The created state goes to disk while the init finishes its setup:
	// a create holds the container's lock until it returns, so start,
	// kill and delete see it only once the init is ready; a create that
	// fails from here removes the directory (abort), one killed leaves an
	// init whose death (it exits when sync closes) refresh notices.
	// The copy of the configuration is there before the state says
	// created.
	if err := s.waitCopy(); err != nil {
		return err
	}
	created := s.writeCreated()
	err = l.converse(ctx)
	if werr := <-created; err == nil {
		err = werr
	}
	if err != nil {
		return err
	}
	s.r.log.Debug("init ready", "container", s.id, "elapsed", time.Since(t0))
	return nil
}

// hasCgroupMount reports whether the configuration mounts a cgroup
// filesystem.
func hasCgroupMount(spec *specs.Spec) bool {
	for _, m := range spec.Mounts {
		if m.Type == "cgroup" || m.Type == "cgroup2" {
			return true
		}
	}
	return false
}

// makeCgroup creates the container's cgroup, with pid in it (-1: no one),
// and sets its limits.
func (s *setup) makeCgroup(pid int) error {
	if err := s.cg.Apply(pid); err != nil {
		return step("cgroup", err)
	}
	if res := s.spec.Linux.Resources; res != nil {
		if err := s.cg.Set(res); err != nil {
			return step("cgroup", err)
		}
	}
	return nil
}

// waitCgroupNS waits until the init, born in its cgroup, has unshared
// its cgroup namespace.
func (s *setup) waitCgroupNS() error {
	m, err := recvMsg(s.l.sync)
	switch {
	case err != nil:
		return s.l.exited(err)
	case m.Type == msgError:
		return errors.New(m.Msg)
	case m.Type != "cgroupns":
		return fmt.Errorf("unexpected message %q from init", m.Type)
	}
	return nil
}

// prepareOnThread prepares the root filesystem of the init s.pid from a
// new OS thread in its namespaces (rootThread) and returns the pty slave
// of a terminal, bound on /dev/console (the master is s.master).
func (s *setup) prepareOnThread(ctx context.Context, procfs *os.File, cgroupNS bool) (*os.File, error) {
	return s.startRootThread(ctx, cgroupNS).run(procfs)
}

// rootJob is the thread of prepareOnThread, started before its procfs
// context is there: it joins the init's namespaces at once, then waits.
type rootJob struct {
	start chan *os.File // the procfs context; closed: given up
	done  chan rootResult
}

type rootResult struct {
	slave *os.File
	err   error
}

// startRootThread starts the thread, which joins the init's namespaces
// (joinInitNS) and prepares the root filesystem once run gives it the
// procfs context.
func (s *setup) startRootThread(ctx context.Context, cgroupNS bool) *rootJob {
	j := &rootJob{start: make(chan *os.File, 1), done: make(chan rootResult, 1)}
	// A thread of its own that ends with the job, in the container's
	// namespaces; never the main thread (osthread.Run).
	go osthread.Run(func() {
		pidNS, err := s.joinInitNS(cgroupNS)
		if pidNS >= 0 {
			defer unix.Close(pidNS)
		}
		procfs, ok := <-j.start
		if err == nil && !ok {
			err = errors.New("root filesystem: setup given up")
		}
		var slave *os.File
		if err == nil {
			slave, err = s.rootThread(ctx, procfs, pidNS)
		}
		j.done <- rootResult{slave, err}
	})
	return j
}

// run hands the thread the procfs context and waits for the root
// filesystem.
func (j *rootJob) run(procfs *os.File) (*os.File, error) {
	j.start <- procfs
	r := <-j.done
	return r.slave, r.err
}

// giveUp ends a thread that run will not be called for.
func (j *rootJob) giveUp() { close(j.start) }

// nsJoins are the namespaces the thread joins when the container has its
// own, the mount namespace last (it changes the root and working
// directory of the thread).
var nsJoins = []struct {
	typ  specs.LinuxNamespaceType
	name string
	flag int
}{
	{specs.CgroupNamespace, "cgroup", unix.CLONE_NEWCGROUP},
	{specs.IPCNamespace, "ipc", unix.CLONE_NEWIPC},
	{specs.UTSNamespace, "uts", unix.CLONE_NEWUTS},
	{specs.NetworkNamespace, "net", unix.CLONE_NEWNET},
	{specs.MountNamespace, "mnt", unix.CLONE_NEWNS},
}

// joinInitNS has the locked thread of startRootThread leave the
// runtime's fs_struct and join the init's namespaces (its cgroup
// namespace with cgroupNS), and set the host and domain names. With
// createContainer hooks and a pid namespace it returns a handle on that
// namespace, which rootThread joins right before the hooks (else -1).
func (s *setup) joinInitNS(cgroupNS bool) (pidNS int, err error) {
	spec, plan := s.spec, s.plan
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	var joins, flags []int // setns(joins[i], flags[i]) now
	hooks := spec.Hooks != nil && len(spec.Hooks.CreateContainer) > 0
	pidNS = -1
	defer func() {
		if err != nil && pidNS >= 0 {
			unix.Close(pidNS)
			pidNS = -1
		}
	}()
	if hooks && plan.has[specs.PIDNamespace] {
		// The createContainer hooks are children of this thread: in the
		// container's pid namespace (setns sets it for children only).
		// Joined right before they start (rootThread), not here: the thread's
		// root is the host's until pivot_root, and whatever else it forks
		// meanwhile (the helper of an idmapped mount, in a user namespace
		// whose owner's root may open its /proc/<pid>/root with no
		// capability) must not be visible to processes already in a pid
		// namespace joined by path.
		path := "/proc/" + strconv.Itoa(s.pid) + "/ns/pid"
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return pidNS, &os.PathError{Op: "open", Path: path, Err: err}
		}
		pidNS = fd // kept open for rootThread
	}
	for _, ns := range nsJoins {
		// New or joined by path: the init's (nsenter joined them).
		if !plan.has[ns.typ] || (ns.typ == specs.CgroupNamespace && plan.newNS[ns.typ] && !cgroupNS) {
			continue
		}
		path := "/proc/" + strconv.Itoa(s.pid) + "/ns/" + ns.name
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return pidNS, &os.PathError{Op: "open", Path: path, Err: err}
		}
		fds = append(fds, fd)
		joins, flags = append(joins, fd), append(flags, ns.flag)
	}
	if !alive(s.pid, s.rec.InitStart) {
		return pidNS, errors.New("init exited during setup")
	}
	// setns(CLONE_NEWNS) needs an fs_struct of the thread's own.
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return pidNS, os.NewSyscallError("unshare CLONE_FS", err)
	}
	for i, fd := range joins {
		if err := unix.Setns(fd, flags[i]); err != nil {
			return pidNS, os.NewSyscallError("setns", err)
		}
	}
	if spec.Hostname != "" {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return pidNS, step("set hostname", err)
		}
	}
	if spec.Domainname != "" {
		if err := unix.Setdomainname([]byte(spec.Domainname)); err != nil {
			return pidNS, step("set domainname", err)
		}
	}
	return pidNS, nil
}

// rootThread runs on a locked thread that never returns to the Go
// scheduler, in the init's namespaces (joinInitNS): everything the Go
// init did between its start and the final stage, for the init s.pid.
func (s *setup) rootThread(ctx context.Context, procfs *os.File, pidNS int) (*os.File, error) {
	spec, plan := s.spec, s.plan
	hooks := spec.Hooks != nil && len(spec.Hooks.CreateContainer) > 0
	procUsed := false
	opts := rootfs.Options{CgroupPaths: mountCgroupPaths(s.cg, s.pid), Hierarchies: s.hierarchies, Logger: s.r.log,
		NoPivot: s.o.NoPivot, NoMountNS: !plan.has[specs.MountNamespace],
		OpenProc: func() (*os.File, error) {
			if procUsed {
				return nil, errors.New("only one proc mount is supported without the Go init")
			}
			procUsed = true
			return procfs, nil
		}}
	if err := rootfs.Prepare(spec, s.bundle, opts); err != nil {
		return nil, step("prepare rootfs", err)
	}
	var slave *os.File
	if spec.Process.Terminal {
		var err error
		if slave, err = s.terminalHere(); err != nil {
			return nil, step("console", err)
		}
	}
	if h := spec.Hooks; h != nil && (len(h.Prestart) > 0 || len(h.CreateRuntime) > 0) {
		// In the runtime's namespaces: from another thread.
		errc := make(chan error, 1)
		go func() { errc <- s.runtimeHooks(ctx) }()
		if err := <-errc; err != nil {
			return nil, err
		}
	}
	if hooks {
		// config.md "CreateContainer Hooks": in the container's
		// namespaces (this thread's, which forks them), in its root
		// directory (Prepare's working directory), before pivot_root.
		if pidNS >= 0 {
			// The first process os/exec starts is preceded by os's
			// pidfd probe, a throwaway child (os.checkPidfd, run once
			// per process): os.FindProcess runs it now, so that it is
			// born in the runtime's pid namespace, not the joined one.
			if p, err := os.FindProcess(os.Getpid()); err == nil {
				p.Release()
			}
			if err := unix.Setns(pidNS, unix.CLONE_NEWPID); err != nil {
				return nil, os.NewSyscallError("setns", err)
			}
		}
		st := s.rec.State.State
		st.Pid = s.pid
		if err := runHooks(ctx, "createContainer", spec.Hooks.CreateContainer, &st, process.MergeEnv(spec.Process.Env)); err != nil {
			s.hookFail = true
			return nil, err
		}
	}
	// Through the host's /proc, still visible: namespaced sysctls act on
	// the namespaces of the writing thread, the container's.
	if len(spec.Linux.Sysctl) > 0 {
		if err := process.WriteSysctls(spec.Linux.Sysctl); err != nil {
			return nil, step("sysctl", err)
		}
	}
	if err := rootfs.Finish(spec, opts); err != nil {
		return nil, step("finish rootfs", err)
	}
	{
		// The init chroots into this thread's root (final.c
		// ocikit_init_run): chroot(2) (--no-pivot, no mount namespace)
		// moved this thread only, and pivot_root(2) moves only the tasks
		// whose root was the namespace's root, which the init's is not
		// when the runtime itself runs chroot'ed.
		root, err := os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("open root: %w", err)
		}
		s.chroot = root
	}
	return slave, nil
}

// terminalHere opens the container's terminal in its devpts (the working
// directory is the root filesystem) and binds it on /dev/console; the
// master goes to s.master.
func (s *setup) terminalHere() (*os.File, error) {
	root, err := unix.Open(".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: "root filesystem", Err: err}
	}
	master, slave, err := openPtyIn(root)
	unix.Close(root)
	if err != nil {
		if master, slave, err = openRuntimePty(); err != nil {
			return nil, err
		}
	}
	if err := rootfs.BindConsole(slave); err != nil {
		master.Close()
		slave.Close()
		return nil, err
	}
	fd, err := unix.FcntlInt(master.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	master.Close()
	if err == nil {
		err = s.console(fd)
	}
	if err != nil {
		slave.Close()
		return nil, err
	}
	return slave, nil
}

// affinityWords is nsenter's "cpus" line: this process's CPU affinity as
// hex words, which the init takes back right before its execve after it
// ran on one CPU from its start (see nsenter.c). "" when unknown.
func affinityWords() string {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return ""
	}
	last := -1
	for i, w := range set {
		if w != 0 {
			last = i
		}
	}
	var b strings.Builder
	for _, w := range set[:last+1] {
		fmt.Fprintf(&b, " %x", uint64(w))
	}
	return b.String()
}
