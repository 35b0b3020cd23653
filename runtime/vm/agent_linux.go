package vm

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ocikit/ocikit/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// In the guest: where the agent keeps its runtime state, the bundle it
// writes and the mount of the host's root filesystem.
const (
	guestRoot   = "/run/ocikit"
	guestBundle = "/run/vm/bundle"
	guestRootfs = "/run/vm/rootfs"
)

// createRequest is what the host sends to create the container.
type createRequest struct {
	ID   string      `json:"id"`
	Spec *specs.Spec `json:"spec"`
	Size winsize     `json:"size"`
}

// winsize is a process's terminal: its size and, for a terminal relayed
// in the foreground, ClearONLCR: the program's newlines reach the caller
// as written, as with the plain runtime (runc's foreground relay).
type winsize struct {
	Rows       uint16 `json:"rows,omitempty"`
	Cols       uint16 `json:"cols,omitempty"`
	ClearONLCR bool   `json:"clearOnlcr,omitempty"`
}

// execRequest is an exec: the options without stdio (the streams carry it).
type execRequest struct {
	Options runtime.ExecOptions `json:"options"`
	Size    winsize             `json:"size"`
}

// Agent is the guest's init (pid 1): ocikit started by the kernel with
// the argument "vm-agent". It mounts the pseudo file systems and a pure
// cgroup v2 hierarchy, loads the virtio, serial, 9p and virtio-fs
// modules, mounts the host's root filesystem share (virtio-fs or 9p),
// and then serves the host's monitor over
// the virtio-serial port: it creates, starts, signals and execs into the
// container with ocikit's own runtime (package runtime), relays stdio and
// reports exit statuses. When the container's init exits, the VM powers
// off. Agent never returns.
func Agent() {
	err := agent()
	// Pid 1 exiting panics the kernel (panic=-1 reboots, qemu
	// -no-reboot exits): say why on the console first.
	fmt.Fprintf(os.Stderr, "ocikit vm agent: %v\n", err)
	powerOff()
}

func powerOff() {
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	os.Exit(1)
}

type agentState struct {
	fw  *frameWriter
	rt  *runtime.Runtime
	id  string
	ctx context.Context

	mu      sync.Mutex
	stdin   map[uint32]chan []byte        // processes' stdin, written in order by one goroutine each
	pids    map[uint32]int                // stream → pid in the guest
	cancels map[uint32]context.CancelFunc // stream → its query's end (events)
}

func agent() error {
	if err := guestMounts(); err != nil {
		return err
	}
	started := uptime()
	if err := loadModules("/lib/modules"); err != nil {
		return err
	}
	enableControllers("/sys/fs/cgroup")
	// The kernel starts init without PATH; ps(1) is in the initramfs's
	// /bin (writeInitrd).
	if os.Getenv("PATH") == "" {
		os.Setenv("PATH", "/bin")
	}
	port, err := openPort(portName, 10*time.Second)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(guestRootfs, 0o755); err != nil {
		return err
	}
	// A virtio-fs device when the host serves the root with virtiofsd,
	// else a 9p share (the same tag).
	if err := unix.Mount(rootfsTag, guestRootfs, "virtiofs", 0, ""); err != nil {
		if err := unix.Mount(rootfsTag, guestRootfs, "9p", 0, "trans=virtio,version=9p2000.L,msize=524288"); err != nil {
			return &os.PathError{Op: "mount 9p share", Path: guestRootfs, Err: err}
		}
	}
	a := &agentState{
		fw:      &frameWriter{w: port},
		rt:      runtime.New(guestRoot, runtime.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))),
		ctx:     context.Background(),
		stdin:   map[uint32]chan []byte{},
		pids:    map[uint32]int{},
		cancels: map[uint32]context.CancelFunc{},
	}
	if err := a.fw.write(kindReady, 0, nil); err != nil {
		return fmt.Errorf("report ready: %w", err)
	}
	// On the console (the state directory's console.log), for bench/vm.sh.
	fmt.Fprintf(os.Stderr, "ocikit vm agent: started at %s s, ready at %s s (guest uptime)\n", started, uptime())
	r := bufio.NewReaderSize(port, 64<<10)
	for {
		f, err := readFrame(r)
		if err != nil {
			return fmt.Errorf("read from host: %w", err)
		}
		a.handle(f)
	}
}

