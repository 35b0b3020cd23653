package imagerun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/ocikit/ocikit/runtime"
)

// WaitAndDelete waits for the program of container id to exit and then
// deletes the container (and with it its directory): what `image run -d
// --rm` leaves running in the background, since no caller waits for a
// detached container. The wait is on a pidfd of the container's init, so
// nothing polls.
func WaitAndDelete(ctx context.Context, rt StateDeleter, id string) error {
	if err := waitExit(ctx, rt, id); err != nil {
		return err
	}
	return deleteGone(ctx, rt, id)
}

func deleteGone(ctx context.Context, rt StateDeleter, id string) error {
	if err := rt.Delete(ctx, id, true); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	return nil
}

// waitExit returns once the init of container id is gone.
func waitExit(ctx context.Context, rt StateDeleter, id string) error {
	st, err := rt.State(ctx, id)
	if err != nil {
		return err
	}
	if st.Status == specs.StateStopped || st.Pid <= 0 {
		return nil
	}
	pfd, err := unix.PidfdOpen(st.Pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return os.NewSyscallError("pidfd_open", err)
	}
	defer unix.Close(pfd)
	fds := []unix.PollFd{{Fd: int32(pfd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != unix.EINTR {
			return nil
		}
	}
}

// KeepConsole is the process that holds the pty master of a container
// started detached with a terminal (`image run -d -t`), as runc's
// detached-terminal caller (podman's conmon) does: the program keeps its
// terminal (a pty whose master is closed hangs up its session) and what
// it writes there is appended to the file log (and not left to fill the
// pty's buffer and block it). It returns once the container's init
// exited and its output is drained, deleting the container first when
// remove is set.
func KeepConsole(ctx context.Context, rt StateDeleter, id string, master *os.File, log string, remove bool) error {
	var out io.Writer = io.Discard
	if f, err := os.OpenFile(log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err == nil {
		defer f.Close()
		out = f
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		buf := make([]byte, 32<<10)
		for {
			n, err := master.Read(buf)
			if n > 0 {
				out.Write(buf[:n]) // a failed write (disk full) still drains
			}
			if err != nil {
				return // EIO: every slave descriptor is closed
			}
		}
	}()
	err := waitExit(ctx, rt, id)
	// The init's pid namespace ends with it, closing the slave; what is
	// still in the pty's buffer is read before the master goes.
	select {
	case <-drained:
	case <-time.After(2 * time.Second):
	}
	master.Close()
	if err != nil {
		return err
	}
	if remove {
		return deleteGone(ctx, rt, id)
	}
	return nil
}

// consoleSocket receives the pty master the runtime sends to a console
// socket (runtime-spec runtime.md; runc's --console-socket).
type consoleSocket struct {
	dir, path string
	l         *net.UnixListener
	got       chan consoleResult
}

type consoleResult struct {
	master *os.File
	err    error
}

// newConsoleSocket listens in a new directory under the temporary one (a
// socket path must fit 108 bytes, which a store's may not).
func newConsoleSocket() (*consoleSocket, error) {
	dir, err := os.MkdirTemp("", "ocikit-console-")
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	cs := &consoleSocket{dir: dir, path: filepath.Join(dir, "sock"), got: make(chan consoleResult, 1)}
	if cs.l, err = net.ListenUnix("unix", &net.UnixAddr{Name: cs.path, Net: "unix"}); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("console socket: %w", err)
	}
	go func() { cs.got <- cs.accept() }()
	return cs, nil
}

func (cs *consoleSocket) accept() consoleResult {
	c, err := cs.l.AcceptUnix()
	if err != nil {
		return consoleResult{err: err}
	}
	defer c.Close()
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := c.ReadMsgUnix(make([]byte, 4096), oob)
	if err != nil {
		return consoleResult{err: err}
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return consoleResult{err: errors.New("no descriptor received")}
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return consoleResult{err: errors.New("no descriptor received")}
	}
	return consoleResult{master: os.NewFile(uintptr(fds[0]), "pty master")}
}

// master is the pty master the runtime sent (before its create returned).
func (cs *consoleSocket) master() (*os.File, error) {
	select {
	case r := <-cs.got:
		if r.err != nil {
			return nil, fmt.Errorf("console socket: %w", r.err)
		}
		return r.master, nil
	case <-time.After(10 * time.Second):
		return nil, errors.New("console socket: no pty master received")
	}
}

func (cs *consoleSocket) Close() {
	cs.l.Close()
	os.RemoveAll(cs.dir)
}

// InheritedConsole is the pty master a Reaper got as descriptor fd, made
// non-blocking so that KeepConsole's reads go through Go's poller.
func InheritedConsole(fd int) (*os.File, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &os.PathError{Op: "fstat", Path: fmt.Sprintf("descriptor %d", fd), Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR {
		return nil, fmt.Errorf("descriptor %d: not a pty master", fd)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, &os.PathError{Op: "fcntl", Path: fmt.Sprintf("descriptor %d", fd), Err: err}
	}
	return os.NewFile(uintptr(fd), "pty master"), nil
}
