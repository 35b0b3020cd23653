package runtime

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ocikit/ocikit/cgroups"
	"github.com/ocikit/ocikit/internal/fsutil"
	"github.com/ocikit/ocikit/internal/userns"
	"github.com/ocikit/ocikit/runtime/nsenter"
	"github.com/ocikit/ocikit/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// launcher starts one process of ocikit's own binary into a container,
// the container's init (create) or an exec'd process (exec), and serves
// it until it is ready: every way a process enters a container goes
// through it. It owns the descriptors the process inherits (the caller's
// preserved ones first, then the protected binary, the configuration
// pipe, the sync socket, the nsenter plan), the process's environment and
// clone attributes, the start into the container's cgroup (born there or
// moved when it asks), the sync conversation and, on failure, the end of
// the process. What differs between the callers are the hooks below.
type launcher struct {
	r    *Runtime
	id   string
	what string // "init" or "exec", in messages
	spec *specs.Spec
	rec  *record // the container's record: its state for seccomp agents
	// cgroup is the cgroup the process joins when it asks (msgCgroup),
	// nil for none.
	cgroup *cgroups.Manager

	cmd      *child
	files    []*os.File // ExtraFiles: descriptor 3+i
	children []*os.File // the process's ends, closed once it runs
	closers  []io.Closer
	attr     syscall.SysProcAttr
	cfgW     *os.File
	sync     *os.File
	syncFD   int // the process's end of the sync socket
	nsenter  strings.Builder
	viaC     bool // nsenter has a plan
	// planEnd, when set, adds the plan's last lines once the process
	// runs, knowing whether it was born in its cgroup: nsenter reads the
	// plan only then (the pipe's end).
	planEnd  func(born bool)
	fork     bool // nsenter forks: the process is a grandchild
	pid      int
	start    uint64 // the process's start time (procStat), once known
	stdio    *pipeRelay
	inCgroup bool // born in its cgroup

	// Hooks for what only one caller's process asks, nil where it never
	// does: user namespace maps (msgMaps), a mount source (msgSource),
	// the runtime hooks (msgHooks), its terminal (msgConsole).
	onMaps    func(pid int) error
	onSource  func(i int) error
	onHooks   func(ctx context.Context) error
	onConsole func(fd int) error
	// joined, when set, runs once the process is in its cgroup.
	joined func()
	// gate, when set, runs before the answer to the process's cgroup
	// request (msgCgroup), which it waits for before its execve.
	gate func()
	// untilExec: the conversation ends when the process's execve closes
	// the sync socket (exec), not with msgReady (init).
	untilExec bool
	// died is what a process that closes the sync socket during setup
	// failed at.
	died string
}

// newLauncher prepares the launch of `ocikit init` with the caller's
// listen and preserved descriptors; cfgEnv names the variable that gives
// the process its configuration pipe.
func newLauncher(r *Runtime, id, what, cfgEnv string, listenFDs, preserveFDs int) (*launcher, error) {
	l := &launcher{r: r, id: id, what: what, died: what + " exited during setup"}
	files, err := inheritFDs(listenFDs, preserveFDs)
	if err != nil {
		return nil, err
	}
	l.files = files
	// The process is executed through a descriptor of the protected
	// binary (CVE-2019-5736): the state root may be closed to the
	// process's user (a user namespace's root is not the host's), the
	// binary itself is world-executable.
	exeFile, err := initBinary()
	if err != nil {
		return nil, err
	}
	l.cmd = &child{path: "/proc/self/fd/" + strconv.Itoa(l.add(exeFile)), args: []string{"ocikit", "init"}}
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		l.close()
		return nil, fmt.Errorf("config pipe: %w", err)
	}
	l.cfgW = cfgW
	l.closeLater(cfgW)
	cfgFD := l.add(cfgR)
	syncP, syncC, err := socketpair()
	if err != nil {
		l.close()
		return nil, err
	}
	l.sync = syncP
	l.closeLater(syncP)
	l.syncFD = l.add(syncC)
	// Non-dumpable from its first instruction to execve (nsenter), so
	// that no process of the container, and none with the same host uid
	// as a user-namespaced container's root, can ptrace it or open its
	// /proc/<pid>/exe and descriptors (CVE-2019-5736). What it must
	// write in its own /proc meanwhile is written by nsenter before
	// (oom_score_adj, timens_offsets) or by the runtime while nsenter
	// makes it dumpable for that moment (uid_map, gid_map).
	l.cmd.env = []string{cfgEnv + "=" + strconv.Itoa(cfgFD), "_OCIKIT_NODUMP=1"}
	if cfgEnv == nsenter.FinalEnv && noHugePages() {
		l.cmd.env = append(l.cmd.env, thpEnv+"=1")
	}
	return l, nil
}

