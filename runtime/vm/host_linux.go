package vm

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ocikit/ocikit/cgroups"
	"github.com/ocikit/ocikit/internal/fsutil"
	"github.com/ocikit/ocikit/runtime"
	"github.com/ocikit/ocikit/runtime/rootfs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Runtime runs each container in a VM of its own, with the state of
// every container in a directory under root, as runtime.Runtime keeps it
// (state.json's "state" is the same document, so the plain runtime's
// list and state read it too).
type Runtime struct {
	root  string
	cache string
	bin   string
	qemu  string
	log   *slog.Logger
}

// Option configures a Runtime.
type Option func(*Runtime)

// WithLogger sets the logger for warnings and debug messages.
func WithLogger(l *slog.Logger) Option { return func(r *Runtime) { r.log = l } }

// WithCacheDir sets where the kernel and initramfs are cached
// (DefaultCacheDir).
func WithCacheDir(dir string) Option { return func(r *Runtime) { r.cache = dir } }

// New returns a Runtime keeping container state under root.
func New(root string, opts ...Option) *Runtime {
	r := &Runtime{root: root, cache: DefaultCacheDir(), qemu: "qemu-system-x86_64"}
	for _, o := range opts {
		o(r)
	}
	if r.log == nil {
		r.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return r
}

const stateFile = "state.json"

// record is state.json: the public state under "state", as the plain
// runtime writes it; InitStart is the monitor's start time.
type record struct {
	State     runtime.State `json:"state"`
	InitStart uint64        `json:"initStart,omitempty"`
	VM        *vmRecord     `json:"vm,omitempty"`
	// Overlay is the host path where create mounted the root
	// filesystem's overlay (rootfs.AnnotationOverlay); delete unmounts it.
	Overlay string `json:"overlay,omitempty"`
	// Cgroup is the container's cgroup on the host (linux.cgroupsPath),
	// which holds the monitor and qemu; delete removes it.
	Cgroup *cgroups.State `json:"cgroup,omitempty"`
}

// vmRecord is what delete needs to find the VM again.
type vmRecord struct {
	QemuPid   int    `json:"qemuPid,omitempty"`
	QemuStart uint64 `json:"qemuStart,omitempty"`
	// The VM's size, which update cannot exceed.
	CPUs      int   `json:"cpus,omitempty"`
	MemoryMiB int64 `json:"memoryMiB,omitempty"`
}

func (r *Runtime) dir(id string) string { return filepath.Join(r.root, id) }

// Create creates a container in a new VM (runtime.md "Create"): qemu
// boots the guest, whose agent creates the container with ocikit's own
// runtime; its init waits for Start. The container's pid is the host's
// monitor process.
func (r *Runtime) Create(ctx context.Context, id, bundle string, o runtime.CreateOptions) (*runtime.Container, error) {
	c, _, err := r.create(ctx, id, bundle, o, false)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (r *Runtime) create(ctx context.Context, id, bundle string, o runtime.CreateOptions, fg bool) (*runtime.Container, *exec.Cmd, error) {
	if err := runtime.CheckID(id); err != nil {
		return nil, nil, err
	}
	bundle, err := filepath.Abs(bundle)
	if err != nil {
		return nil, nil, fmt.Errorf("bundle: %w", err)
	}
	cfg := o.Config
	if cfg == "" {
		cfg = filepath.Join(bundle, "config.json")
	}
	data, err := os.ReadFile(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("read bundle: %w", err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", runtime.ErrInvalidSpec, cfg, err)
	}
	if spec.Root == nil || spec.Root.Path == "" {
		return nil, nil, fmt.Errorf("%w: config.json: root.path is required", runtime.ErrInvalidSpec)
	}
	tty := spec.Process != nil && spec.Process.Terminal
	if tty && o.ConsoleSocket == "" && !fg {
		return nil, nil, fmt.Errorf("%w: process.terminal is true: --console-socket is required", runtime.ErrInvalidSpec)
	}
	if !tty && o.ConsoleSocket != "" {
		return nil, nil, fmt.Errorf("%w: --console-socket given but process.terminal is false", runtime.ErrInvalidSpec)
	}
	shares, err := bindShares(&spec, bundle)
	if err != nil {
		return nil, nil, err
	}
	// The host's cgroup is at the configured path (guestSpec rewrites
	// it for the guest).
	cgroupsPath := ""
	if spec.Linux != nil {
		cgroupsPath = spec.Linux.CgroupsPath
	}
	r.guestSpec(&spec, id)
	rootPath := spec.Root.Path
	if !filepath.IsAbs(rootPath) {
		rootPath = filepath.Join(bundle, rootPath)
	}
	if fi, err := os.Stat(rootPath); err != nil || !fi.IsDir() {
		return nil, nil, fmt.Errorf("vm: root filesystem %s: not a directory", rootPath)
	}
	qemu, err := exec.LookPath(r.qemu)
	if err != nil {
		return nil, nil, fmt.Errorf("vm: %w", err)
	}
	kvm := r.kvmUsable(ctx, qemu)
	s, err := settingsFor(&spec, kvm)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: vm: %v", runtime.ErrInvalidSpec, err)
	}
	bin, err := os.Executable()
	if err != nil {
		return nil, nil, fmt.Errorf("vm: own binary: %w", err)
	}
	a, err := resolveAssets(ctx, r.cache, bin, s)
	if err != nil {
		return nil, nil, err
	}
	// The host does what these annotations ask (the overlay is mounted
	// here, the bundle removed here): the guest's runtime must not.
	gspec := spec
	gspec.Annotations = maps.Clone(spec.Annotations)
	delete(gspec.Annotations, rootfs.AnnotationOverlay)
	delete(gspec.Annotations, runtime.AnnotationRemoveBundle)
	guestSpec, err := json.Marshal(&gspec)
	if err != nil {
		return nil, nil, err
	}

	if err := os.MkdirAll(r.root, 0o711); err != nil {
		return nil, nil, fmt.Errorf("state root: %w", err)
	}
	dir := r.dir(id)
	if err := os.Mkdir(dir, 0o711); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, nil, fmt.Errorf("%w: container %q", runtime.ErrExist, id)
		}
		return nil, nil, fmt.Errorf("state: %w", err)
	}
	lock, err := os.Open(dir)
	if err != nil {
		os.Remove(dir)
		return nil, nil, err
	}
	defer lock.Close()
	if err := fsutil.Lock(ctx, lock, true); err != nil {
		os.Remove(dir)
		return nil, nil, err
	}
	rec := &record{State: runtime.State{
		State: specs.State{Version: specs.Version, ID: id, Status: specs.StateCreating, Bundle: bundle,
			Annotations: spec.Annotations},
		Rootfs: rootPath, Created: time.Now().UTC(),
	}}
	var cg *cgroups.Manager
	fail := func(err error) (*runtime.Container, *exec.Cmd, error) {
		if rec.Overlay != "" {
			unmountOverlay(rec.Overlay)
		}
		if cg != nil {
			cg.Destroy()
		}
		removeStateDir(dir)
		return nil, nil, err
	}
	if err := writeState(dir, rec); err != nil {
		return fail(err)
	}
	// The monitor and qemu live in the container's cgroup on the host,
	// as a runc container's processes do: callers that read the cgroup
	// of the state's pid (containerd's runc shim: `ctr task metrics`)
	// see the VM's real usage, and the limits hold the VM as a whole.
	if cg, err = newHostCgroup(id, cgroupsPath, hostResources(&spec, s), r.log); err != nil {
		return fail(err)
	}
	cgState := cg.State()
	rec.Cgroup = &cgState
	if err := writeState(dir, rec); err != nil {
		return fail(err)
	}
	// The guest cannot see a mount made in another mount namespace, so
	// the overlay the plain runtime would mount inside the container's
	// namespace is mounted here, on the host, over the (empty) root
	// directory, which the guest then gets through 9p like any other
	// root. Recorded first: a delete after a crash unmounts it.
	if data, ok := spec.Annotations[rootfs.AnnotationOverlay]; ok {
		rec.Overlay = rootPath
		if err := writeState(dir, rec); err != nil {
			return fail(err)
		}
		if err := rootfs.MountOverlay(data, rootPath); err != nil {
			rec.Overlay = ""
			return fail(fmt.Errorf("vm: root filesystem overlay: %w", err))
		}
	}
	// With a terminal the monitor's stdio is the slave of a host pty
	// whose master goes to the console socket (or, in the foreground, to
	// Run's relay, as Container.Console); the guest's pty is relayed to
	// it.
	stdio := [3]*os.File{orStd(o.Stdin, os.Stdin), orStd(o.Stdout, os.Stdout), orStd(o.Stderr, os.Stderr)}
	var size winsize
	var master *os.File
	if tty {
		m, slave, err := runtime.OpenPty()
		if err != nil {
			return fail(fmt.Errorf("vm: terminal: %w", err))
		}
		defer slave.Close()
		stdio = [3]*os.File{slave, slave, slave}
		if cs := spec.Process.ConsoleSize; cs != nil {
			size = winsize{Rows: uint16(cs.Height), Cols: uint16(cs.Width)}
		}
		if ws, err := unix.IoctlGetWinsize(int(os.Stdin.Fd()), unix.TIOCGWINSZ); err == nil && fg {
			size = winsize{Rows: ws.Row, Cols: ws.Col}
		}
		if o.ConsoleSocket != "" {
			err := runtime.SendConsole(o.ConsoleSocket, m)
			m.Close()
			if err != nil {
				return fail(err)
			}
		} else {
			master = m
			size.ClearONLCR = true
		}
	}
	failTTY := func(err error) (*runtime.Container, *exec.Cmd, error) {
		if master != nil {
			master.Close()
		}
		return fail(err)
	}
	// As root, qemu runs unprivileged and jailed (qemuuser_linux.go,
	// jail_linux.go); otherwise as the caller, who has no more to lose.
	qu := qemuUserFor()
	// A writable root is shared with virtio-fs where the host has
	// virtiofsd and ocikit is root (virtiofs_linux.go says why); qemu
	// then never opens the root filesystem itself.
	var vfs *virtiofsParams
	if qu != nil && !spec.Root.Readonly {
		if bin := findVirtiofsd(vhostUserDirs()); bin != "" {
			vfs = &virtiofsParams{Bin: bin, Source: rootPath}
		}
	}
	var jail []jailPath
	if qu != nil {
		qemuRoot := rootPath
		if vfs != nil {
			qemuRoot = ""
		}
		jail = jailPaths(qemu, a.kernel, a.initrd, qemuRoot, spec.Root.Readonly, shares)
	}
	params, err := json.Marshal(monitorParams{
		ID: id, Qemu: qemu, Spec: guestSpec, BootTimeout: s.bootTimeout, Size: size, QemuUser: qu, Jail: jail, Cgroup: rec.Cgroup,
		Virtiofs: vfs,
		QemuArgs: append(qemuArgs(s, kvm, a.kernel, a.initrd, rootPath, spec.Root.Readonly, vfs != nil), shareArgs(shares, kvm)...),
	})
	if err != nil {
		return failTTY(err)
	}
	if err := os.WriteFile(filepath.Join(dir, paramsFile), params, 0o600); err != nil {
		return failTTY(err)
	}
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return failTTY(err)
	}
	defer syncR.Close()
	cmd := exec.Command(bin, "vm-monitor", dir)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio[0], stdio[1], stdio[2]
	cmd.ExtraFiles = []*os.File{syncW}
	// Its own process group: a terminal's ^C reaches `run`, which
	// forwards it once.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		syncW.Close()
		return failTTY(fmt.Errorf("vm: start monitor: %w", err))
	}
	syncW.Close()
	line, _ := bufio.NewReader(syncR).ReadString('\n')
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "ok ") {
		cmd.Process.Kill()
		cmd.Wait()
		msg := strings.TrimPrefix(line, "error ")
		if line == "" {
			msg = "vm: the monitor exited before the guest was ready"
		}
		return failTTY(errors.New(msg))
	}
	var qpid int
	var qstart uint64
	fmt.Sscanf(line, "ok %d %d", &qpid, &qstart)
	r.log.Debug("vm created", "container", id, "elapsed", time.Since(t0))
	mstart, _ := procStart(cmd.Process.Pid)
	rec.State.Pid = cmd.Process.Pid
	rec.State.Status = specs.StateCreated
	rec.InitStart = mstart
	rec.VM = &vmRecord{QemuPid: qpid, QemuStart: qstart, CPUs: s.cpus, MemoryMiB: s.memoryMiB}
	if err := writeState(dir, rec); err != nil {
		killWait(cmd.Process.Pid, mstart)
		return failTTY(err)
	}
	if o.PidFile != "" {
		if err := fsutil.WriteFile(o.PidFile, []byte(strconv.Itoa(cmd.Process.Pid)), 0o644, fsutil.NoSync()); err != nil {
			killWait(cmd.Process.Pid, mstart)
			return failTTY(fmt.Errorf("pid file: %w", err))
		}
	}
	return &runtime.Container{ID: id, Pid: cmd.Process.Pid, Console: master}, cmd, nil
}

