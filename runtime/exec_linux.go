package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"unsafe"

	"github.com/ocikit/ocikit/cgroups"
	"github.com/ocikit/ocikit/runtime/nsenter"
	"github.com/ocikit/ocikit/runtime/process"
	"github.com/ocikit/ocikit/runtime/rules"
	"github.com/ocikit/ocikit/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// execFDEnv names the inherited descriptor holding an exec'd process's
// configuration (execConfig); Init dispatches on it.
const execFDEnv = "_OCIKIT_EXECFD"

func init() {
	// As for the container init: the joined namespaces, credentials and
	// capabilities are the main thread's, which performs the execve.
	if os.Getenv(execFDEnv) != "" {
		goruntime.LockOSThread()
	}
}

// execConfig is what exec sends to its re-executed binary, which runs in
// the container's namespaces already (nsenter joined them).
type execConfig struct {
	ID          string                  `json:"id"`
	Process     *specs.Process          `json:"process"`
	Personality *specs.LinuxPersonality `json:"personality,omitempty"`
	SyncFD      int                     `json:"syncFd"`
	RootFD      int                     `json:"rootFd"`
	ConsoleFD   int                     `json:"consoleFd"`
	PreserveFDs int                     `json:"preserveFds,omitempty"`
	// NoNewKeyring: the container was created with --no-new-keyring.
	NoNewKeyring bool `json:"noNewKeyring,omitempty"`
	// CPUInitial: the process sets execCPUAffinity.initial before it asks
	// for the move into the container's cgroup (msgCgroup), which it
	// always does.
	CPUInitial bool `json:"cpuInitial,omitempty"`
	// Seccomp is the container's linux.seccomp compiled by exec (from the
	// cache under the root): the process only loads it.
	Seccomp *seccomp.Program `json:"seccomp,omitempty"`
}

// msgCgroup (exec'd process, or an init with initConfig.JoinCgroup): move
// me into the container's cgroup now.
const msgCgroup = "cgroup"

// Exec runs a new process in a created or running container (a paused one
// with o.IgnorePaused), as `runc exec`: it joins
// every namespace of the container's init (its user namespace first), the
// container's cgroup and root directory, and gets the container's process
// attributes (capabilities, rlimits, noNewPrivileges, AppArmor, seccomp,
// user, cwd, environment) with o's overrides. In the foreground (without
// o.Detach) signals are forwarded to it, a terminal is wired to the
// caller's, and the result is its exit status (128+N when signal N killed
// it); with o.Detach Exec returns once the program runs.
func (r *Runtime) Exec(ctx context.Context, id string, o ExecOptions) (int, error) {
	var fg *foreground
	if !o.Detach {
		// The process is our grandchild when a pid namespace is joined
		// (nsenter forks): as a subreaper we still wait for it.
		var err error
		if fg, err = newForeground(true); err != nil {
			return -1, err
		}
		defer fg.stop()
	}
	x, err := r.startExec(ctx, id, &o)
	if err != nil {
		return -1, err
	}
	if o.Detach {
		return 0, nil
	}
	var tty *ttyCopy
	if x.master != nil {
		tty = newTTYCopy(x.master, orStd(o.Stdin, os.Stdin), orStd(o.Stdout, os.Stdout))
	}
	code := fg.wait(x.pid, tty)
	if x.stdio != nil {
		x.stdio.finish()
	}
	return code, nil
}

// execution is an exec'd process that runs.
type execution struct {
	pid    int
	master *os.File   // pty master kept for the foreground
	stdio  *pipeRelay // stdio relayed in the foreground without a terminal
}

// execSetup is one exec in progress.
type execSetup struct {
	r      *Runtime
	id     string
	rec    *record
	spec   *specs.Spec
	cgroup *cgroups.Manager // the container's, or with --cgroup its sub-cgroups
	l      *launcher
	// joined, when set, runs once the process is in the container's
	// cgroup.
	joined func()
}