func (a *agentState) reply(stream uint32, pid int, err error) {
	var rp reply
	rp.Pid = pid
	if err != nil {
		rp.Error = err.Error()
	}
	b, _ := json.Marshal(rp)
	a.fw.write(kindReply, stream, b)
}

func (a *agentState) handle(f frame) {
	switch f.kind {
	case kindCreate:
		pid, err := a.create(f.data)
		a.reply(0, pid, err)
	case kindStart:
		err := a.rt.Start(a.ctx, a.id)
		a.reply(0, 0, err)
	case kindExec:
		pid, err := a.exec(f.stream, f.data)
		a.reply(f.stream, pid, err)
	case kindQuery:
		// Registered before the query runs, so that a cancel that
		// follows at once finds it.
		ctx, cancel := context.WithCancel(a.ctx)
		a.mu.Lock()
		a.cancels[f.stream] = cancel
		a.mu.Unlock()
		go a.query(ctx, f.stream, f.data)
	case kindCancel:
		a.mu.Lock()
		if cancel := a.cancels[f.stream]; cancel != nil {
			cancel()
		}
		a.mu.Unlock()
	case kindSignal:
		n, err := strconv.Atoi(string(f.data))
		if err != nil {
			return
		}
		if f.stream == 0 {
			a.rt.Kill(a.ctx, a.id, unix.Signal(n), false)
			return
		}
		a.mu.Lock()
		pid := a.pids[f.stream]
		a.mu.Unlock()
		if pid > 0 {
			unix.Kill(pid, unix.Signal(n))
		}
	case kindStdin, kindStdinEOF:
		a.mu.Lock()
		ch := a.stdin[f.stream]
		if f.kind == kindStdinEOF {
			delete(a.stdin, f.stream)
		}
		a.mu.Unlock()
		if ch == nil {
			return
		}
		if f.kind == kindStdinEOF {
			close(ch)
			return
		}
		ch <- f.data
	}
}

// query answers a queryRequest on stream with the guest's runtime, which
// reads and writes the container's cgroup v2 files in the guest as it does
// on a host: ps, stats, a stream of events (until ctx ends: the host
// cancelled it, or the container stopped), update, pause and resume.
func (a *agentState) query(ctx context.Context, stream uint32, data []byte) {
	defer func() {
		a.mu.Lock()
		a.cancels[stream]()
		delete(a.cancels, stream)
		a.mu.Unlock()
	}()
	var q queryRequest
	var res any
	err := json.Unmarshal(data, &q)
	if err != nil {
		err = fmt.Errorf("vm agent: bad query: %v", err)
	}
	switch {
	case err != nil:
	case q.Op == "ps":
		var p psResult
		p.Pids, err = a.rt.Pids(ctx, a.id)
		if err == nil && q.Table {
			p.Table, err = runtime.Ps(ctx, p.Pids, q.PsArgs)
		}
		res = p
	case q.Op == "stats":
		res, err = a.rt.Stats(ctx, a.id)
	case q.Op == "events":
		err = a.rt.Events(ctx, a.id, q.Interval, func(e runtime.Event) error {
			b, err := json.Marshal(e)
			if err != nil {
				return err
			}
			return a.fw.write(kindEvent, stream, b)
		})
		if errors.Is(err, context.Canceled) {
			err = nil
		}
	case q.Op == "update":
		err = a.rt.Update(ctx, a.id, q.Resources)
	case q.Op == "pause":
		err = a.rt.Pause(ctx, a.id)
	case q.Op == "resume":
		err = a.rt.Resume(ctx, a.id)
	default:
		err = fmt.Errorf("vm agent: unknown query %q", q.Op)
	}
	var rp reply
	if err != nil {
		rp.Error = err.Error()
	} else if res != nil {
		rp.Data, _ = json.Marshal(res)
	}
	b, _ := json.Marshal(rp)
	a.fw.write(kindReply, stream, b)
}

