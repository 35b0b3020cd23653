package runtime

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Run creates and starts a container and waits for its program in the
// foreground, as `runc run` without --detach: signals received are
// forwarded to the program, a terminal (process.terminal without a console
// socket) is wired to the caller's, in raw mode and resized on SIGWINCH.
// After the program exits the container is deleted. The result is the
// program's exit status, 128+N when signal N killed it.
func (r *Runtime) Run(ctx context.Context, id, bundle string, o CreateOptions) (int, error) {
	// A container init forked by nsenter (pid or time namespace joined or
	// new) is our grandchild: as a subreaper we still wait for it.
	fg, err := newForeground(!o.NoSubreaper)
	if err != nil {
		return -1, err
	}
	defer fg.stop()
	ctx = context.WithoutCancel(ctx)

	t0 := time.Now()
	c, err := r.create(ctx, id, bundle, o, true)
	if err != nil {
		return -1, err
	}
	if o.PidfdSocket != "" {
		if err := sendPidfd(o.PidfdSocket, c.Pid); err != nil {
			if c.Console != nil {
				c.Console.Close()
			}
			r.deleteQuiet(ctx, id)
			return -1, err
		}
	}
	r.log.Debug("created", "container", id, "pid", c.Pid, "elapsed", time.Since(t0))
	fg.ready()
	var tty *ttyCopy
	if c.Console != nil {
		tty = newTTYCopy(c.Console, orStd(o.Stdin, os.Stdin), orStd(o.Stdout, os.Stdout))
	}
	if err := r.Start(ctx, id); err != nil {
		if tty != nil {
			tty.close()
		}
		r.deleteQuiet(ctx, id)
		if c.stdio != nil {
			c.stdio.finish()
		}
		return -1, err
	}
	r.log.Debug("started", "container", id, "elapsed", time.Since(t0))
	code := fg.wait(c.Pid, tty)
	r.log.Debug("exited", "container", id, "status", code, "elapsed", time.Since(t0))
	if o.Keep {
		// The output to its end, as without --keep and as the C run
		// (fx_foreground): once the process exited, until nothing in
		// the container holds its stdout and stderr.
		if c.stdio != nil {
			c.stdio.finish()
		}
		return code, nil
	}
	r.deleteQuiet(ctx, id)
	r.log.Debug("deleted", "container", id, "elapsed", time.Since(t0))
	if c.stdio != nil {
		// Everything in the container is gone: the output ends.
		c.stdio.finish()
	}
	return code, nil
}

// RunDetached creates and starts a container and returns once its program
// runs, as `runc run --detach`; a container that fails to start is
// deleted.
func (r *Runtime) RunDetached(ctx context.Context, id, bundle string, o CreateOptions) error {
	if _, err := r.Create(ctx, id, bundle, o); err != nil {
		return err
	}
	if err := r.Start(ctx, id); err != nil {
		r.deleteQuiet(ctx, id)
		return err
	}
	return nil
}

func (r *Runtime) deleteQuiet(ctx context.Context, id string) {
	if err := r.Delete(ctx, id, true); err != nil && !errors.Is(err, ErrNotFound) {
		r.log.Warn("delete after run", "container", id, "error", err)
	}
}

// foreground is the runtime waiting for a process it started (run, exec
// without --detach): signals it receives go to the process, a terminal
// relayed to the caller follows the caller's size.
type foreground struct {
	sigs chan os.Signal
	// notified is closed once every signal is caught: registering them
	// is a round trip to the Go runtime's signal thread per signal, about
	// 2 ms here, so it runs beside the container's setup (see ready).
	notified chan struct{}
}

// newForeground starts catching every signal, before the process exists,
// so that none meant for it is lost (ready waits until all are caught);
// with subreaper the runtime also reaps a process nsenter forked (its
// grandchild).
func newForeground(subreaper bool) (*foreground, error) {
	if subreaper {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return nil, os.NewSyscallError("prctl", err)
		}
	}
	f := &foreground{sigs: make(chan os.Signal, 64), notified: make(chan struct{})}
	go func() {
		signal.Notify(f.sigs)
		close(f.notified)
	}()
	return f, nil
}

// ready waits until every signal is caught. Callers wait before the
// user's program may run (start, the exec'd process's execve), so that a
// signal sent to the runtime from then on reaches it.
func (f *foreground) ready() { <-f.notified }

// stop restores the default handling of signals, in the background: it
// costs as much as the registration, and the runtime usually exits right
// after the container does. Until then a signal received is dropped.
func (f *foreground) stop() {
	go func() {
		<-f.notified
		signal.Stop(f.sigs)
	}()
}

// wait forwards signals to pid (SIGWINCH resizes tty, which may be nil)
// until it exits, drains and restores the terminal and returns the exit
// status (waitExit).
func (f *foreground) wait(pid int, tty *ttyCopy) int {
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case s := <-f.sigs:
				switch sig := s.(unix.Signal); sig {
				case unix.SIGCHLD, unix.SIGURG, unix.SIGPIPE:
				case unix.SIGWINCH:
					if tty != nil {
						tty.resize()
					}
				default:
					unix.Kill(pid, sig)
				}
			}
		}
	}()
	code := waitExit(pid)
	close(done)
	if tty != nil {
		tty.finish()
	}
	return code
}