func (r *Runtime) startExec(ctx context.Context, id string, o *ExecOptions) (*execution, error) {
	l, rec, err := r.lockState(id)
	if err != nil {
		return nil, err
	}
	// Held until the process is in the container's cgroup and runs:
	// delete cannot remove the cgroup under it.
	defer l.unlock()
	// As runc: a created container takes exec'd processes (its init waits
	// for start in its finished namespaces and root) and stays created; a
	// paused one only when asked, since the process starts frozen.
	switch rec.State.Status {
	case specs.StateCreated, specs.StateRunning:
	case StatePaused:
		if !o.IgnorePaused {
			return nil, errorf(ErrWrongState, "container %q is paused: cannot exec in it (--ignore-paused to override)", id)
		}
	default:
		return nil, errorf(ErrWrongState, "container %q is %s: cannot exec in it", id, rec.State.Status)
	}
	if rec.Cgroup != nil && cgroups.HostMode() != cgroups.Unified {
		primeMigration(rec.Cgroup, rec.State.Pid)
	}
	spec, err := rec.loadSpec(l.path)
	if err != nil {
		return nil, err
	}
	if spec.Linux == nil {
		spec.Linux = &specs.Linux{}
	}
	p, err := execProcess(spec.Process, o)
	if err != nil {
		return nil, err
	}
	// Warnings (unknown capabilities) come from the process (syncLogger).
	if err := process.ValidateProcess(p); err != nil {
		return nil, err
	}
	switch {
	case o.PreserveFDs < 0:
		return nil, errorf(ErrInvalidSpec, "--preserve-fds must not be negative")
	case p.Terminal && o.Detach && o.ConsoleSocket == "":
		return nil, errorf(ErrInvalidSpec, "a terminal with --detach needs --console-socket")
	case !p.Terminal && o.ConsoleSocket != "":
		return nil, errorf(ErrInvalidSpec, "--console-socket given without a terminal (--tty or process.terminal)")
	case !nsenter.Available:
		return nil, errorf(ErrNotSupported, "exec needs ocikit built with cgo")
	}
	x := &execSetup{r: r, id: id, rec: rec, spec: spec}
	cgState := rec.Cgroup
	if len(o.SubCgroups) > 0 {
		if cgState, err = execSubCgroup(rec.Cgroup, o.SubCgroups); err != nil {
			return nil, err
		}
	}
	if cgState != nil {
		// Its directories exist: the process joins them (Enter), the
		// cgroup is not set up again.
		if x.cgroup, err = cgroups.Load(*cgState); err != nil {
			return nil, step("cgroup", err)
		}
		x.cgroup.SetLogger(r.log)
	}
	if rec.State.Status == StatePaused {
		// The process freezes once in the cgroup and runs only on
		// resume, which takes the lock: release it after the join.
		x.joined = l.unlock
	}
	e, err := x.run(ctx, p, o)
	if x.l != nil {
		if err != nil {
			x.l.kill()
		}
		x.l.close() // a relay not taken is closed: failed
	}
	return e, err
}

