package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/ocikit/ocikit/cgroups"
	"github.com/ocikit/ocikit/runtime/nsenter"
	"github.com/ocikit/ocikit/runtime/process"
	"github.com/ocikit/ocikit/runtime/rules"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

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
	var gate func()
	if fg != nil {
		// The process waits for its move into the cgroup before its
		// execve: every signal is caught by then.
		gate = fg.ready
	}
	x, err := r.startExec(ctx, id, &o, gate)
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
	// gate, when set, runs before the process may execve (launcher.gate).
	gate func()
}

// startExec starts the process; gate, when set, runs before the process
// may execve its program.
func (r *Runtime) startExec(ctx context.Context, id string, o *ExecOptions, gate func()) (*execution, error) {
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
	spec, err := execSpec(l.path, id)
	if err != nil {
		return nil, err
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
	x := &execSetup{r: r, id: id, rec: rec, spec: spec, gate: gate}
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
	l, err := newLauncher(x.r, x.id, "exec", nsenter.FinalEnv, 0, o.PreserveFDs)
	if err != nil {
		return nil, err
	}
	x.l = l
	l.spec, l.rec, l.cgroup, l.joined, l.gate = spec, x.rec, x.cgroup, x.joined, x.gate
	l.untilExec = true
	l.died = "exec: the process exited while joining the container's namespaces"
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
		f, err := openFile(path, unix.O_RDONLY)
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
	root, err := openFile("/proc/"+strconv.Itoa(initPid)+"/root", unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return nil, fmt.Errorf("container %q: root: %w", x.id, err)
	}
	if !alive(initPid, x.rec.InitStart) {
		root.Close()
		return nil, errorf(ErrWrongState, "container %q is stopped: cannot exec in it", x.id)
	}
	// HOME from the container's /etc/passwd when the environment has
	// none, read as the process would see it (process.Environ).
	env := process.Environ(p.Env, func() string { return process.HomeDirIn(root, p.User.UID) })
	cfg, err := process.Final(p, env, spec.Linux.Personality, nil, process.WithLogger(x.r.log.With("container", x.id)))
	if err != nil {
		root.Close()
		return nil, err
	}
	cfg.RootFD = l.add(root)
	prog, err := l.compileSeccomp()
	if err != nil {
		return nil, err
	}
	if prog != nil {
		cfg.Seccomp, cfg.SeccompFlags = prog.BPF, uint32(prog.Flags)
	}
	// In the order runc's exec takes them (ocikit_final_run): the name
	// for ps(1), execCPUAffinity.initial, a session, the terminal, the
	// container's root, a session keyring, the move into the cgroup
	// (asked for once its own setup is done, so that what it allocated
	// is charged to the caller's cgroup), execCPUAffinity.final, then
	// the process's attributes. The container's memory policy is not
	// applied to exec'd processes.
	cfg.Name, cfg.Setsid, cfg.CgroupSync, cfg.CloseFrom = "ocikit:exec", true, true, 3+o.PreserveFDs
	if !x.rec.NoNewKeyring {
		cfg.Keyring = x.id
	}
	if a := p.ExecCPUAffinity; a != nil {
		if cfg.CPUInitial, err = process.CPUSet(a.Initial); err != nil {
			return nil, err
		}
		if cfg.CPUFinal, err = process.CPUSet(a.Final); err != nil {
			return nil, err
		}
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
		if sz := p.ConsoleSize; sz != nil {
			cfg.ConsoleSize, cfg.ConsoleRows, cfg.ConsoleCols = true, uint16(sz.Height), uint16(sz.Width)
		}
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
	if err := l.sendConfig(cfg.Encode()); err != nil {
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

// execConfig is what exec reads of the container's copy of its
// configuration (execSpec): the process and the linux fields an exec'd
// process gets, with runtime-spec's types and names.
type execConfig struct {
	Process *specs.Process `json:"process,omitempty"`
	Linux   *struct {
		UIDMappings []specs.LinuxIDMapping  `json:"uidMappings,omitempty"`
		GIDMappings []specs.LinuxIDMapping  `json:"gidMappings,omitempty"`
		Namespaces  []specs.LinuxNamespace  `json:"namespaces,omitempty"`
		Seccomp     *specs.LinuxSeccomp     `json:"seccomp,omitempty"`
		Personality *specs.LinuxPersonality `json:"personality,omitempty"`
	} `json:"linux,omitempty"`
}

// execSpec reads the configuration of container id from its state
// directory dir as exec needs it: the process, and of linux the
// namespaces joined, the id mappings, the personality and seccomp, the
// rest left out. Decoding the whole configuration made encoding/json
// build its field caches for every type of runtime-spec (mounts, hooks,
// resources, devices, ...) on first use: 1-2 ms per exec here, where a
// page fault costs ~11 µs.
func execSpec(dir, id string) (*specs.Spec, error) {
	data, err := readFile(filepath.Join(dir, configFile))
	if err != nil {
		return nil, fmt.Errorf("container %q: %w", id, err)
	}
	var c execConfig
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("container %q: corrupt config.json copy: %w", id, err)
	}
	spec := &specs.Spec{Process: c.Process, Linux: &specs.Linux{}}
	if l := c.Linux; l != nil {
		spec.Linux.UIDMappings, spec.Linux.GIDMappings = l.UIDMappings, l.GIDMappings
		spec.Linux.Namespaces, spec.Linux.Seccomp, spec.Linux.Personality = l.Namespaces, l.Seccomp, l.Personality
	}
	return spec, nil
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
			// Plain system calls: the write blocks its thread for the
			// grace period anyway, Go's poller has nothing to add.
			if fd, err := openRaw(filepath.Join(dir, "cgroup.procs"), unix.O_WRONLY); err == nil {
				unix.Write(fd, []byte(strconv.Itoa(pid)))
				unix.Close(fd)
			}
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