func (l *launcher) closeLater(c io.Closer) { l.closers = append(l.closers, c) }

// add passes f to the process and returns its descriptor number there.
// The runtime's copy is closed once the process runs.
func (l *launcher) add(f *os.File) int {
	l.files = append(l.files, f)
	l.children = append(l.children, f)
	l.closeLater(f)
	return 3 + len(l.files) - 1
}

// close releases the launch's descriptors (not the process, see kill).
func (l *launcher) close() {
	for _, c := range l.closers {
		c.Close()
	}
	l.closers = nil
	if l.stdio != nil {
		l.stdio.closeAll()
		l.stdio = nil
	}
}

// oomScoreAdj has nsenter write p's oom_score_adj before the process is
// non-dumpable.
func (l *launcher) oomScoreAdj(p *specs.Process) {
	if p != nil && p.OOMScoreAdj != nil {
		l.cmd.env = append(l.cmd.env, oomEnv+"="+strconv.Itoa(*p.OOMScoreAdj))
	}
}

// setStdio gives the process the caller's stdio (in, out, errOut), or with
// relay pipes the runtime copies to and from them (pipeRelay), owned by
// uid:gid.
func (l *launcher) setStdio(relay bool, uid, gid int, in, out, errOut *os.File) error {
	if !relay {
		l.cmd.stdio = [3]*os.File{in, out, errOut}
		return nil
	}
	p, err := newPipeRelay(uid, gid, in, out, errOut)
	if err != nil {
		return fmt.Errorf("stdio pipes: %w", err)
	}
	l.stdio = p
	l.cmd.stdio = p.child
	return nil
}

// takeStdio hands the relay over to the caller, who finishes it.
func (l *launcher) takeStdio() *pipeRelay {
	p := l.stdio
	l.stdio = nil
	return p
}

// useNsenter has nsenter, before the Go runtime starts, carry out the
// plan that joinNS, nsenterLine and forkOnce write.
func (l *launcher) useNsenter() { l.viaC = true }

// joinNS has nsenter join the namespace at path (a path or an added
// descriptor's /proc/self/fd/N) before the Go runtime starts.
func (l *launcher) joinNS(typ specs.LinuxNamespaceType, path string) {
	fmt.Fprintf(&l.nsenter, "join %s %s\n", typ, path)
}

// nsenterLine adds a line to nsenter's plan (unshare, timeoffset).
func (l *launcher) nsenterLine(format string, args ...any) {
	fmt.Fprintf(&l.nsenter, format+"\n", args...)
}

// forkOnce has nsenter fork once after it joined or unshared a pid or
// time namespace (they apply to the caller's children only): the process
// then reports its child's pid (msgPid) and exits.
func (l *launcher) forkOnce() { l.fork = true }

// cloneNamespaces has the process created in new namespaces by clone(2)
// itself (no nsenter), with the id maps of a new user namespace.
func (l *launcher) cloneNamespaces(flags uintptr, uidMaps, gidMaps []specs.LinuxIDMapping) {
	l.attr.Cloneflags = flags
	if flags&unix.CLONE_NEWUSER == 0 {
		return
	}
	l.attr.UidMappings = userns.SysProcIDMaps(uidMaps)
	l.attr.GidMappings = userns.SysProcIDMaps(gidMaps)
	// An unprivileged user may write gid_map only after denying
	// setgroups(2) (user_namespaces(7)).
	l.attr.GidMappingsEnableSetgroups = os.Geteuid() == 0
	// Become the namespace's root before execve, or the process would run
	// without capabilities in its own namespace.
	if isMapped(uidMaps, 0) && isMapped(gidMaps, 0) {
		l.attr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true}
	}
}

// openPlan makes the pipe nsenter reads its plan from, when it has work,
// and returns the write end.
func (l *launcher) openPlan() (*os.File, error) {
	if !l.viaC {
		return nil, nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("nsenter pipe: %w", err)
	}
	fd := l.add(pr)
	l.cmd.env = append(l.cmd.env, "_OCIKIT_NSENTER="+strconv.Itoa(fd))
	return pw, nil
}

