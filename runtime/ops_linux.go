package runtime

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/ocikit/ocikit/cgroups"
	"github.com/ocikit/ocikit/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// State returns the state of a container (runtime.md "Query State"). It
// takes no lock: state.json is replaced atomically.
func (r *Runtime) State(ctx context.Context, id string) (*State, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	rec, err := readState(r.dir(id), id)
	if err != nil {
		return nil, err
	}
	rec.refresh()
	return publicState(rec), nil
}

func publicState(rec *record) *State {
	st := rec.State
	if st.Status == specs.StateStopped {
		st.Pid = 0
	}
	return &st
}

// livePids counts the processes of pids that are neither gone nor
// zombies (a zombie holds its cgroup until its parent reaps it, but is
// dead: Destroy waits for that).
func livePids(pids []int) int {
	n := 0
	for _, p := range pids {
		if _, st, err := procStat(p); err == nil && st != 'Z' && st != 'X' {
			n++
		}
	}
	return n
}

// List returns the state of every container under the root, by id. As
// with runc, Owner is the name of the user owning the container's state
// directory ("#UID" without one), where State leaves it empty.
func (r *Runtime) List(ctx context.Context) ([]State, error) {
	ents, err := os.ReadDir(r.root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	var out []State
	for _, e := range ents {
		if !e.IsDir() || checkID(e.Name()) != nil {
			continue
		}
		rec, err := readState(r.dir(e.Name()), e.Name())
		if err != nil {
			continue // being created or deleted
		}
		rec.refresh()
		st := publicState(rec)
		if info, err := e.Info(); err == nil {
			if sys, ok := info.Sys().(*syscall.Stat_t); ok {
				st.Owner = userName(sys.Uid)
			}
		}
		out = append(out, *st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Start runs the user's program in a created container (runtime.md
// "Start"): startContainer hooks in the container, then the program, then
// poststart hooks here. A failing hook stops and destroys the container.
func (r *Runtime) Start(ctx context.Context, id string) error {
	l, rec, err := r.lockState(id)
	if err != nil {
		return err
	}
	defer l.unlock()
	if rec.State.Status != specs.StateCreated {
		return errorf(ErrWrongState, "container %q is %s, not created", id, rec.State.Status)
	}
	if err := r.startInit(l, rec); err != nil {
		// A failing startContainer hook stops and destroys the container
		// (runtime.md "Lifecycle" step 7); a failed exec leaves it
		// stopped, for delete.
		if strings.HasPrefix(err.Error(), "startContainer hook") {
			r.destroy(ctx, l.path, rec)
		}
		return err
	}
	rec.State.Status = specs.StateRunning
	if err := writeState(l.path, rec); err != nil {
		return err
	}
	if !rec.Hooks {
		return nil
	}
	spec, err := rec.loadSpec(l.path)
	if err != nil {
		return err
	}
	if h := spec.Hooks; h != nil && len(h.Poststart) > 0 {
		st := rec.State.State
		if err := runHooks(ctx, "poststart", h.Poststart, &st, os.Environ()); err != nil {
			// runtime.md "Lifecycle" step 9: stop, destroy, poststop.
			r.destroy(ctx, l.path, rec)
			return err
		}
	}
	return nil
}

// startInit wakes the waiting init and waits for its execve: the init
// closes the connection by exec (close-on-exec) or writes the error. A
// seccomp notify descriptor loaded just before the exec arrives first.
func (r *Runtime) startInit(l *lockedDir, rec *record) error {
	dir := l.path
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	f := os.NewFile(uintptr(fd), "start")
	defer f.Close()
	sock := filepath.Join(dir, startSock)
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: sockPath(l.f)}); err != nil {
		return fmt.Errorf("wake init: %w", &os.PathError{Op: "connect", Path: sock, Err: err})
	}
	os.Remove(sock)
	for {
		buf := make([]byte, 4096)
		oob := make([]byte, unix.CmsgSpace(4))
		n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("wait for exec: %w", os.NewSyscallError("recvmsg", err))
		}
		if n == 0 {
			return nil
		}
		if oobn > 0 {
			cms, perr := unix.ParseSocketControlMessage(oob[:oobn])
			if perr == nil && len(cms) > 0 {
				if fds, perr := unix.ParseUnixRights(&cms[0]); perr == nil && len(fds) > 0 {
					st := rec.State.State
					st.Status = specs.StateCreated
					spec, err := rec.loadSpec(dir)
					if err == nil {
						err = r.sendSeccomp(spec, st, fds[0])
					} else {
						unix.Close(fds[0])
					}
					if err != nil {
						unix.Kill(rec.State.Pid, unix.SIGKILL)
						return err
					}
					continue
				}
			}
		}
		return errors.New(string(buf[:n]))
	}
}

// sendSeccomp hands a seccomp notify descriptor to the agent listening at
// linux.seccomp.listenerPath and closes our copy.
func (r *Runtime) sendSeccomp(spec *specs.Spec, st specs.State, fd int) error {
	defer unix.Close(fd)
	sc := spec.Linux.Seccomp
	if sc == nil || sc.ListenerPath == "" {
		return errors.New("seccomp: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath")
	}
	ps := specs.ContainerProcessState{Version: specs.Version, Pid: st.Pid, Metadata: sc.ListenerMetadata, State: st}
	return seccomp.SendNotifyFd(sc.ListenerPath, ps, fd)
}

// Kill sends sig to the container's init, or with all to every process of
// its cgroup (runtime.md "Kill": only a created or running container).
// Signal 0 sends nothing: it succeeds while the init lives, a liveness
// probe as with runc. Signalling a stopped container fails with an
// ErrWrongState error saying "container not running" (containerd's shim
// matches those words to treat the process as gone), except with all,
// which signals what is left in the cgroup and succeeds, as runc does.
func (r *Runtime) Kill(ctx context.Context, id string, sig syscall.Signal, all bool) error {
	l, rec, err := r.lockState(id)
	if err != nil {
		return err
	}
	defer l.unlock()
	switch rec.State.Status {
	case specs.StateCreated, specs.StateRunning, StatePaused:
	case specs.StateStopped:
		if all {
			return r.signalLeft(rec, sig)
		}
		return notRunning(id)
	default:
		return errorf(ErrWrongState, "container %q is %s: cannot signal it", id, rec.State.Status)
	}
	if all {
		err = r.signalAll(rec, sig)
	} else {
		err = signalInit(rec, sig)
	}
	thawKilled(rec, sig)
	return err
}

// notRunning is the error of signalling a stopped container. Its text
// holds runc's "container not running", which callers match.
func notRunning(id string) error {
	return errorf(ErrWrongState, "container %q is stopped: container not running", id)
}

// signalLeft is kill --all of a stopped container: processes outside the
// container's pid namespace may outlive its init; without a cgroup there
// is nothing left to signal.
func (r *Runtime) signalLeft(rec *record, sig unix.Signal) error {
	if rec.Cgroup == nil {
		return nil
	}
	m, err := cgroups.Load(*rec.Cgroup)
	if err != nil || !m.Exists() {
		return nil
	}
	pids, err := m.Pids()
	if err != nil {
		return fmt.Errorf("signal container: %w", err)
	}
	for _, p := range pids {
		unix.Kill(p, sig)
	}
	return nil
}

func signalInit(rec *record, sig unix.Signal) error {
	p, err := openPid(rec.State.Pid, rec.InitStart)
	if err == nil {
		defer p.close()
		err = p.signal(sig)
	}
	switch {
	case errors.Is(err, unix.ESRCH):
		return notRunning(rec.State.ID)
	case err != nil:
		return fmt.Errorf("signal container: %w", err)
	}
	return nil
}

func (r *Runtime) signalAll(rec *record, sig unix.Signal) error {
	if rec.Cgroup == nil {
		return signalInit(rec, sig)
	}
	m, err := cgroups.Load(*rec.Cgroup)
	if err != nil {
		return fmt.Errorf("signal container: %w", err)
	}
	if rec.Cgroup.Rootless && !m.Exists() {
		// A rootless container without a cgroup of its own (none could
		// be created): its init is all we know, as with runc.
		return signalInit(rec, sig)
	}
	// Freeze so no process forks between listing and signalling.
	frozen := sig == unix.SIGKILL && m.Freeze() == nil
	pids, err := m.Pids()
	if err != nil {
		if frozen {
			m.Thaw()
		}
		return fmt.Errorf("signal container: %w", err)
	}
	for _, p := range pids {
		unix.Kill(p, sig)
	}
	if frozen {
		m.Thaw()
	}
	return nil
}

// Delete deletes a stopped container (runtime.md "Delete"), or with force
// a container in any state, also one whose create was killed halfway:
// its processes are killed first.
func (r *Runtime) Delete(ctx context.Context, id string, force bool) error {
	l, rec, err := r.lockState(id)
	if errors.Is(err, ErrNotFound) && force {
		return r.removeRemains(id)
	}
	if err != nil {
		return err
	}
	defer l.unlock()
	if rec.State.Status != specs.StateStopped && !force {
		return errorf(ErrWrongState, "container %q is %s, not stopped: kill it first or use --force", id, rec.State.Status)
	}
	if rec.State.Status == StatePaused {
		// destroy waits for the init's death, which a cgroup v1 freezer
		// holds back until the thaw.
		signalInit(rec, unix.SIGKILL)
		thawKilled(rec, unix.SIGKILL)
	}
	return r.destroy(ctx, l.path, rec)
}

// destroy kills what is left of the container, removes its cgroup and
// state directory and runs the poststop hooks (warnings only).
func (r *Runtime) destroy(ctx context.Context, dir string, rec *record) error {
	if rec.State.Pid > 0 {
		if err := killWait(rec.State.Pid, rec.InitStart); err != nil {
			return fmt.Errorf("delete: %w", err)
		}
	}
	if rec.Cgroup != nil {
		m, err := cgroups.Load(*rec.Cgroup)
		if err == nil {
			shared := false
			if pids, perr := m.Pids(); perr == nil && len(pids) > 0 {
				if rec.OwnPidNS && rec.State.Pid > 0 && livePids(pids) > 0 {
					// The init's death took its whole pid namespace with it
					// (the kernel waits for them before the init exits):
					// what is left belongs to another container sharing the
					// cgroupsPath (config-linux.md "Cgroups path": the same
					// value attaches to the same place). Not ours to kill;
					// the last one out removes the cgroup.
					shared = true
					r.log.Debug("cgroup shared with other processes: left in place", "container", rec.State.ID)
				} else {
					// Without a pid namespace of its own (or with the init
					// unknown) the container's processes survive the init.
					r.signalAll(rec, unix.SIGKILL)
					for _, p := range pids {
						killWait(p, 0)
					}
				}
			}
			if !shared {
				err = m.Destroy()
			}
		}
		if err != nil {
			return fmt.Errorf("delete: remove cgroup: %w", err)
		}
	}
	// Processes are gone: nothing holds the mounts any more.
	if err := rec.HostMounts.unmount(); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	// The copy of the configuration goes with the directory: read it
	// first for the poststop hooks.
	var spec *specs.Spec
	var specErr error
	if rec.Hooks {
		spec, specErr = rec.loadSpec(dir)
	}
	if rec.State.Annotations[AnnotationRemoveBundle] == "true" && rec.State.Bundle != "" {
		// Before the state: a delete cut short here is retried by the
		// next delete, which finds the bundle gone or goes on removing it.
		if err := RemoveBundle(rec.State.Bundle); err != nil {
			r.log.Warn("remove bundle", "container", rec.State.ID, "bundle", rec.State.Bundle, "error", err)
		}
	}
	if err := removeStateDir(dir); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if !rec.Hooks {
		return nil
	}
	if specErr != nil {
		r.log.Warn("poststop hooks skipped", "container", rec.State.ID, "error", specErr)
		return nil
	}
	if h := spec.Hooks; h != nil && len(h.Poststop) > 0 {
		st := rec.State.State
		st.Status = specs.StateStopped
		st.Pid = 0
		if err := runHooks(ctx, "poststop", h.Poststop, &st, os.Environ()); err != nil {
			r.log.Warn("poststop hook failed", "container", rec.State.ID, "error", err)
		}
	}
	return nil
}

// userName is the name of the host user uid, or "#uid" when it has none.
func userName(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil {
		return u.Username
	}
	return "#" + id
}

// RemoveBundle removes a bundle directory whose configuration asked for it
// (AnnotationRemoveBundle); directories without write or search permission
// (overlayfs's work/work, an image's mode 0 ones) are opened up first.
func RemoveBundle(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}