// waitExit reaps children until pid exits and returns its status. A pid
// that is not our child (nsenter forked it and we are no subreaper) has a
// status nobody can read: waitExit waits for its end through a pidfd and
// returns 255, as runc fails to read it then.
func waitExit(pid int) int {
	pfd, perr := unix.PidfdOpen(pid, 0)
	if perr == nil {
		defer unix.Close(pfd)
	}
	for {
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err == unix.ECHILD && perr == nil {
			fds := []unix.PollFd{{Fd: int32(pfd), Events: unix.POLLIN}}
			for {
				if _, err := unix.Poll(fds, -1); err != unix.EINTR {
					return 255
				}
			}
		}
		if err != nil {
			return 255
		}
		if wpid != pid {
			continue
		}
		switch {
		case ws.Exited():
			return ws.ExitStatus()
		case ws.Signaled():
			return 128 + int(ws.Signal())
		}
	}
}

// ttyCopy connects a container's pty master to the caller's stdio.
type ttyCopy struct {
	master  *os.File
	in, out *os.File
	saved   *unix.Termios
	outDone chan struct{}
}

func newTTYCopy(master, in, out *os.File) *ttyCopy {
	t := &ttyCopy{master: master, in: in, out: out, outDone: make(chan struct{})}
	if st, err := unix.IoctlGetTermios(int(in.Fd()), unix.TCGETS); err == nil {
		t.saved = st
		raw := *st
		makeRaw(&raw)
		unix.IoctlSetTermios(int(in.Fd()), unix.TCSETS, &raw)
		t.resize()
	}
	go func() {
		io.Copy(master, in)
	}()
	go func() {
		io.Copy(out, master) // ends with EIO once the program's side closes
		close(t.outDone)
	}()
	return t
}

func (t *ttyCopy) resize() {
	ws, err := unix.IoctlGetWinsize(int(t.in.Fd()), unix.TIOCGWINSZ)
	if err == nil {
		unix.IoctlSetWinsize(int(t.master.Fd()), unix.TIOCSWINSZ, ws)
	}
}

// finish drains the program's output, closes the master and restores the
// caller's terminal.
func (t *ttyCopy) finish() {
	<-t.outDone
	t.close()
}

func (t *ttyCopy) close() {
	t.master.Close()
	if t.saved != nil {
		unix.IoctlSetTermios(int(t.in.Fd()), unix.TCSETS, t.saved)
	}
}

// pipeRelay is the stdio of a process the runtime waits for in the
// foreground without a terminal, as with runc (setupProcessPipes): three
// pipes the runtime copies from the caller's stdin and to its stdout and
// stderr. The process so neither holds the caller's files nor, as its
// stdio goes to its user (fixStdioOwner), changes their owner: the
// caller's terminal stays the caller's. Copying starts at once, so
// output written before start (createContainer hooks) cannot fill a pipe.
type pipeRelay struct {
	child  [3]*os.File // the process's ends: stdin, stdout, stderr
	parent [3]*os.File // the runtime's
	out    sync.WaitGroup
}

// newPipeRelay makes the pipes, owned by uid:gid (the container's root
// on the host, so the process can give them to its user), and starts
// copying between them and in, out and errOut.
func newPipeRelay(uid, gid int, in, out, errOut *os.File) (*pipeRelay, error) {
	p := &pipeRelay{}
	for i := range 3 {
		r, w, err := os.Pipe()
		if err != nil {
			p.closeAll()
			return nil, err
		}
		if i == 0 {
			p.child[i], p.parent[i] = r, w
		} else {
			p.child[i], p.parent[i] = w, r
		}
		// Best effort, as a rootless runtime may not give its pipes away.
		p.child[i].Chown(uid, gid)
	}
	go func() {
		io.Copy(p.parent[0], in)
		p.parent[0].Close() // EOF for the process
	}()
	for i, w := range []*os.File{out, errOut} {
		p.out.Add(1)
		go func() {
			defer p.out.Done()
			io.Copy(w, p.parent[i+1])
			p.parent[i+1].Close()
		}()
	}
	return p, nil
}

// closeChild closes the process's ends in the runtime, once the process
// has them.
func (p *pipeRelay) closeChild() {
	for _, f := range p.child {
		if f != nil {
			f.Close()
		}
	}
}

func (p *pipeRelay) closeAll() {
	p.closeChild()
	for _, f := range p.parent {
		if f != nil {
			f.Close()
		}
	}
}

// finish waits until the process's side of stdout and stderr is closed
// (it and whatever inherited them exited) and all its output is copied.
func (p *pipeRelay) finish() {
	p.closeChild()
	p.out.Wait()
}