// writePlan writes nsenter's plan into pw (from openPlan) and closes it.
func (l *launcher) writePlan(pw *os.File) error {
	if pw == nil {
		return nil
	}
	defer pw.Close()
	plan := "sync " + strconv.Itoa(l.syncFD) + "\n" + l.nsenter.String()
	if l.fork {
		plan += "fork\n"
	}
	// Far below a pipe's capacity: the write does not wait for the reader.
	if _, err := pw.WriteString(plan); err != nil {
		return fmt.Errorf("nsenter pipe: %w", err)
	}
	return nil
}

// run starts the process; with intoCgroup in its cgroup's (v2)
// directory, by clone3 CLONE_INTO_CGROUP: no migration, whose write lock
// on the cgroup hierarchy costs an RCU grace period. It reports whether
// the process was born there. Once it runs, the pid is that of the
// process nsenter forked, if it forks.
func (l *launcher) run(intoCgroup bool) (bool, error) {
	pw, err := l.openPlan()
	if err != nil {
		return false, err
	}
	if pw != nil {
		defer pw.Close()
	}
	if intoCgroup {
		intoCgroup = false
		if dir := l.cgroup.Path(""); dir != "" {
			if f, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
				l.closeLater(f)
				l.attr.UseCgroupFD, l.attr.CgroupFD = true, int(f.Fd())
				intoCgroup = true
			}
		}
	}
	cmd := l.cmd
	if err := cmd.start(l.files, &l.attr); err != nil {
		if !intoCgroup {
			return false, fmt.Errorf("start %s: %w", l.what, err)
		}
		// A kernel without clone3 or a cgroup refusing processes: start
		// the usual way; the process is moved into its cgroup later.
		l.r.log.Debug("clone into cgroup failed", "container", l.id, "error", err)
		intoCgroup = false
		l.attr.UseCgroupFD, l.attr.CgroupFD = false, -1
		if err := cmd.start(l.files, &l.attr); err != nil {
			return false, fmt.Errorf("start %s: %w", l.what, err)
		}
	}
	if l.planEnd != nil {
		l.planEnd(intoCgroup)
	}
	if err := l.writePlan(pw); err != nil {
		return false, err
	}
	l.r.log.Debug(l.what+" started", "container", l.id, "pid", cmd.pid)
	for _, f := range l.children {
		f.Close()
	}
	l.pid = cmd.pid
	if l.fork {
		pid, err := l.waitForkedPid()
		if err != nil {
			return false, err
		}
		l.pid = pid
		// The intermediate process exits right after reporting.
		cmd.wait()
		l.cmd = nil
	}
	if st, _, err := procStat(l.pid); err == nil {
		l.start = st
	}
	l.inCgroup = intoCgroup
	return intoCgroup, nil
}

// waitForkedPid handles nsenter's messages until it reports the pid of
// the process it forked.
func (l *launcher) waitForkedPid() (int, error) {
	for {
		m, err := recvMsg(l.sync)
		if err != nil {
			return 0, l.exited(err)
		}
		switch {
		case m.Type == msgMaps && l.onMaps != nil:
			if err := l.answer(func() error { return l.onMaps(m.Pid) }); err != nil {
				return 0, err
			}
		case m.Type == msgPid:
			return m.Pid, nil
		case m.Type == msgError:
			return 0, errors.New(m.Msg)
		default:
			return 0, fmt.Errorf("unexpected message %q from %s", m.Type, l.what)
		}
	}
}

// compileSeccomp compiles the container's linux.seccomp (from the cache
// under the root) for the process to load: nil without one. For the
// init it also keeps the program in the state directory for the C exec
// (execSeccompFile).
func (l *launcher) compileSeccomp() (*seccomp.Program, error) {
	sc := l.spec.Linux.Seccomp
	if sc == nil {
		return nil, nil
	}
	cache := filepath.Join(l.r.root, seccompCache)
	prog, err := seccomp.Compile(sc, seccomp.WithCacheDir(cache), seccomp.WithLogger(l.r.log)) // "seccomp: ..."
	if err == nil && l.what == "init" {
		data := binary.NativeEndian.AppendUint32(nil, uint32(prog.Flags))
		data = append(data, prog.BPF...)
		path := filepath.Join(l.r.dir(l.id), execSeccompFile)
		// Without it exec takes the Go path: no reason to fail for it.
		if err := fsutil.WriteFile(path, data, 0o600, fsutil.NoSync()); err != nil {
			l.r.log.Debug("keep seccomp program for exec", "container", l.id, "error", err)
		}
		// The entry the next create reads in C (seccomp.CEntry); it
		// takes no listener. Written once, and durably: the C create
		// trusts an entry whose header matches, so a crash must not
		// leave one with a zeroed program. A failure costs the next
		// create its C path only.
		if name, header := seccomp.CEntry(sc); name != "" && sc.ListenerPath == "" {
			path := filepath.Join(cache, name)
			if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
				if err := fsutil.WriteFile(path, append(header, data...), 0o600); err != nil {
					l.r.log.Debug("seccomp: cache for C", "error", err)
				}
			}
		}
	}
	return prog, err
}

