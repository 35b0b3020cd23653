package vm

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	goruntime "runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/ocikit/ocikit/cgroups"
	"github.com/ocikit/ocikit/runtime"
	"golang.org/x/sys/unix"
)

// monitorParams is what create hands the monitor, in the state directory.
type monitorParams struct {
	ID          string          `json:"id"`
	Qemu        string          `json:"qemu"`
	QemuArgs    []string        `json:"qemuArgs"`
	Spec        json.RawMessage `json:"spec"`
	BootTimeout time.Duration   `json:"bootTimeout"`
	Size        winsize         `json:"size"`
	// QemuUser is whom qemu runs as (nil: as the monitor).
	QemuUser *qemuUser `json:"qemuUser,omitempty"`
	// Jail is what qemu sees of the host's files besides the system's
	// (makeJail); nil: no jail.
	Jail []jailPath `json:"jail,omitempty"`
	// Virtiofs is the root filesystem's virtio-fs daemon, started before
	// qemu (nil: the root is a 9p share).
	Virtiofs *virtiofsParams `json:"virtiofs,omitempty"`
	// Cgroup is the container's cgroup on the host, which the monitor
	// enters before it starts qemu (nil: none).
	Cgroup *cgroups.State `json:"cgroup,omitempty"`
}

const paramsFile = "vm.json"

// ctlRequest is a request on the monitor's control socket (one
// SOCK_SEQPACKET message; an exec carries its stdin, stdout and stderr as
// SCM_RIGHTS).
type ctlRequest struct {
	Op     string               `json:"op"` // "start", "exec", "signal", "pause", "resume", "query"
	Exec   *runtime.ExecOptions `json:"exec,omitempty"`
	Query  *queryRequest        `json:"query,omitempty"`
	Signal int                  `json:"signal,omitempty"`
	Size   winsize              `json:"size"`
}