// stdio makes the three pipes of a process: the child's ends are returned,
// ours are relayed on stream (stdout and stderr until they end).
type relay struct {
	childIn, childOut, childErr *os.File
	done                        sync.WaitGroup

	// With a terminal: the console socket the runtime sends the pty
	// master to, and the stream's stdin.
	console *net.UnixListener
	path    string
	in      chan []byte
}

// newTTYRelay is a relay for a process with a terminal: the runtime sends
// the pty master to a console socket; attach takes it and relays it.
func (a *agentState) newTTYRelay(stream uint32) (*relay, error) {
	path := filepath.Join("/run/vm", "console-"+strconv.FormatUint(uint64(stream), 10)+".sock")
	os.Remove(path)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	ch := make(chan []byte, 256)
	a.mu.Lock()
	a.stdin[stream] = ch
	a.mu.Unlock()
	return &relay{console: ln, path: path, in: ch}, nil
}

// attach takes the pty master from the console socket, gives it size
// and relays it on stream (its output until the process's side closes).
func (rl *relay) attach(fw *frameWriter, stream uint32, size winsize) error {
	if rl.console == nil {
		return nil
	}
	defer os.Remove(rl.path)
	defer rl.console.Close()
	rl.console.SetDeadline(time.Now().Add(10 * time.Second))
	c, err := rl.console.AcceptUnix()
	if err != nil {
		return fmt.Errorf("vm agent: console socket: %w", err)
	}
	defer c.Close()
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := c.ReadMsgUnix(make([]byte, 4096), oob)
	if err != nil {
		return fmt.Errorf("vm agent: console socket: %w", err)
	}
	cms, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(cms) == 0 {
		return errors.New("vm agent: console socket: no pty")
	}
	fds, err := unix.ParseUnixRights(&cms[0])
	if err != nil || len(fds) != 1 {
		return errors.New("vm agent: console socket: no pty")
	}
	master := os.NewFile(uintptr(fds[0]), "ptmx")
	if size.Rows > 0 && size.Cols > 0 {
		unix.IoctlSetWinsize(fds[0], unix.TIOCSWINSZ, &unix.Winsize{Row: size.Rows, Col: size.Cols})
	}
	if size.ClearONLCR {
		if t, err := unix.IoctlGetTermios(fds[0], unix.TCGETS); err == nil {
			t.Oflag &^= unix.ONLCR
			unix.IoctlSetTermios(fds[0], unix.TCSETS, t)
		}
	}
	go func() {
		for b := range rl.in {
			master.Write(b)
		}
	}()
	rl.done.Add(1)
	go func() {
		defer rl.done.Done()
		pump(fw, kindStdout, stream, master) // ends with EIO once the slave closes
		master.Close()
	}()
	return nil
}

func (a *agentState) newRelay(stream uint32) (*relay, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	// One writer per process keeps its input in order; a process that
	// does not read its stdin stalls the port only once 256 frames wait.
	ch := make(chan []byte, 256)
	go func() {
		for b := range ch {
			inW.Write(b)
		}
		inW.Close()
	}()
	a.mu.Lock()
	a.stdin[stream] = ch
	a.mu.Unlock()
	rl := &relay{childIn: inR, childOut: outW, childErr: errW}
	rl.done.Add(2)
	go func() { defer rl.done.Done(); pump(a.fw, kindStdout, stream, outR); outR.Close() }()
	go func() { defer rl.done.Done(); pump(a.fw, kindStderr, stream, errR); errR.Close() }()
	return rl, nil
}

func (a *agentState) closeStdin(stream uint32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ch := a.stdin[stream]; ch != nil {
		close(ch)
		delete(a.stdin, stream)
	}
}

// closeChild closes our copies of the child's ends once it has them.
func (rl *relay) closeChild() {
	for _, f := range []*os.File{rl.childIn, rl.childOut, rl.childErr} {
		if f != nil {
			f.Close()
		}
	}
}