func (x *execSetup) run(ctx context.Context, p *specs.Process, o *ExecOptions) (*execution, error) {
	spec, initPid := x.spec, x.rec.State.Pid
	l, err := newLauncher(x.r, x.id, "exec", execFDEnv, 0, o.PreserveFDs)
	if err != nil {
		return nil, err
	}
	x.l = l
	l.spec, l.rec, l.cgroup, l.joined = spec, x.rec, x.cgroup, x.joined
	l.untilExec = true
	l.died = "exec: the process exited while joining the container's namespaces"
	cfg := &execConfig{ID: x.id, Process: p, Personality: spec.Linux.Personality, ConsoleFD: -1, PreserveFDs: o.PreserveFDs,
		NoNewKeyring: x.rec.NoNewKeyring, SyncFD: l.syncFD}
	// The init's namespaces and root, opened here and checked to belong
	// to the container's init afterwards: a recycled pid cannot slip in.
	// nsenter reopens them through /proc/self/fd.
	l.useNsenter()
	for _, ns := range spec.Linux.Namespaces {
		nsRule, ok := rules.LookupNamespace(ns.Type)
		if !ok {
			continue
		}
		name := nsRule.ProcName
		path := "/proc/" + strconv.Itoa(initPid) + "/ns/" + name
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("container %q: %s namespace: %w", x.id, ns.Type, err)
		}
		if sameNS(f, "/proc/self/ns/"+name) {
			f.Close()
			continue // shared with the host (joining our own user namespace fails)
		}
		l.joinNS(ns.Type, "/proc/self/fd/"+strconv.Itoa(l.add(f)))
		switch ns.Type {
		case specs.PIDNamespace, specs.TimeNamespace:
			// They apply to the children of the caller only.
			l.forkOnce()
		}
	}
	root, err := os.OpenFile("/proc/"+strconv.Itoa(initPid)+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("container %q: root: %w", x.id, err)
	}
	cfg.RootFD = l.add(root)
	if !alive(initPid, x.rec.InitStart) {
		return nil, errorf(ErrWrongState, "container %q is stopped: cannot exec in it", x.id)
	}
	if cfg.Seccomp, err = l.compileSeccomp(); err != nil {
		return nil, err
	}
	var master *os.File
	if p.Terminal {
		// In the container's devpts, as runc, so the terminal has a name
		// there; the runtime's when it has none (/dev bound from the host).
		m, slave, err := openContainerPty(initPid)
		if err != nil {
			x.r.log.Debug("exec terminal from the runtime's devpts", "container", x.id, "reason", err)
			if m, slave, err = openRuntimePty(); err != nil {
				return nil, step("console", err)
			}
		}
		master = m
		l.closeLater(m)
		cfg.ConsoleFD = l.add(slave)
		if o.ConsoleSocket == "" {
			// Relayed by Exec: plain newlines, as runc's, from the
			// program's first byte on.
			if err := clearONLCR(m); err != nil {
				return nil, step("console", err)
			}
			if p.ConsoleSize == nil {
				// The caller's terminal size from the start: the program
				// may ask for it before Exec wires the terminal.
				in := orStd(o.Stdin, os.Stdin)
				if ws, err := unix.IoctlGetWinsize(int(in.Fd()), unix.TIOCGWINSZ); err == nil {
					unix.IoctlSetWinsize(int(m.Fd()), unix.TIOCSWINSZ, ws)
				}
			}
		}
		// The process's user owns its terminal; the group and mode stay
		// those the devpts mount gave it (gid=5, 620), as with runc.
		if err := chownTerminal(slave, int(hostID(spec.Linux.UIDMappings, p.User.UID))); err != nil {
			return nil, step("console", err)
		}
	} else {
		err := l.setStdio(!o.Detach, int(hostID(spec.Linux.UIDMappings, 0)), int(hostID(spec.Linux.GIDMappings, 0)),
			orStd(o.Stdin, os.Stdin), orStd(o.Stdout, os.Stdout), orStd(o.Stderr, os.Stderr))
		if err != nil {
			return nil, err
		}
	}
	// Non-dumpable until execve (CVE-2019-5736), as the init, in a user
	// namespace too: the container's root holds CAP_SYS_PTRACE there and
	// could otherwise attach to the process while it still holds the
	// runtime's descriptors (newLauncher). nsenter writes oom_score_adj
	// before that.
	l.oomScoreAdj(p)
	// Born in the container's cgroup where the host allows it (cgroup v2,
	// clone3 CLONE_INTO_CGROUP); nsenter's fork stays there.
	if _, err := l.run(l.cgroup != nil && cgroups.HostMode() == cgroups.Unified); err != nil {
		return nil, err
	}
	pid := l.pid
	// The process asks for the move into the container's cgroup
	// (msgCgroup) once its own setup is done, just before it takes the
	// process's attributes, so that what its Go runtime allocates is
	// charged to the caller's cgroup, not the container's (as the init's,
	// initConfig.JoinCgroup). process.execCPUAffinity.initial applies
	// until then (config.md).
	cfg.CPUInitial = p.ExecCPUAffinity != nil && p.ExecCPUAffinity.Initial != ""
	if err := l.sendConfig(cfg); err != nil {
		return nil, err
	}
	// The process reports an error, or a seccomp notify descriptor, or
	// closes the socket by execve(2).
	if err := l.converse(ctx); err != nil {
		return nil, err
	}
	x.r.log.Debug("exec started", "container", x.id, "pid", pid)
	if master != nil && o.ConsoleSocket != "" {
		if err := sendConsole(o.ConsoleSocket, master); err != nil {
			return nil, err
		}
		master = nil
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, pid); err != nil {
			return nil, err
		}
	}
	if o.PidfdSocket != "" {
		if err := sendPidfd(o.PidfdSocket, pid); err != nil {
			return nil, err
		}
	}
	e := &execution{pid: pid}
	if master != nil {
		// Ours now: not closed with the setup's files.
		dup, err := unix.FcntlInt(master.Fd(), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil, os.NewSyscallError("fcntl", err)
		}
		e.master = os.NewFile(uintptr(dup), master.Name())
	}
	e.stdio = l.takeStdio()
	return e, nil
}

// execSubCgroup returns the cgroup state of an exec'd process with
// --cgroup: the container's directories with the sub-cgroups given.
func execSubCgroup(st *cgroups.State, args []string) (*cgroups.State, error) {
	sub, err := parseSubCgroups(args)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return nil, errorf(ErrInvalidSpec, "--cgroup: the container has no cgroup")
	}
	c := *st
	c.Paths = make(map[string]string, len(st.Paths))
	for ctrl, dir := range st.Paths {
		if c.Paths[ctrl], err = subCgroupPath(dir, ctrl, sub); err != nil {
			return nil, err
		}
	}
	for ctrl := range sub {
		if _, ok := st.Paths[ctrl]; !ok && ctrl != "" {
			return nil, errorf(ErrInvalidSpec, "--cgroup: the container has no %q cgroup controller", ctrl)
		}
	}
	return &c, nil
}