// ctlReply answers a request; an exec gets a second one with its exit
// status, an events query one per event (Event) before the last.
type ctlReply struct {
	Error string          `json:"error,omitempty"`
	Pid   int             `json:"pid,omitempty"`
	Exit  *int            `json:"exit,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
	Event json.RawMessage `json:"event,omitempty"`
}

// stream is one process in the guest as the monitor sees it: where its
// output goes, who waits for its reply and exit status.
type stream struct {
	stdout, stderr io.Writer
	reply          chan reply
	exit           chan int
	events         chan []byte // an events query's
}

type monitor struct {
	fw  *frameWriter
	qmp *qmp

	mu      sync.Mutex
	streams map[uint32]*stream
	next    uint32

	// vmMu orders pause, resume and the queries that run while the VM is
	// paused (each continues it for the query's length).
	vmMu   sync.Mutex
	paused bool
}

// Monitor is the host process of one VM container (the pid in its
// state): started by create in the state directory dir, it starts qemu
// (which dies with it), waits for the guest agent, has it create the
// container, reports to create over descriptor 3 and then relays: stdio
// between its own stdio and the container's init, signals it receives to
// that process, start and exec requests from its control socket. It exits
// with the container's exit status once the guest has powered off.
// Monitor never returns.
func Monitor(dir string) {
	code, err := monitorMain(dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ocikit: %v\n", err)
	}
	os.Exit(code)
}

func monitorMain(dir string) (int, error) {
	syncPipe := os.NewFile(3, "sync")
	if err := os.Chdir(dir); err != nil {
		return 1, err
	}
	var p monitorParams
	b, err := os.ReadFile(paramsFile)
	if err == nil {
		err = json.Unmarshal(b, &p)
	}
	if err != nil {
		fmt.Fprintf(syncPipe, "error vm: read parameters: %v\n", err)
		return 1, nil
	}
	if p.Cgroup != nil {
		if err := joinHostCgroup(*p.Cgroup); err != nil {
			fmt.Fprintf(syncPipe, "error vm: host cgroup: %v\n", err)
			return 1, nil
		}
	}
	// Every signal from here on is the container's (or ours to ignore).
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs)

	m := &monitor{streams: map[uint32]*stream{}, next: 1}
	m.streams[0] = &stream{stdout: os.Stdout, stderr: os.Stderr, reply: make(chan reply, 1), exit: make(chan int, 1)}
	qemu, qemuDone, conn, err := m.boot(p)
	if err != nil {
		if qemu != nil && qemu.Process != nil {
			qemu.Process.Kill()
			<-qemuDone
		}
		os.Remove(guestSocket)
		os.Remove(qmpSocket)
		os.Remove(vfsSocket)
		fmt.Fprintf(syncPipe, "error %v\n", err)
		return 1, nil
	}
	ctl, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: ctlSocket, Net: "unixpacket"})
	if err != nil {
		qemu.Process.Kill()
		<-qemuDone
		fmt.Fprintf(syncPipe, "error vm: control socket: %v\n", err)
		return 1, nil
	}
	start, _ := procStart(qemu.Process.Pid)
	fmt.Fprintf(syncPipe, "ok %d %d\n", qemu.Process.Pid, start)
	syncPipe.Close()

	go m.serveCtl(ctl)
	go func() {
		pump(m.fw, kindStdin, 0, os.Stdin)
		m.fw.write(kindStdinEOF, 0, nil)
	}()
	s0 := m.streams[0]
	for {
		select {
		case sig := <-sigs:
			switch sig {
			case unix.SIGCHLD, unix.SIGURG, unix.SIGPIPE, unix.SIGWINCH:
			default:
				m.fw.writeInt(kindSignal, 0, int(sig.(syscall.Signal)))
			}
		case code := <-s0.exit:
			// The guest powers off after reporting.
			select {
			case <-qemuDone:
			case <-time.After(10 * time.Second):
				qemu.Process.Kill()
				<-qemuDone
			}
			m.cleanup(conn, ctl)
			return code, nil
		case err := <-qemuDone:
			m.cleanup(conn, ctl)
			return 255, fmt.Errorf("vm: qemu exited before the container (%v): %s", err, lastLogLine())
		}
	}
}

func (m *monitor) cleanup(conn net.Conn, ctl *net.UnixListener) {
	conn.Close()
	ctl.Close()
	if m.qmp != nil {
		m.qmp.c.Close()
	}
	os.Remove(ctlSocket)
	os.Remove(guestSocket)
	os.Remove(qmpSocket)
	os.Remove(vfsSocket)
}

// lastLogLine is the reason qemu or the guest gave for stopping: the last
// line of qemu's own log, else of the guest's console.
func lastLogLine() string {
	for _, f := range []string{qemuLog, consoleLog} {
		if b, err := os.ReadFile(f); err == nil && len(b) > 0 {
			if l := lastLine(b); l != "" {
				return l
			}
		}
	}
	return "no message"
}

// stopped explains a qemu that exited before the guest was ready: one
// that never ran the guest (nothing on the console) failed to start.
func stopped(err error) error {
	if fi, serr := os.Stat(consoleLog); serr != nil || fi.Size() == 0 {
		return fmt.Errorf("vm: qemu failed to start (%v): %s", err, lastLogLine())
	}
	return fmt.Errorf("vm: guest stopped while booting (%v): %s", err, lastLogLine())
}

// boot starts qemu, waits for the agent and has it create the container.
func (m *monitor) boot(p monitorParams) (*exec.Cmd, chan error, net.Conn, error) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: guestSocket, Net: "unix"})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("vm: port socket: %w", err)
	}
	defer ln.Close()
	qln, err := net.ListenUnix("unix", &net.UnixAddr{Name: qmpSocket, Net: "unix"})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("vm: qmp socket: %w", err)
	}
	defer qln.Close()
	log, err := os.OpenFile(qemuLog, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, nil, nil, err
	}
	defer log.Close()
	cmd, done, err := startQemu(p, log)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("vm: start qemu: %w", err)
	}
	deadline := time.Now().Add(p.BootTimeout)
	ln.SetDeadline(deadline)
	type accepted struct {
		c   net.Conn
		err error
	}
	acc := make(chan accepted, 1)
	go func() { c, err := ln.Accept(); acc <- accepted{c, err} }()
	var conn net.Conn
	select {
	case a := <-acc:
		if a.err != nil {
			return cmd, done, nil, fmt.Errorf("vm: guest not ready within %v (qemu did not connect its port)", p.BootTimeout)
		}
		conn = a.c
	case err := <-done:
		done <- err
		return cmd, done, nil, stopped(err)
	}
	m.fw = &frameWriter{w: conn}
	ready := make(chan error, 1)
	r := bufio.NewReaderSize(conn, 64<<10)
	go func() {
		f, err := readFrame(r)
		if err == nil && f.kind != kindReady {
			err = fmt.Errorf("unexpected frame %q", f.kind)
		}
		ready <- err
		if err == nil {
			m.readLoop(r)
		}
	}()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case err := <-ready:
		if err != nil {
			// The port closes when qemu exits: say why it did.
			select {
			case qerr := <-done:
				done <- qerr
				return cmd, done, conn, stopped(qerr)
			case <-time.After(2 * time.Second):
			}
			return cmd, done, conn, fmt.Errorf("vm: guest agent: %v (console: %s)", err, lastLogLine())
		}
	case err := <-done:
		done <- err
		return cmd, done, conn, stopped(err)
	case <-timer.C:
		return cmd, done, conn, fmt.Errorf("vm: guest not ready within %v (console: %s)", p.BootTimeout, lastLogLine())
	}
	// qemu connected its QMP chardev before it ran the guest.
	qln.SetDeadline(time.Now().Add(qmpTimeout))
	qc, err := qln.Accept()
	if err != nil {
		return cmd, done, conn, fmt.Errorf("vm: qmp: qemu did not connect: %w", err)
	}
	if m.qmp, err = newQMP(qc); err != nil {
		qc.Close()
		return cmd, done, conn, err
	}
	req, err := json.Marshal(struct {
		ID   string          `json:"id"`
		Spec json.RawMessage `json:"spec"`
		Size winsize         `json:"size"`
	}{p.ID, p.Spec, p.Size})
	if err != nil {
		return cmd, done, conn, err
	}
	if err := m.fw.write(kindCreate, 0, req); err != nil {
		return cmd, done, conn, fmt.Errorf("vm: send create: %w", err)
	}
	select {
	case rp := <-m.streams[0].reply:
		if rp.Error != "" {
			return cmd, done, conn, fmt.Errorf("in the guest: %s", rp.Error)
		}
	case err := <-done:
		done <- err
		return cmd, done, conn, fmt.Errorf("vm: guest stopped during create (%v): %s", err, lastLogLine())
	}
	return cmd, done, conn, nil
}

// startQemu starts qemu with its output to log, as p.QemuUser with the
// capabilities qemuCaps when one is given, chrooted into its jail when
// p.Jail is given (makeJail); done receives its exit. A host that cannot
// switch to that user (ocikit as root of a user namespace without it
// mapped) runs qemu as the monitor, and one where the jail cannot be made
// runs it without: each says so in the log.
func startQemu(p monitorParams, log *os.File) (*exec.Cmd, chan error, error) {
	dir, err := os.Getwd() // the state directory
	if err != nil {
		return nil, nil, err
	}
	cmd := func(u *qemuUser, jail string) *exec.Cmd {
		c := exec.Command(p.Qemu, p.QemuArgs...)
		c.Stdout, c.Stderr = log, log
		// qemu dies with the monitor, also when the monitor is
		// SIGKILLed (Go sets it after the switch of user, which would
		// clear it).
		c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if u != nil {
			c.SysProcAttr.Credential = &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: []uint32{}}
			c.SysProcAttr.AmbientCaps = qemuCaps
		}
		if jail != "" {
			c.SysProcAttr.Chroot = jail
			c.Dir = dir
			// A pid namespace of its own, whose /proc shows qemu
			// alone (jailProc).
			c.SysProcAttr.Cloneflags = syscall.CLONE_NEWPID
		}
		return c
	}
	type result struct {
		c   *exec.Cmd
		err error
	}
	res := make(chan result, 1)
	done := make(chan error, 1)
	go func() {
		// qemu starts from this thread, in the mount namespace makeJail
		// gives the thread alone, and PR_SET_PDEATHSIG fires when the
		// thread that started it ends: the goroutine stays until qemu
		// exits, and its thread, never unlocked, ends with it.
		goruntime.LockOSThread()
		var vfs *exec.Cmd
		if p.Virtiofs != nil {
			// Before the jail: virtiofsd sees the host's mounts
			// (and makes its own sandbox).
			var err error
			if vfs, err = startVirtiofsd(*p.Virtiofs, p.QemuUser); err != nil {
				res <- result{nil, err}
				return
			}
		}
		jail := ""
		if p.Jail != nil {
			j, err := makeJail(dir, p.Jail)
			if err != nil {
				fmt.Fprintf(log, "ocikit: qemu runs without its jail: %v\n", err)
			}
			jail = j
		}
		c := cmd(p.QemuUser, jail)
		err := c.Start()
		if err != nil && p.QemuUser != nil && (errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL)) {
			fmt.Fprintf(log, "ocikit: qemu runs as uid %d: cannot switch to uid %d: %v\n", os.Getuid(), p.QemuUser.UID, err)
			c = cmd(nil, jail)
			err = c.Start()
		}
		if err == nil && jail != "" {
			if err := jailProc(jail, c.Process.Pid); err != nil {
				fmt.Fprintf(log, "ocikit: qemu's /proc shows its user's processes: %v\n", err)
			}
		}
		res <- result{c, err}
		var qerr error
		if err == nil {
			qerr = c.Wait()
		}
		if vfs != nil {
			stopVirtiofsd(vfs)
		}
		if err == nil {
			done <- qerr
		}
	}()
	r := <-res
	return r.c, done, r.err
}

// readLoop dispatches the guest's frames until the port closes.
func (m *monitor) readLoop(r *bufio.Reader) {
	for {
		f, err := readFrame(r)
		if err != nil {
			return
		}
		m.mu.Lock()
		s := m.streams[f.stream]
		m.mu.Unlock()
		if s == nil {
			continue
		}
		switch f.kind {
		case kindStdout:
			s.stdout.Write(f.data)
		case kindStderr:
			s.stderr.Write(f.data)
		case kindReply:
			var rp reply
			if err := json.Unmarshal(f.data, &rp); err != nil {
				rp.Error = "vm: bad reply from the guest"
			}
			s.reply <- rp
		case kindEvent:
			if s.events != nil {
				// A reader too slow for the events loses some rather
				// than stalling the port.
				select {
				case s.events <- f.data:
				default:
				}
			}
		case kindExit:
			code, err := strconv.Atoi(string(f.data))
			if err != nil {
				code = 255
			}
			s.exit <- code
		}
	}
}

// serveCtl answers start and exec requests on the control socket.
func (m *monitor) serveCtl(ln *net.UnixListener) {
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		go m.handleCtl(c)
	}
}

func sendCtl(c *net.UnixConn, rp ctlReply) error {
	b, _ := json.Marshal(rp)
	_, err := c.Write(b)
	return err
}

func (m *monitor) handleCtl(c *net.UnixConn) {
	defer c.Close()
	buf := make([]byte, 1<<20)
	oob := make([]byte, unix.CmsgSpace(3*4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return
	}
	var files []*os.File
	if oobn > 0 {
		if cms, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, cm := range cms {
				if fds, err := unix.ParseUnixRights(&cm); err == nil {
					for _, fd := range fds {
						files = append(files, os.NewFile(uintptr(fd), "stdio"))
					}
				}
			}
		}
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	var req ctlRequest
	if err := json.Unmarshal(buf[:n], &req); err != nil {
		sendCtl(c, ctlReply{Error: "vm: bad control request"})
		return
	}
	switch req.Op {
	case "start":
		s0 := m.streams[0]
		if err := m.fw.write(kindStart, 0, nil); err != nil {
			sendCtl(c, ctlReply{Error: "vm: send start: " + err.Error()})
			return
		}
		rp := <-s0.reply
		sendCtl(c, ctlReply{Error: rp.Error})
	case "exec":
		if req.Exec == nil || len(files) != 3 {
			sendCtl(c, ctlReply{Error: "vm: exec needs options and three stdio descriptors"})
			return
		}
		m.exec(c, req.Exec, req.Size, files)
	case "pause":
		sendCtl(c, ctlReply{Error: errText(m.pause())})
	case "resume":
		sendCtl(c, ctlReply{Error: errText(m.resume())})
	case "query":
		if req.Query == nil {
			sendCtl(c, ctlReply{Error: "vm: query without a request"})
			return
		}
		if req.Query.Op == "events" {
			m.events(c, req.Query)
			return
		}
		m.vmMu.Lock()
		data, err := m.whileRunning(func() (json.RawMessage, error) { return m.ask(*req.Query) })
		m.vmMu.Unlock()
		sendCtl(c, ctlReply{Error: errText(err), Data: data})
	default:
		sendCtl(c, ctlReply{Error: fmt.Sprintf("vm: unknown control request %q", req.Op)})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// newStream registers a stream for a request to the guest; done removes it.
func (m *monitor) newStream(events bool) (uint32, *stream, func()) {
	s := &stream{reply: make(chan reply, 1), exit: make(chan int, 1)}
	if events {
		s.events = make(chan []byte, 64)
	}
	m.mu.Lock()
	id := m.next
	m.next++
	m.streams[id] = s
	m.mu.Unlock()
	return id, s, func() {
		m.mu.Lock()
		delete(m.streams, id)
		m.mu.Unlock()
	}
}

// ask sends a query to the guest and waits for its answer.
func (m *monitor) ask(q queryRequest) (json.RawMessage, error) {
	b, err := json.Marshal(q)
	if err != nil {
		return nil, err
	}
	id, s, done := m.newStream(false)
	defer done()
	if err := m.fw.write(kindQuery, id, b); err != nil {
		return nil, fmt.Errorf("vm: send %s: %w", q.Op, err)
	}
	rp := <-s.reply
	if rp.Error != "" {
		return nil, errors.New(rp.Error)
	}
	return rp.Data, nil
}

// whileRunning runs f, which needs the guest to answer, with the VM
// running: a paused VM is continued for f's length (the container stays
// frozen in the guest's cgroup freezer) and stopped again. vmMu is held.
func (m *monitor) whileRunning(f func() (json.RawMessage, error)) (json.RawMessage, error) {
	if !m.paused {
		return f()
	}
	if err := m.qmp.execute("cont"); err != nil {
		return nil, err
	}
	data, err := f()
	if serr := m.qmp.execute("stop"); serr != nil && err == nil {
		err = serr
	}
	return data, err
}

// pause freezes the container in the guest's cgroup (so that a query
// that continues the VM for a moment runs none of its processes), then
// stops the VM's vCPUs: a paused container costs no host CPU.
func (m *monitor) pause() error {
	m.vmMu.Lock()
	defer m.vmMu.Unlock()
	if m.paused {
		return errors.New("vm: already paused")
	}
	if _, err := m.ask(queryRequest{Op: "pause"}); err != nil {
		return err
	}
	if err := m.qmp.execute("stop"); err != nil {
		m.ask(queryRequest{Op: "resume"})
		return err
	}
	m.paused = true
	return nil
}

// resume continues the VM and thaws the container.
func (m *monitor) resume() error {
	m.vmMu.Lock()
	defer m.vmMu.Unlock()
	if !m.paused {
		return errors.New("vm: not paused")
	}
	if err := m.qmp.execute("cont"); err != nil {
		return err
	}
	m.paused = false
	_, err := m.ask(queryRequest{Op: "resume"})
	return err
}

// events relays an events query's events to c until the guest ends it
// (the container stopped) or c's reader goes away, which cancels it. A
// paused VM sends none until it is resumed.
func (m *monitor) events(c *net.UnixConn, q *queryRequest) {
	b, err := json.Marshal(q)
	if err != nil {
		sendCtl(c, ctlReply{Error: err.Error()})
		return
	}
	id, s, done := m.newStream(true)
	defer done()
	if err := m.fw.write(kindQuery, id, b); err != nil {
		sendCtl(c, ctlReply{Error: "vm: send events: " + err.Error()})
		return
	}
	gone := make(chan struct{})
	go func() {
		c.Read(make([]byte, 4096)) // returns when the reader closes
		close(gone)
	}()
	for {
		select {
		case e := <-s.events:
			if sendCtl(c, ctlReply{Event: e}) != nil {
				m.fw.write(kindCancel, id, nil)
				<-s.reply
				return
			}
		case rp := <-s.reply:
			// Events written before the reply come first.
			for len(s.events) > 0 {
				sendCtl(c, ctlReply{Event: <-s.events})
			}
			sendCtl(c, ctlReply{Error: rp.Error}) // the last: no event
			return
		case <-gone:
			m.fw.write(kindCancel, id, nil)
			<-s.reply
			return
		}
	}
}

func (m *monitor) exec(c *net.UnixConn, o *runtime.ExecOptions, size winsize, files []*os.File) {
	o.Stdin, o.Stdout, o.Stderr = nil, nil, nil
	b, err := json.Marshal(execRequest{Options: *o, Size: size})
	if err != nil {
		sendCtl(c, ctlReply{Error: err.Error()})
		return
	}
	s := &stream{stdout: files[1], stderr: files[2], reply: make(chan reply, 1), exit: make(chan int, 1)}
	m.mu.Lock()
	id := m.next
	m.next++
	m.streams[id] = s
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.streams, id)
		m.mu.Unlock()
	}()
	if err := m.fw.write(kindExec, id, b); err != nil {
		sendCtl(c, ctlReply{Error: "vm: send exec: " + err.Error()})
		return
	}
	rp := <-s.reply
	if err := sendCtl(c, ctlReply{Error: rp.Error, Pid: rp.Pid}); err != nil || rp.Error != "" {
		return
	}
	go func() {
		pump(m.fw, kindStdin, id, files[0])
		m.fw.write(kindStdinEOF, id, nil)
	}()
	// Signals for the process arrive on the connection until it exits.
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			var req ctlRequest
			if json.Unmarshal(buf[:n], &req) == nil && req.Op == "signal" {
				m.fw.writeInt(kindSignal, id, req.Signal)
			}
		}
	}()
	code := <-s.exit
	sendCtl(c, ctlReply{Exit: &code})
}

// procStart is the start time of pid (field 22 of /proc/<pid>/stat), so a
// recycled pid is never mistaken for the monitor or qemu.
func procStart(pid int) (uint64, error) { return runtime.StartTime(pid) }