// wait waits for the output to end, at most d after the process exited (a
// process left behind may hold the pipes).
func (rl *relay) wait(d time.Duration) {
	done := make(chan struct{})
	go func() { rl.done.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

func (a *agentState) create(data []byte) (int, error) {
	var req createRequest
	if err := json.Unmarshal(data, &req); err != nil || req.Spec == nil {
		return 0, fmt.Errorf("vm agent: bad create request: %v", err)
	}
	a.id = req.ID
	spec := req.Spec
	if spec.Root == nil {
		spec.Root = &specs.Root{}
	}
	spec.Root.Path = guestRootfs
	if err := mountBindShares(spec); err != nil {
		return 0, err
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(guestBundle, 0o755); err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(guestBundle, "config.json"), b, 0o600); err != nil {
		return 0, err
	}
	tty := spec.Process != nil && spec.Process.Terminal
	var rl *relay
	if tty {
		rl, err = a.newTTYRelay(0)
	} else {
		rl, err = a.newRelay(0)
	}
	if err != nil {
		return 0, err
	}
	// NoPivot: the guest's root is the initramfs, which pivot_root(2)
	// cannot move away from (as runc's --no-pivot on a ramdisk); the
	// container's root is the only other file system, and the VM is the
	// boundary.
	c, err := a.rt.Create(a.ctx, req.ID, guestBundle, runtime.CreateOptions{
		NoPivot: true, Stdin: rl.childIn, Stdout: rl.childOut, Stderr: rl.childErr, ConsoleSocket: rl.path,
	})
	rl.closeChild()
	if err == nil {
		err = rl.attach(a.fw, 0, req.Size)
	}
	if err != nil {
		return 0, err
	}
	a.mu.Lock()
	a.pids[0] = c.Pid
	a.mu.Unlock()
	go func() {
		code := waitPid(c.Pid)
		rl.wait(2 * time.Second)
		a.fw.writeInt(kindExit, 0, code)
		// The container is over: so is the VM.
		time.Sleep(50 * time.Millisecond)
		powerOff()
	}()
	return c.Pid, nil
}

func (a *agentState) exec(stream uint32, data []byte) (int, error) {
	if stream == 0 {
		return 0, errors.New("vm agent: exec on stream 0")
	}
	var req execRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return 0, fmt.Errorf("vm agent: bad exec request: %v", err)
	}
	o := req.Options
	tty := o.Tty || (o.Process != nil && o.Process.Terminal)
	var rl *relay
	var err error
	if tty {
		rl, err = a.newTTYRelay(stream)
	} else {
		rl, err = a.newRelay(stream)
	}
	if err != nil {
		return 0, err
	}
	pidFile := filepath.Join("/run/vm", "exec-"+strconv.FormatUint(uint64(stream), 10)+".pid")
	o.Detach, o.PidFile, o.ConsoleSocket, o.PidfdSocket = true, pidFile, rl.path, ""
	o.Stdin, o.Stdout, o.Stderr = rl.childIn, rl.childOut, rl.childErr
	_, err = a.rt.Exec(a.ctx, a.id, o)
	rl.closeChild()
	if err == nil {
		err = rl.attach(a.fw, stream, req.Size)
	}
	if err != nil {
		a.closeStdin(stream)
		return 0, err
	}
	b, err := os.ReadFile(pidFile)
	os.Remove(pidFile)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("vm agent: exec pid file: %v", err)
	}
	a.mu.Lock()
	a.pids[stream] = pid
	a.mu.Unlock()
	go func() {
		code := waitPid(pid)
		rl.wait(2 * time.Second)
		a.mu.Lock()
		delete(a.pids, stream)
		a.mu.Unlock()
		a.closeStdin(stream)
		a.fw.writeInt(kindExit, stream, code)
	}()
	return pid, nil
}

