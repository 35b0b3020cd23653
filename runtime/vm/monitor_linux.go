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
	"strconv"
	"sync"
	"syscall"
	"time"

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
}

const paramsFile = "vm.json"

// ctlRequest is a request on the monitor's control socket (one
// SOCK_SEQPACKET message; an exec carries its stdin, stdout and stderr as
// SCM_RIGHTS).
type ctlRequest struct {
	Op     string               `json:"op"` // "start", "exec", "signal"
	Exec   *runtime.ExecOptions `json:"exec,omitempty"`
	Signal int                  `json:"signal,omitempty"`
	Size   winsize              `json:"size"`
}

// ctlReply answers a request; an exec gets a second one with its exit
// status.
type ctlReply struct {
	Error string `json:"error,omitempty"`
	Pid   int    `json:"pid,omitempty"`
	Exit  *int   `json:"exit,omitempty"`
}

// stream is one process in the guest as the monitor sees it: where its
// output goes, who waits for its reply and exit status.
type stream struct {
	stdout, stderr io.Writer
	reply          chan reply
	exit           chan int
}

type monitor struct {
	fw *frameWriter

	mu      sync.Mutex
	streams map[uint32]*stream
	next    uint32
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
	os.Remove(ctlSocket)
	os.Remove(guestSocket)
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
	log, err := os.OpenFile(qemuLog, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, nil, nil, err
	}
	defer log.Close()
	cmd := exec.Command(p.Qemu, p.QemuArgs...)
	cmd.Stdout, cmd.Stderr = log, log
	// qemu dies with the monitor, also when the monitor is SIGKILLed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, fmt.Errorf("vm: start qemu: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
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
	default:
		sendCtl(c, ctlReply{Error: fmt.Sprintf("vm: unknown control request %q", req.Op)})
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
func procStart(pid int) (uint64, error) {
	st, _, err := procStat(pid)
	return st, err
}

var errNoStat = errors.New("vm: cannot parse /proc/<pid>/stat")