// primeMigration starts, in the background, a no-op move of the init into
// the cgroup it is in. On cgroup v1 the first migration of a process after
// a quiet period waits for an RCU grace period (the kernel's rcu_sync of
// cgroup_threadgroup_rwsem; ~10 ms here), and later ones within a grace
// period do not: the wait then overlaps with the rest of the setup
// instead of delaying the exec'd process's own migration. (Pure cgroup v2
// needs none: the process is born in its cgroup.)
func primeMigration(st *cgroups.State, pid int) {
	for _, dir := range st.Paths {
		go func() {
			// Errors do not matter: the real migration reports its own.
			os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0)
		}()
		return
	}
}

// sameNS reports whether the namespace f is the one at path.
func sameNS(f *os.File, path string) bool {
	var a, b unix.Stat_t
	if unix.Fstat(int(f.Fd()), &a) != nil || unix.Stat(path, &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}

// execInit is the exec'd process before its execve: inside the
// container's namespaces and cgroup, it reads its configuration, takes the
// container's root and the process's attributes and executes the program.
// It returns only on failure, after reporting the error.
func execInit() error {
	goruntime.LockOSThread()
	fd, err := strconv.Atoi(os.Getenv(execFDEnv))
	if err != nil {
		return errors.New("init: not started by ocikit exec")
	}
	os.Unsetenv(execFDEnv)
	f := os.NewFile(uintptr(fd), "config")
	var cfg execConfig
	err = json.NewDecoder(f).Decode(&cfg)
	f.Close()
	if err != nil {
		return fmt.Errorf("exec: read configuration: %w", err)
	}
	sync := os.NewFile(uintptr(cfg.SyncFD), "sync")
	err = cfg.run(sync)
	sendMsg(sync, syncMsg{Type: msgError, Msg: oneLine(err.Error())})
	return err
}

func (c *execConfig) run(sync *os.File) error {
	p := c.Process
	// Executed from /proc/self/fd/N: name it for ps(1) in the container.
	if name, err := unix.BytePtrFromString("ocikit:exec"); err == nil {
		unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(name)), 0, 0, 0)
	}
	if a := p.ExecCPUAffinity; a != nil && c.CPUInitial {
		if err := process.SetCPUAffinity(a.Initial); err != nil {
			return step("execCPUAffinity", err)
		}
	}
	if _, err := unix.Setsid(); err != nil {
		return step("setsid", err)
	}
	if c.ConsoleFD >= 0 {
		if err := setupConsole(os.NewFile(uintptr(c.ConsoleFD), "console"), p.ConsoleSize); err != nil {
			return step("console", err)
		}
	}
	// Joining the mount namespace put us at its root; the container's
	// root is the init's (a --no-pivot container chroot'ed into it).
	if err := unix.Fchdir(c.RootFD); err != nil {
		return step("root", os.NewSyscallError("fchdir", err))
	}
	if err := unix.Chroot("."); err != nil {
		return step("root", &os.PathError{Op: "chroot", Path: ".", Err: err})
	}
	unix.Close(c.RootFD)
	if !c.NoNewKeyring {
		if _, err := unix.KeyctlJoinSessionKeyring(c.ID); err != nil && !errors.Is(err, unix.ENOSYS) {
			return step("join session keyring", err)
		}
	}
	// Into the container's cgroup (the runtime moves us), then the
	// process's attributes: the user and capabilities, a seccomp filter.
	if err := sendMsg(sync, syncMsg{Type: msgCgroup}); err != nil {
		return step("sync", err)
	}
	if m, err := recvMsg(sync); err != nil || m.Type != msgOK {
		os.Exit(1) // the runtime reports the error
	}
	if a := p.ExecCPUAffinity; a != nil {
		// In its cgroup now, whose cpuset may have reset the affinity.
		if err := process.SetCPUAffinity(a.Final); err != nil {
			return step("execCPUAffinity", err)
		}
	}
	// Everything but stdio and the preserved descriptors is closed by the
	// execve, the sync socket included: exec sees EOF. Before setupProcess,
	// whose seccomp filter may refuse close_range(2) (as the init).
	if err := closeOnExecFrom(3 + c.PreserveFDs); err != nil {
		return step("close descriptors", err)
	}
	// The container's memory policy is not applied to exec'd processes.
	path, err := setupProcess(p, c.Personality, nil, c.Seccomp, sync)
	if err != nil {
		return err
	}
	// The address-space rlimits last: from here on this process maps
	// nothing new before execve (process.SetRlimitsEarly).
	if err := process.SetRlimitsLate(p.Rlimits); err != nil {
		return step("rlimits", err)
	}
	if c.Seccomp != nil && p.NoNewPrivileges {
		if err := loadSeccomp(c.Seccomp, int(sync.Fd()), sync); err != nil {
			return err
		}
	}
	err = unix.Exec(path, p.Args, p.Env)
	return step("exec "+p.Args[0], err)
}