// waitPid waits for pid, a child of the agent (pid 1 inherits the
// processes nsenter forks), and returns its status: 128+N when killed by
// signal N. Only this pid is reaped: the runtime waits for its own
// helpers.
func waitPid(pid int) int {
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			// Not (yet) our child: wait through a pidfd.
			pfd, perr := unix.PidfdOpen(pid, 0)
			if perr != nil {
				return 255
			}
			fds := []unix.PollFd{{Fd: int32(pfd), Events: unix.POLLIN}}
			for {
				if _, err := unix.Poll(fds, -1); err != unix.EINTR {
					break
				}
			}
			unix.Close(pfd)
			return 255
		}
		switch {
		case ws.Exited():
			return ws.ExitStatus()
		case ws.Signaled():
			return 128 + int(ws.Signal())
		}
	}
}

// uptime is the guest's /proc/uptime, in seconds.
func uptime() string {
	b, _ := os.ReadFile("/proc/uptime")
	up, _, _ := strings.Cut(string(b), " ")
	return up
}

// guestMounts mounts what a container host has: proc, sys, devtmpfs, a
// pure cgroup v2 hierarchy (nsdelegate, as systemd mounts it), /run and
// /tmp.
func guestMounts() error {
	type m struct {
		src, dst, fstype string
		flags            uintptr
		data             string
	}
	const nosuid, nodev, noexec = unix.MS_NOSUID, unix.MS_NODEV, unix.MS_NOEXEC
	for _, x := range []m{
		{"proc", "/proc", "proc", nosuid | nodev | noexec, ""},
		{"sysfs", "/sys", "sysfs", nosuid | nodev | noexec, ""},
		{"devtmpfs", "/dev", "devtmpfs", nosuid, "mode=0755"},
		{"devpts", "/dev/pts", "devpts", nosuid | noexec, "newinstance,ptmxmode=0666,mode=0620,gid=5"},
		{"shm", "/dev/shm", "tmpfs", nosuid | nodev, "mode=1777"},
		{"cgroup2", "/sys/fs/cgroup", "cgroup2", nosuid | nodev | noexec, "nsdelegate"},
		{"run", "/run", "tmpfs", nosuid | nodev, "mode=0755"},
		{"tmp", "/tmp", "tmpfs", nosuid | nodev, "mode=1777"},
	} {
		if err := os.MkdirAll(x.dst, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(x.src, x.dst, x.fstype, x.flags, x.data); err != nil {
			return &os.PathError{Op: "mount " + x.fstype, Path: x.dst, Err: err}
		}
	}
	return nil
}

// loadModules loads the modules dir/order lists, in that order; one
// already loaded or built in is fine.
func loadModules(dir string) error {
	order, err := os.ReadFile(filepath.Join(dir, "order"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, name := range strings.Fields(string(order)) {
		p := filepath.Join(dir, name)
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		err = unix.FinitModule(int(f.Fd()), "", 0)
		f.Close()
		if err != nil && err != unix.EEXIST {
			return &os.PathError{Op: "load module", Path: p, Err: err}
		}
	}
	return nil
}

// enableControllers gives the root cgroup's children every controller.
func enableControllers(cg string) {
	b, err := os.ReadFile(filepath.Join(cg, "cgroup.controllers"))
	if err != nil {
		return
	}
	for _, c := range strings.Fields(string(b)) {
		os.WriteFile(filepath.Join(cg, "cgroup.subtree_control"), []byte("+"+c), 0)
	}
}

// openPort opens the virtio-serial port called name (devtmpfs makes
// /dev/vportNpM; its name is in sysfs), waiting for the driver to probe
// it.
func openPort(name string, timeout time.Duration) (*os.File, error) {
	deadline := time.Now().Add(timeout)
	for {
		ents, _ := os.ReadDir("/sys/class/virtio-ports")
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join("/sys/class/virtio-ports", e.Name(), "name"))
			if err == nil && strings.TrimSpace(string(b)) == name {
				f, err := os.OpenFile("/dev/"+e.Name(), os.O_RDWR, 0)
				if err == nil {
					return f, nil
				}
				if !errors.Is(err, os.ErrNotExist) {
					return nil, err
				}
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no virtio-serial port %q within %v", name, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
