package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"github.com/ocikit/ocikit/cgroups"
	"github.com/ocikit/ocikit/internal/fsutil"
	"github.com/ocikit/ocikit/runtime/nsenter"
	"github.com/ocikit/ocikit/runtime/process"
	"github.com/ocikit/ocikit/runtime/rules"
	"github.com/ocikit/ocikit/seccomp"
	lc "github.com/opencontainers/cgroups"
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
	if !o.Detach {
		// The process is our grandchild when a pid namespace is joined
		// (nsenter forks): as a subreaper we still wait for it.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return -1, os.NewSyscallError("prctl", err)
		}
	}
	var sigs chan os.Signal
	if !o.Detach {
		// From now on, so that no signal meant for the process is lost.
		sigs = make(chan os.Signal, 64)
		signal.Notify(sigs)
		defer signal.Stop(sigs)
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
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case s := <-sigs:
				switch sig := s.(unix.Signal); sig {
				case unix.SIGCHLD, unix.SIGURG, unix.SIGPIPE:
				case unix.SIGWINCH:
					if tty != nil {
						tty.resize()
					}
				default:
					unix.Kill(x.pid, sig)
				}
			}
		}
	}()
	code := waitExit(x.pid)
	close(done)
	if tty != nil {
		tty.finish()
	}
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
	r       *Runtime
	id      string
	rec     *record
	spec    *specs.Spec
	cgroup  *cgroups.State // the container's, or with --cgroup its sub-cgroups
	stdio   *pipeRelay
	closers []io.Closer
	// joined, when set, runs once the process is in the container's
	// cgroup.
	joined func()
}

func (x *execSetup) closeLater(c io.Closer) { x.closers = append(x.closers, c) }

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
	x := &execSetup{r: r, id: id, rec: rec, spec: spec, cgroup: rec.Cgroup}
	if len(o.SubCgroups) > 0 {
		if x.cgroup, err = execSubCgroup(rec.Cgroup, o.SubCgroups); err != nil {
			return nil, err
		}
	}
	if rec.State.Status == StatePaused {
		// The process freezes once in the cgroup and runs only on
		// resume, which takes the lock: release it after the join.
		x.joined = l.unlock
	}
	e, err := x.run(ctx, p, o)
	for _, c := range x.closers {
		c.Close()
	}
	if x.stdio != nil {
		x.stdio.closeAll() // failed
	}
	return e, err
}