// execSeccompFile, in a container's state directory, is its compiled
// linux.seccomp for exec in C (runtime/nsenter/fastexec.c): the
// seccomp(2) flags (4 bytes, the host's byte order), then the BPF
// program. An exec in Go compiles the configuration again (from the
// cache).
const execSeccompFile = "exec.seccomp"

// writePidFile writes the launched process's pid to path (--pid-file).
func writePidFile(path string, pid int) error {
	pf, err := filepath.Abs(path)
	if err == nil {
		err = fsutil.WriteFile(pf, []byte(strconv.Itoa(pid)), 0o644, fsutil.NoSync())
	}
	if err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	return nil
}

// sendConfig writes the process's configuration to its pipe.
// cfg is JSON-encoded unless it is a []byte already (nsenter.Final's
// encoding).
func (l *launcher) sendConfig(cfg any) error {
	data, ok := cfg.([]byte)
	if !ok {
		var err error
		if data, err = json.Marshal(cfg); err != nil {
			return fmt.Errorf("encode %s config: %w", l.what, err)
		}
	}
	w := l.cfgW
	l.cfgW = nil
	go func() {
		w.Write(data)
		w.Close()
	}()
	return nil
}

// answer runs the handler of a request that waits for msgOK. A process
// that cannot read the answer has died: the next message (its error, or
// EOF) says why.
func (l *launcher) answer(handle func() error) error {
	if err := handle(); err != nil {
		return err
	}
	sendMsg(l.sync, syncMsg{Type: msgOK})
	return nil
}

// converse serves the process until it is ready (msgReady) or, with
// untilExec, until its execve closes the sync socket: user namespace
// maps, mount sources, runtime hooks, its terminal, a seccomp notify
// descriptor, the move into its cgroup, warnings and errors.
func (l *launcher) converse(ctx context.Context) error {
	for {
		m, err := recvMsg(l.sync)
		if err == io.EOF && l.untilExec {
			return nil
		}
		if err != nil {
			return l.exited(err)
		}
		handled := true
		switch m.Type {
		case msgMaps:
			if handled = l.onMaps != nil; handled {
				err = l.answer(func() error { return l.onMaps(m.Pid) })
			}
		case msgSource:
			if handled = l.onSource != nil; handled {
				err = l.onSource(m.Mount)
			}
		case msgHooks:
			if handled = l.onHooks != nil; handled {
				if err = l.onHooks(ctx); err != nil {
					sendMsg(l.sync, syncMsg{Type: msgAbort})
				} else {
					sendMsg(l.sync, syncMsg{Type: msgOK})
				}
			}
		case msgConsole:
			if handled = l.onConsole != nil; handled {
				err = l.onConsole(m.fd)
			}
		case msgSeccomp:
			if err = l.r.sendSeccomp(l.spec, l.rec.State.State, m.fd); err != nil {
				sendMsg(l.sync, syncMsg{Type: msgAbort})
			} else {
				sendMsg(l.sync, syncMsg{Type: msgOK})
			}
		case msgCgroup:
			err = l.answer(l.joinCgroup)
		case msgWarn:
			logWarning(l.r.log, l.id, m)
		case msgError:
			return errors.New(m.Msg)
		case msgReady:
			if handled = !l.untilExec; handled {
				return nil
			}
		default:
			handled = false
		}
		if !handled {
			return fmt.Errorf("unexpected message %q from %s", m.Type, l.what)
		}
		if err != nil {
			return err
		}
	}
}

// joinCgroup moves the process into its cgroup when it asks
// (initConfig.JoinCgroup, execConfig): late, once its own setup is done,
// so that what its Go runtime allocated is not charged to the container.
func (l *launcher) joinCgroup() error {
	if l.gate != nil {
		l.gate()
	}
	if l.cgroup != nil && !l.inCgroup {
		t0 := time.Now()
		if err := l.cgroup.Enter(l.pid); err != nil {
			return step("cgroup", err)
		}
		l.r.log.Debug("cgroup joined", "container", l.id, "took", time.Since(t0))
	}
	if l.joined != nil {
		l.joined()
	}
	return nil
}