// guestSpec drops from spec what names the host and cannot be honoured
// inside the guest, with a warning each: namespaces given by a host path
// (the guest gets new ones), hooks (host binaries), and a cgroupsPath in
// the systemd form (the guest has no systemd: its cgroup is /ocikit/ID).
// Bind mounts of host paths were made shares of their own (bindShares).
func (r *Runtime) guestSpec(spec *specs.Spec, id string) {
	if spec.Hooks != nil {
		r.log.Warn("vm: hooks are not run (they are host programs)")
		spec.Hooks = nil
	}
	if l := spec.Linux; l != nil {
		for i, ns := range l.Namespaces {
			if ns.Path != "" {
				r.log.Warn("vm: namespace path of the host: a new namespace in the guest", "type", ns.Type, "path", ns.Path)
				l.Namespaces[i].Path = ""
			}
		}
		if l.CgroupsPath != "" && !filepath.IsAbs(l.CgroupsPath) {
			l.CgroupsPath = "/ocikit/" + id
		}
	}
}

func hasOption(opts []string, o string) bool {
	for _, x := range opts {
		if x == o {
			return true
		}
	}
	return false
}

func orStd(f, std *os.File) *os.File {
	if f == nil {
		return std
	}
	return f
}

func writeState(dir string, rec *record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return fsutil.WriteFile(filepath.Join(dir, stateFile), b, 0o600, fsutil.NoSync())
}