func (x *execSetup) run(ctx context.Context, p *specs.Process, o *ExecOptions) (*execution, error) {
	spec, initPid := x.spec, x.rec.State.Pid
	cfg := &execConfig{ID: x.id, Process: p, Personality: spec.Linux.Personality, ConsoleFD: -1, PreserveFDs: o.PreserveFDs,
		NoNewKeyring: x.rec.NoNewKeyring}
	files, err := inheritFDs(0, o.PreserveFDs)
	if err != nil {
		return nil, err
	}
	addFile := func(f *os.File) int {
		files = append(files, f)
		return 3 + len(files) - 1
	}
	// The init's namespaces and root, opened here and checked to belong
	// to the container's init afterwards: a recycled pid cannot slip in.
	// nsenter reopens them through /proc/self/fd.
	var plan strings.Builder
	fork := false
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
		x.closeLater(f)
		if sameNS(f, "/proc/self/ns/"+name) {
			continue // shared with the host (joining our own user namespace fails)
		}
		fmt.Fprintf(&plan, "join %s /proc/self/fd/%d\n", ns.Type, addFile(f))
		switch ns.Type {
		case specs.PIDNamespace, specs.TimeNamespace:
			// They apply to the children of the caller only.
			fork = true
		}
	}
	root, err := os.OpenFile("/proc/"+strconv.Itoa(initPid)+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("container %q: root: %w", x.id, err)
	}
	x.closeLater(root)
	if !alive(initPid, x.rec.InitStart) {
		return nil, errorf(ErrWrongState, "container %q is stopped: cannot exec in it", x.id)
	}
	cfg.RootFD = addFile(root)
	if fork {
		plan.WriteString("fork\n")
	}
	if spec.Linux.Seccomp != nil {
		prog, err := seccomp.Compile(spec.Linux.Seccomp,
			seccomp.WithCacheDir(filepath.Join(x.r.root, seccompCache)), seccomp.WithLogger(x.r.log))
		if err != nil {
			return nil, err // "seccomp: ..."
		}
		cfg.Seccomp = prog
	}
	exeFile, err := initBinary()
	if err != nil {
		return nil, err
	}
	x.closeLater(exeFile)
	cmd := &exec.Cmd{Path: "/proc/self/fd/" + strconv.Itoa(addFile(exeFile)), Args: []string{"ocikit", "init"}}
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("config pipe: %w", err)
	}
	x.closeLater(cfgR)
	x.closeLater(cfgW)
	cfgFD := addFile(cfgR)
	syncP, syncC, err := socketpair()
	if err != nil {
		return nil, err
	}
	x.closeLater(syncP)
	x.closeLater(syncC)
	cfg.SyncFD = addFile(syncC)
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
		x.closeLater(m)
		x.closeLater(slave)
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
		cfg.ConsoleFD = addFile(slave)
	} else if !o.Detach {
		relay, err := newPipeRelay(int(hostID(spec.Linux.UIDMappings, 0)), int(hostID(spec.Linux.GIDMappings, 0)),
			orStd(o.Stdin, os.Stdin), orStd(o.Stdout, os.Stdout), orStd(o.Stderr, os.Stderr))
		if err != nil {
			return nil, fmt.Errorf("stdio pipes: %w", err)
		}
		x.stdio = relay
		cmd.Stdin, cmd.Stdout, cmd.Stderr = relay.child[0], relay.child[1], relay.child[2]
	} else {
		cmd.Stdin = orStd(o.Stdin, os.Stdin)
		cmd.Stdout = orStd(o.Stdout, os.Stdout)
		cmd.Stderr = orStd(o.Stderr, os.Stderr)
	}
	fmt.Fprintf(&plan, "sync %d\n", cfg.SyncFD)
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("nsenter pipe: %w", err)
	}
	x.closeLater(pr)
	_, err = pw.WriteString(plan.String())
	pw.Close()
	if err != nil {
		return nil, fmt.Errorf("nsenter pipe: %w", err)
	}
	cmd.Env = []string{execFDEnv + "=" + strconv.Itoa(cfgFD), "_OCIKIT_NSENTER=" + strconv.Itoa(addFile(pr))}
	// Non-dumpable until execve (CVE-2019-5736), as the init, in a user
	// namespace too: the container's root holds CAP_SYS_PTRACE there and
	// could otherwise attach to the process while it still holds the
	// runtime's descriptors. nsenter writes oom_score_adj before that.
	cmd.Env = append(cmd.Env, "_OCIKIT_NODUMP=1")
	if p.OOMScoreAdj != nil {
		cmd.Env = append(cmd.Env, oomEnv+"="+strconv.Itoa(*p.OOMScoreAdj))
	}
	cmd.ExtraFiles = files
	attr := &syscall.SysProcAttr{}
	cmd.SysProcAttr = attr

	// Born in the container's cgroup where the host allows it (cgroup v2,
	// clone3 CLONE_INTO_CGROUP); nsenter's fork stays there.
	cgState := x.cgroup
	intoCgroup := false
	if cgState != nil && cgroups.HostMode() == cgroups.Unified {
		if dir := cgState.Paths[""]; dir != "" {
			if f, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
				x.closeLater(f)
				attr.UseCgroupFD, attr.CgroupFD = true, int(f.Fd())
				intoCgroup = true
			}
		}
	}
	if err := cmd.Start(); err != nil {
		if !intoCgroup {
			return nil, fmt.Errorf("start exec: %w", err)
		}
		intoCgroup = false
		attr.UseCgroupFD, attr.CgroupFD = false, -1
		cmd = &exec.Cmd{Path: cmd.Path, Args: cmd.Args, Env: cmd.Env, Stdin: cmd.Stdin, Stdout: cmd.Stdout,
			Stderr: cmd.Stderr, ExtraFiles: cmd.ExtraFiles, SysProcAttr: attr}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("start exec: %w", err)
		}
	}
	syncC.Close()
	cfgR.Close()
	pid := cmd.Process.Pid
	if fork {
		m, err := recvMsg(syncP)
		switch {
		case err == io.EOF:
			cmd.Wait()
			return nil, errors.New("exec: the process exited while joining the container's namespaces")
		case err != nil:
			cmd.Process.Kill()
			cmd.Wait()
			return nil, err
		case m.Type == msgError:
			cmd.Wait()
			return nil, errors.New(m.Msg)
		case m.Type != msgPid:
			cmd.Process.Kill()
			cmd.Wait()
			return nil, fmt.Errorf("unexpected message %q from exec", m.Type)
		}
		pid = m.Pid
		cmd.Wait() // the intermediate process exits after reporting
	}
	fail := func(err error) (*execution, error) {
		unix.Kill(pid, unix.SIGKILL)
		if !fork {
			cmd.Wait()
		}
		return nil, err
	}
	// The process asks for the move into the container's cgroup
	// (msgCgroup) once its own setup is done, just before it takes the
	// process's attributes, so that what its Go runtime allocates is
	// charged to the caller's cgroup, not the container's (as the init's,
	// initConfig.JoinCgroup). process.execCPUAffinity.initial applies
	// until then (config.md).
	join := func() error {
		if cgState != nil && !intoCgroup {
			if err := enterCgroup(cgState, pid); err != nil {
				return step("cgroup", err)
			}
		}
		if x.joined != nil {
			x.joined()
		}
		return nil
	}
	cfg.CPUInitial = p.ExecCPUAffinity != nil && p.ExecCPUAffinity.Initial != ""
	data, err := json.Marshal(cfg)
	if err != nil {
		return fail(fmt.Errorf("encode exec config: %w", err))
	}
	go func() {
		cfgW.Write(data)
		cfgW.Close()
	}()
	// The process reports an error, or a seccomp notify descriptor, or
	// closes the socket by execve(2).
	for {
		m, err := recvMsg(syncP)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(err)
		}
		switch m.Type {
		case msgCgroup:
			if err := join(); err != nil {
				return fail(err)
			}
			sendMsg(syncP, syncMsg{Type: msgOK})
		case msgError:
			if !fork {
				cmd.Wait()
			}
			return nil, errors.New(m.Msg)
		case msgSeccomp:
			st := x.rec.State.State
			if err := x.r.sendSeccomp(spec, st, m.fd); err != nil {
				return fail(err)
			}
			sendMsg(syncP, syncMsg{Type: msgOK})
		case msgWarn:
			logWarning(x.r.log, x.id, m)
		default:
			return fail(fmt.Errorf("unexpected message %q from exec", m.Type))
		}
	}
	x.r.log.Debug("exec started", "container", x.id, "pid", pid)
	if master != nil && o.ConsoleSocket != "" {
		if err := sendConsole(o.ConsoleSocket, master); err != nil {
			return fail(err)
		}
		master = nil
	}
	if o.PidFile != "" {
		pf, err := filepath.Abs(o.PidFile)
		if err == nil {
			err = fsutil.WriteFile(pf, []byte(strconv.Itoa(pid)), 0o644, fsutil.NoSync())
		}
		if err != nil {
			return fail(fmt.Errorf("pid file: %w", err))
		}
	}
	if o.PidfdSocket != "" {
		if err := sendPidfd(o.PidfdSocket, pid); err != nil {
			return fail(err)
		}
	}
	e := &execution{pid: pid, stdio: x.stdio}
	x.stdio = nil
	if master != nil {
		// Ours now: not closed with the setup's files.
		dup, err := unix.FcntlInt(master.Fd(), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return fail(os.NewSyscallError("fcntl", err))
		}
		e.master = os.NewFile(uintptr(dup), master.Name())
	}
	return e, nil
}

// enterCgroup moves pid into the container's cgroup directories, which
// exist: a write to cgroup.procs of each (as runc's exec). Not the
// cgroup manager's Apply, which with the systemd driver would start the
// container's unit again. A rootless container may have directories it
// could not create or may not write (cgroups.State.Rootless): its
// processes then stay in the caller's cgroup, as its init did.
func enterCgroup(st *cgroups.State, pid int) error {
	dirs := slices.Sorted(maps.Values(st.Paths))
	for i, dir := range dirs {
		if i > 0 && dir == dirs[i-1] {
			continue // a directory listed for two controllers
		}
		err := lc.WriteCgroupProc(dir, pid)
		if err != nil && st.Rootless && (errors.Is(err, os.ErrPermission) || errors.Is(err, os.ErrNotExist)) {
			continue
		}
		if err != nil {
			return fmt.Errorf("join %s: %w", dir, err)
		}
	}
	return nil
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