// exited builds the error for a process that closed the sync socket
// without saying why.
func (l *launcher) exited(err error) error {
	if err != io.EOF {
		return fmt.Errorf("sync with %s: %w", l.what, err)
	}
	if l.cmd != nil {
		if l.pid == l.cmd.pid {
			l.pid = 0 // reaped: the pid is free for others
		}
		werr := l.cmd.wait()
		l.cmd = nil
		if werr != nil {
			return fmt.Errorf("%s: %w", l.died, werr)
		}
	}
	return errors.New(l.died)
}

// kill ends a process whose launch failed and reaps what is ours.
func (l *launcher) kill() {
	if l.pid > 0 {
		killWait(l.pid, l.start)
	}
	if l.cmd != nil {
		if l.cmd.pid > 0 && l.pid != l.cmd.pid {
			unix.Kill(l.cmd.pid, unix.SIGKILL)
		}
		if l.cmd.pid > 0 {
			l.cmd.wait()
		}
		l.cmd = nil
	}
}

// oomEnv carries process.oomScoreAdj to the nsenter constructor of the init
// or exec'd process, which writes it to the runtime's /proc before joining
// any namespace (the final stage reports a failure).
const oomEnv = "_OCIKIT_OOM"

// child is the launched process as the runtime starts it: syscall's
// fork and exec without os/exec, whose first start in a process also
// checks that pidfds work by cloning and reaping a child of its own
// (os.ensurePidfd), a vfork the runtime has no use for.
type child struct {
	path  string
	args  []string
	env   []string
	stdio [3]*os.File // nil: /dev/null, as with os/exec
	pid   int
}

// start forks and execs the process with stdio, then extra as
// descriptors 3 and up; it returns once the process has called execve
// (clone's CLONE_VFORK, or syscall's pipe when it cannot vfork).
func (c *child) start(extra []*os.File, attr *syscall.SysProcAttr) error {
	fds := make([]uintptr, 0, 3+len(extra))
	for i, f := range c.stdio {
		if f == nil {
			mode := os.O_WRONLY
			if i == 0 {
				mode = os.O_RDONLY
			}
			null, err := os.OpenFile(os.DevNull, mode, 0)
			if err != nil {
				return err
			}
			defer null.Close()
			f = null
		}
		fds = append(fds, f.Fd())
	}
	for _, f := range extra {
		fds = append(fds, f.Fd())
	}
	pid, _, err := syscall.StartProcess(c.path, c.args, &syscall.ProcAttr{Env: c.env, Files: fds, Sys: attr})
	if err != nil {
		return &os.PathError{Op: "fork/exec", Path: c.path, Err: err}
	}
	c.pid = pid
	return nil
}

// wait reaps the process; the error says how it ended unless it exited
// with status 0 ("exit status 1", "signal: killed", as os/exec's).
func (c *child) wait() error {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(c.pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return os.NewSyscallError("wait4", err)
		}
		break
	}
	switch {
	case ws.Exited() && ws.ExitStatus() == 0:
		return nil
	case ws.Exited():
		return fmt.Errorf("exit status %d", ws.ExitStatus())
	case ws.Signaled():
		return fmt.Errorf("signal: %v", ws.Signal())
	}
	return fmt.Errorf("wait status %#x", uint32(ws))
}

// thpEnv tells the C stage that the runtime turned transparent huge pages
// off (noHugePages) and that the final stage turns them back on before
// the program's execve.
const thpEnv = "_OCIKIT_THP"

// noHugePages turns transparent huge pages off for this process and the
// processes it starts (PR_SET_THP_DISABLE is inherited and kept across
// execve), unless they are off already, and reports whether it did. The C
// stage of an init or exec'd process writes a few variables in the
// binary's .bss, tens of MB of address space: under THP "always" (RHEL's
// default, Debian's cloud kernel) one such write faulted a whole 2 MiB
// page, charged to the container (the make vmtest check memory-charged:
// 2.4 MiB against 0.3). A runtime command does not need huge pages.
func noHugePages() bool {
	off, err := unix.PrctlRetInt(unix.PR_GET_THP_DISABLE, 0, 0, 0, 0)
	if err != nil || off != 0 {
		return false
	}
	return unix.Prctl(unix.PR_SET_THP_DISABLE, 1, 0, 0, 0) == nil
}