func readState(dir, id string) (*record, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: container %q does not exist", runtime.ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("container %q: corrupt state.json: %w", id, err)
	}
	if rec.VM == nil && rec.State.Status != specs.StateCreating {
		return nil, fmt.Errorf("%w: container %q is not a VM container (drop --vm)", runtime.ErrWrongState, id)
	}
	switch rec.State.Status {
	case specs.StateCreated, specs.StateRunning, runtime.StatePaused:
		if rec.State.Pid <= 0 || !alive(rec.State.Pid, rec.InitStart) {
			rec.State.Status = specs.StateStopped
		}
	}
	return &rec, nil
}

// removeStateDir removes the state directory, state.json last.
func removeStateDir(dir string) error {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Name() != stateFile {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := os.Remove(filepath.Join(dir, stateFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// lockState takes the container's lock and reads its state.
func (r *Runtime) lockState(ctx context.Context, id string) (*os.File, *record, error) {
	if err := runtime.CheckID(id); err != nil {
		return nil, nil, err
	}
	dir := r.dir(id)
	f, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("%w: container %q does not exist", runtime.ErrNotFound, id)
	}
	if err != nil {
		return nil, nil, err
	}
	if err := fsutil.Lock(ctx, f, true); err != nil {
		f.Close()
		return nil, nil, err
	}
	rec, err := readState(dir, id)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, rec, nil
}

// State returns the container's state; its pid is the monitor's.
func (r *Runtime) State(ctx context.Context, id string) (*runtime.State, error) {
	if err := runtime.CheckID(id); err != nil {
		return nil, err
	}
	rec, err := readState(r.dir(id), id)
	if err != nil {
		return nil, err
	}
	st := rec.State
	if st.Status == specs.StateStopped {
		st.Pid = 0
	}
	return &st, nil
}

// List returns the state of every VM container under the root, by id.
func (r *Runtime) List(ctx context.Context) ([]runtime.State, error) {
	ents, err := os.ReadDir(r.root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	var out []runtime.State
	for _, e := range ents {
		if !e.IsDir() || runtime.CheckID(e.Name()) != nil {
			continue
		}
		st, err := r.State(ctx, e.Name())
		if err != nil {
			continue
		}
		out = append(out, *st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// dialCtl connects to the monitor's control socket of the locked state
// directory (through /proc/self/fd, whatever the root's length).
func dialCtl(dir *os.File) (*net.UnixConn, error) {
	p := "/proc/self/fd/" + strconv.Itoa(int(dir.Fd())) + "/" + ctlSocket
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: p, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("vm: monitor: %w", err)
	}
	return c, nil
}

func readCtl(c *net.UnixConn) (ctlReply, error) {
	buf := make([]byte, 64<<10)
	n, err := c.Read(buf)
	if err != nil {
		return ctlReply{}, fmt.Errorf("vm: monitor: %w", err)
	}
	var rp ctlReply
	if err := json.Unmarshal(buf[:n], &rp); err != nil {
		return rp, fmt.Errorf("vm: monitor: bad reply: %w", err)
	}
	return rp, nil
}

// Start runs the program of a created container (runtime.md "Start").
func (r *Runtime) Start(ctx context.Context, id string) error {
	l, rec, err := r.lockState(ctx, id)
	if err != nil {
		return err
	}
	defer l.Close()
	if rec.State.Status != specs.StateCreated {
		return fmt.Errorf("%w: container %q is %s, not created", runtime.ErrWrongState, id, rec.State.Status)
	}
	c, err := dialCtl(l)
	if err != nil {
		return err
	}
	defer c.Close()
	b, _ := json.Marshal(ctlRequest{Op: "start"})
	if _, err := c.Write(b); err != nil {
		return fmt.Errorf("vm: monitor: %w", err)
	}
	rp, err := readCtl(c)
	if err != nil {
		return err
	}
	if rp.Error != "" {
		return errors.New(rp.Error)
	}
	rec.State.Status = specs.StateRunning
	return writeState(r.dir(id), rec)
}

// Kill sends sig to the container's process in the guest: the monitor
// forwards every signal it receives; SIGKILL kills the monitor itself and
// with it the VM. all is the same (one process tree per VM).
func (r *Runtime) Kill(ctx context.Context, id string, sig syscall.Signal, all bool) error {
	l, rec, err := r.lockState(ctx, id)
	if err != nil {
		return err
	}
	defer l.Close()
	switch rec.State.Status {
	case specs.StateCreated, specs.StateRunning, runtime.StatePaused:
	case specs.StateStopped:
		if all {
			return nil
		}
		return fmt.Errorf("%w: container %q is stopped: container not running", runtime.ErrWrongState, id)
	default:
		return fmt.Errorf("%w: container %q is %s: cannot signal it", runtime.ErrWrongState, id, rec.State.Status)
	}
	pfd, err := unix.PidfdOpen(rec.State.Pid, 0)
	if err != nil {
		return fmt.Errorf("%w: container %q is stopped: container not running", runtime.ErrWrongState, id)
	}
	defer unix.Close(pfd)
	if !alive(rec.State.Pid, rec.InitStart) {
		return fmt.Errorf("%w: container %q is stopped: container not running", runtime.ErrWrongState, id)
	}
	if err := unix.PidfdSendSignal(pfd, sig, nil, 0); err != nil {
		return fmt.Errorf("signal container: %w", os.NewSyscallError("pidfd_send_signal", err))
	}
	return nil
}

// Delete deletes a stopped container, or with force one in any state:
// the monitor and qemu are killed, the state directory (sockets, logs)
// removed.
func (r *Runtime) Delete(ctx context.Context, id string, force bool) error {
	l, rec, err := r.lockState(ctx, id)
	if errors.Is(err, runtime.ErrNotFound) && force {
		// A create killed before its first state: only the directory.
		if runtime.CheckID(id) == nil {
			if _, serr := os.Stat(r.dir(id)); serr == nil {
				if rerr := removeStateDir(r.dir(id)); rerr != nil {
					return rerr
				}
				return nil
			}
		}
		return err
	}
	if err != nil {
		return err
	}
	defer l.Close()
	if rec.State.Status != specs.StateStopped && !force {
		return fmt.Errorf("%w: container %q is %s, not stopped: kill it first or use --force", runtime.ErrWrongState, id, rec.State.Status)
	}
	if rec.State.Pid > 0 {
		if err := killWait(rec.State.Pid, rec.InitStart); err != nil {
			return fmt.Errorf("delete: monitor: %w", err)
		}
	}
	if rec.VM != nil && rec.VM.QemuPid > 0 {
		if err := killWait(rec.VM.QemuPid, rec.VM.QemuStart); err != nil {
			return fmt.Errorf("delete: qemu: %w", err)
		}
	}
	// The monitor and qemu are gone: their cgroup is empty.
	if rec.Cgroup != nil {
		if err := removeHostCgroup(*rec.Cgroup, r.log); err != nil {
			return fmt.Errorf("delete: %w", err)
		}
	}
	// qemu is gone: nothing holds the overlay any more.
	if rec.Overlay != "" {
		if err := unmountOverlay(rec.Overlay); err != nil {
			return fmt.Errorf("delete: %w", err)
		}
	}
	if rec.State.Annotations[runtime.AnnotationRemoveBundle] == "true" && rec.State.Bundle != "" {
		// Before the state, as the plain runtime: a delete cut short
		// here is retried by the next one.
		if err := runtime.RemoveBundle(rec.State.Bundle); err != nil {
			r.log.Warn("remove bundle", "container", id, "bundle", rec.State.Bundle, "error", err)
		}
	}
	if err := removeStateDir(r.dir(id)); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	return nil
}

// unmountOverlay unmounts the root filesystem's overlay at path; one
// already gone (a delete retried) is no error.
func unmountOverlay(path string) error {
	err := unix.Unmount(path, 0)
	if err == unix.EBUSY {
		err = unix.Unmount(path, unix.MNT_DETACH)
	}
	if err != nil && err != unix.EINVAL && err != unix.ENOENT {
		return &os.PathError{Op: "umount overlay", Path: path, Err: err}
	}
	return nil
}

// killWait SIGKILLs pid (if it is still the process started at start)
// and waits until it is gone or a zombie.
func killWait(pid int, start uint64) error {
	if !alive(pid, start) {
		return nil
	}
	pfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(pfd)
	if !alive(pid, start) {
		return nil
	}
	unix.PidfdSendSignal(pfd, unix.SIGKILL, nil, 0)
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid, start) {
		if time.Now().After(deadline) {
			return fmt.Errorf("process %d survives SIGKILL", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// alive is runtime.Alive: pid lives and started at start.
func alive(pid int, start uint64) bool { return runtime.Alive(pid, start) }

// Run creates and starts a container and waits for it in the foreground:
// signals go to the container's process, stdio is the caller's (the
// monitor relays it), the result is the container's exit status (128+N
// for signal N) and the container is deleted unless o.Keep.
func (r *Runtime) Run(ctx context.Context, id, bundle string, o runtime.CreateOptions) (int, error) {
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs)
	defer signal.Stop(sigs)
	ctx = context.WithoutCancel(ctx)
	c, cmd, err := r.create(ctx, id, bundle, o, true)
	if err != nil {
		return -1, err
	}
	var tty *runtime.TTYRelay
	if c.Console != nil {
		tty = runtime.RelayTTY(c.Console, orStd(o.Stdin, os.Stdin), orStd(o.Stdout, os.Stdout))
	}
	if err := r.Start(ctx, id); err != nil {
		r.deleteQuiet(ctx, id)
		if tty != nil {
			tty.Finish()
		}
		return -1, err
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case s := <-sigs:
				switch sig := s.(syscall.Signal); sig {
				case unix.SIGCHLD, unix.SIGURG, unix.SIGPIPE:
				case unix.SIGWINCH:
					if tty != nil {
						tty.Resize()
					}
				default:
					unix.Kill(c.Pid, sig)
				}
			}
		}
	}()
	cmd.Wait()
	close(done)
	if tty != nil {
		tty.Finish()
	}
	code := 255
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
		switch {
		case ws.Exited():
			code = ws.ExitStatus()
		case ws.Signaled():
			code = 128 + int(ws.Signal())
		}
	}
	if !o.Keep {
		r.deleteQuiet(ctx, id)
	}
	return code, nil
}

// RunDetached creates and starts a container and returns once its
// program runs.
func (r *Runtime) RunDetached(ctx context.Context, id, bundle string, o runtime.CreateOptions) error {
	if _, _, err := r.create(ctx, id, bundle, o, false); err != nil {
		return err
	}
	if err := r.Start(ctx, id); err != nil {
		r.deleteQuiet(ctx, id)
		return err
	}
	return nil
}

func (r *Runtime) deleteQuiet(ctx context.Context, id string) {
	if err := r.Delete(ctx, id, true); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		r.log.Warn("delete after run", "container", id, "error", err)
	}
}

// Exec runs a second process in the container's VM, through the
// monitor: its stdio descriptors travel to the monitor, which relays them
// to the guest, where the agent runs runtime.Runtime.Exec. In the
// foreground signals are forwarded and the result is the process's exit
// status; with o.Detach Exec returns once it runs.
func (r *Runtime) Exec(ctx context.Context, id string, o runtime.ExecOptions) (int, error) {
	tty := o.Tty || (o.Process != nil && o.Process.Terminal)
	switch {
	case tty && o.Detach && o.ConsoleSocket == "":
		return -1, fmt.Errorf("%w: a terminal with --detach needs --console-socket", runtime.ErrInvalidSpec)
	case !tty && o.ConsoleSocket != "":
		return -1, fmt.Errorf("%w: --console-socket given without a terminal (--tty or process.terminal)", runtime.ErrInvalidSpec)
	}
	if o.PreserveFDs > 0 || o.PidfdSocket != "" || len(o.SubCgroups) > 0 {
		return -1, fmt.Errorf("%w: vm: exec --preserve-fds, --pidfd-socket and --cgroup are not supported", runtime.ErrNotSupported)
	}
	sigs := make(chan os.Signal, 64)
	if !o.Detach {
		signal.Notify(sigs)
		defer signal.Stop(sigs)
	}
	l, rec, err := r.lockState(ctx, id)
	if err != nil {
		return -1, err
	}
	switch rec.State.Status {
	case specs.StateCreated, specs.StateRunning:
	default:
		l.Close()
		return -1, fmt.Errorf("%w: container %q is %s: cannot exec in it", runtime.ErrWrongState, id, rec.State.Status)
	}
	c, err := dialCtl(l)
	l.Close()
	if err != nil {
		return -1, err
	}
	defer c.Close()
	stdio := []*os.File{orStd(o.Stdin, os.Stdin), orStd(o.Stdout, os.Stdout), orStd(o.Stderr, os.Stderr)}
	var size winsize
	var relay *runtime.TTYRelay
	var slave *os.File
	if tty {
		// A host pty whose slave the monitor relays to the guest's pty;
		// its master goes to the console socket or, in the foreground,
		// is relayed to the caller's terminal.
		master, s, err := runtime.OpenPty()
		if err != nil {
			return -1, fmt.Errorf("vm: terminal: %w", err)
		}
		slave = s
		defer func() {
			if slave != nil {
				slave.Close()
			}
		}()
		stdio = []*os.File{slave, slave, slave}
		if p := o.Process; p != nil && p.ConsoleSize != nil {
			size = winsize{Rows: uint16(p.ConsoleSize.Height), Cols: uint16(p.ConsoleSize.Width)}
		}
		if o.ConsoleSocket != "" {
			err := runtime.SendConsole(o.ConsoleSocket, master)
			master.Close()
			if err != nil {
				return -1, err
			}
		} else {
			if ws, err := unix.IoctlGetWinsize(int(os.Stdin.Fd()), unix.TIOCGWINSZ); err == nil {
				size = winsize{Rows: ws.Row, Cols: ws.Col}
			}
			size.ClearONLCR = true
			relay = runtime.RelayTTY(master, orStd(o.Stdin, os.Stdin), orStd(o.Stdout, os.Stdout))
			defer relay.Finish()
		}
	}
	pidFile := o.PidFile
	wire := o
	wire.Stdin, wire.Stdout, wire.Stderr, wire.PidFile, wire.Detach, wire.ConsoleSocket = nil, nil, nil, "", false, ""
	b, err := json.Marshal(ctlRequest{Op: "exec", Exec: &wire, Size: size})
	if err != nil {
		return -1, err
	}
	fds := []int{int(stdio[0].Fd()), int(stdio[1].Fd()), int(stdio[2].Fd())}
	if slave != nil {
		// Non-blocking, so that the monitor's read of it ends when it
		// closes it once the process exits (a blocking read would keep
		// the slave open, and the relay's output from ending). The
		// slave is this exec's alone.
		if err := unix.SetNonblock(fds[0], true); err != nil {
			return -1, fmt.Errorf("vm: terminal: %w", err)
		}
	}
	if _, _, err := c.WriteMsgUnix(b, unix.UnixRights(fds...), nil); err != nil {
		return -1, fmt.Errorf("vm: monitor: %w", err)
	}
	if slave != nil {
		// The monitor has it: the relay's output ends when it closes it.
		slave.Close()
		slave = nil
	}
	rp, err := readCtl(c)
	if err != nil {
		return -1, err
	}
	if rp.Error != "" {
		return -1, errors.New(rp.Error)
	}
	if o.Detach {
		// The process runs in the guest: a host process stands for it,
		// holding the connection and exiting with its status, for
		// callers that wait on the pid file's process (conmon).
		f, err := c.File()
		if err != nil {
			return -1, err
		}
		defer f.Close()
		bin, err := os.Executable()
		if err != nil {
			return -1, err
		}
		w := exec.Command(bin, "vm-exec-wait")
		w.ExtraFiles = []*os.File{f}
		w.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := w.Start(); err != nil {
			return -1, fmt.Errorf("vm: exec waiter: %w", err)
		}
		if pidFile != "" {
			if err := fsutil.WriteFile(pidFile, []byte(strconv.Itoa(w.Process.Pid)), 0o644, fsutil.NoSync()); err != nil {
				w.Process.Kill()
				return -1, fmt.Errorf("pid file: %w", err)
			}
		}
		w.Process.Release()
		return 0, nil
	}
	if pidFile != "" {
		// In the foreground this process stands for the one in the
		// guest: it exits with its status.
		if err := fsutil.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())), 0o644, fsutil.NoSync()); err != nil {
			return -1, fmt.Errorf("pid file: %w", err)
		}
	}
	return waitExec(c, sigs)
}

// ExecWait is the host process standing for a detached exec's process in
// the guest (the pid in exec's pid file): it holds the monitor's
// connection (descriptor 3), forwards the signals it receives and exits
// with the process's status. ExecWait never returns.
func ExecWait() {
	f := os.NewFile(3, "exec")
	fc, err := net.FileConn(f)
	f.Close()
	c, ok := fc.(*net.UnixConn)
	if err != nil || !ok {
		os.Exit(255)
	}
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs)
	code, err := waitExec(c, sigs)
	if err != nil {
		os.Exit(255)
	}
	os.Exit(code)
}

// waitExec forwards signals to an exec'd process over its monitor
// connection c until its exit status arrives.
func waitExec(c *net.UnixConn, sigs chan os.Signal) (int, error) {
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-done:
				return
			case s := <-sigs:
				switch sig := s.(syscall.Signal); sig {
				case unix.SIGCHLD, unix.SIGURG, unix.SIGPIPE, unix.SIGWINCH:
				default:
					b, _ := json.Marshal(ctlRequest{Op: "signal", Signal: int(sig)})
					c.Write(b)
				}
			}
		}
	}()
	rp, err := readCtl(c)
	if err != nil {
		return -1, fmt.Errorf("%w (the VM stopped)", err)
	}
	if rp.Exit == nil {
		return -1, errors.New("vm: monitor: no exit status")
	}
	return *rp.Exit, nil
}
