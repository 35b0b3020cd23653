package runtime

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ocikit/ocikit/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Stats returns the cgroup statistics of a container that is not stopped.
// It takes no lock, as State.
func (r *Runtime) Stats(ctx context.Context, id string) (*cgroups.Stats, error) {
	_, m, err := r.statsTarget(id)
	if err != nil {
		return nil, err
	}
	return m.Stats()
}

func (r *Runtime) statsTarget(id string) (*record, *cgroups.Manager, error) {
	if err := checkID(id); err != nil {
		return nil, nil, err
	}
	rec, err := readState(r.dir(id), id)
	if err != nil {
		return nil, nil, err
	}
	rec.refresh()
	if rec.State.Status == specs.StateStopped || rec.State.Pid <= 0 {
		return nil, nil, errorf(ErrWrongState, "container %q is %s, not running", id, rec.State.Status)
	}
	m, err := containerCgroup(rec)
	if err != nil {
		return nil, nil, err
	}
	return rec, m, nil
}

// Events reports a container's events to emit until its init exits or
// ctx ends: its statistics every interval and an "oom" event whenever the
// OOM killer acts in its memory cgroup (cgroup v1: an eventfd on
// memory.oom_control; v2: inotify on memory.events, whose oom_kill count
// grew). It sleeps in poll(2) between events. An error of emit ends it.
func (r *Runtime) Events(ctx context.Context, id string, interval time.Duration, emit func(Event) error) error {
	if interval <= 0 {
		return fmt.Errorf("events: interval %v is not positive", interval)
	}
	rec, m, err := r.statsTarget(id)
	if err != nil {
		return err
	}
	init, err := openPid(rec.State.Pid, rec.InitStart)
	if errors.Is(err, unix.ESRCH) {
		return nil // stopped since statsTarget
	}
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	defer init.close()
	// ctx's end wakes the poll through an eventfd.
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return fmt.Errorf("events: %w", os.NewSyscallError("eventfd", err))
	}
	defer unix.Close(wake)
	stop := context.AfterFunc(ctx, func() {
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		unix.Write(wake, one[:])
	})
	defer stop()

	oom, err := watchOOM(m)
	if err != nil {
		r.log.Warn("events: no oom events", "container", id, "error", err)
	}
	// Without a pidfd (Linux before 5.3) poll(2) ignores the negative
	// descriptor and the init is looked at every pidPoll instead.
	const pidPoll = 100 * time.Millisecond
	fds := []unix.PollFd{{Fd: int32(init.fd), Events: unix.POLLIN}, {Fd: int32(wake), Events: unix.POLLIN}}
	if oom != nil {
		defer oom.close()
		fds = append(fds, unix.PollFd{Fd: int32(oom.fd), Events: unix.POLLIN})
	}
	next := time.Now().Add(interval)
	for {
		wait := max(time.Until(next), 0)
		if init.fd < 0 {
			wait = min(wait, pidPoll)
		}
		// Round up: a poll that returns early would spin until next.
		ms := int((wait + time.Millisecond - 1) / time.Millisecond)
		for i := range fds {
			fds[i].Revents = 0
		}
		_, err := unix.Poll(fds, ms)
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("events: %w", os.NewSyscallError("poll", err))
		}
		if fds[1].Revents != 0 {
			return ctx.Err()
		}
		if oom != nil && fds[2].Revents != 0 {
			if oom.fired(m) {
				if err := emit(Event{Type: "oom", ID: id}); err != nil {
					return err
				}
			}
		}
		if fds[0].Revents != 0 || (init.fd < 0 && !alive(init.pid, init.start)) {
			// The init exited: the container stopped. cgroup v2 delays
			// a memory.events notification that follows another by
			// less than 10 ms (cgroup_file_notify), so the OOM kill
			// that ended the init may not have been signalled yet: its
			// count says.
			if oom != nil && oom.v2 && fds[2].Revents == 0 && oom.fired(m) {
				return emit(Event{Type: "oom", ID: id})
			}
			return nil
		}
		if now := time.Now(); !now.Before(next) {
			s, err := m.Stats()
			if err != nil {
				r.log.Warn("events: stats", "container", id, "error", err)
			} else if err := emit(Event{Type: "stats", ID: id, Data: s}); err != nil {
				return err
			}
			next = next.Add(interval)
			if next.Before(now) {
				next = now.Add(interval)
			}
		}
	}
}

// oomWatch is a descriptor that becomes readable on the memory cgroup's
// OOM notifications.
type oomWatch struct {
	fd    int
	ctlFd int    // v1: memory.oom_control, kept open for the eventfd
	dir   string // the memory cgroup
	v2    bool
	kills uint64 // v2: the last oom_kill count seen
}

func watchOOM(m *cgroups.Manager) (*oomWatch, error) {
	if cgroups.HostMode() == cgroups.Unified {
		dir := m.Path("")
		if dir == "" {
			return nil, errors.New("no cgroup v2 directory")
		}
		fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
		if err != nil {
			return nil, os.NewSyscallError("inotify_init1", err)
		}
		p := filepath.Join(dir, "memory.events")
		if _, err := unix.InotifyAddWatch(fd, p, unix.IN_MODIFY); err != nil {
			unix.Close(fd)
			return nil, &os.PathError{Op: "inotify_add_watch", Path: p, Err: err}
		}
		w := &oomWatch{fd: fd, ctlFd: -1, dir: dir, v2: true}
		w.kills, _ = m.OOMKillCount()
		return w, nil
	}
	dir := m.Path("memory")
	if dir == "" {
		return nil, errors.New("no memory cgroup")
	}
	// cgroup v1 notification API (Documentation/admin-guide/cgroup-v1/
	// memory.rst "OOM Control"): "<eventfd> <fd of memory.oom_control>"
	// written to cgroup.event_control.
	ctl := filepath.Join(dir, "memory.oom_control")
	ctlFd, err := unix.Open(ctl, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: ctl, Err: err}
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(ctlFd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	reg := strconv.Itoa(efd) + " " + strconv.Itoa(ctlFd)
	if err := os.WriteFile(filepath.Join(dir, "cgroup.event_control"), []byte(reg), 0); err != nil {
		unix.Close(efd)
		unix.Close(ctlFd)
		return nil, err
	}
	return &oomWatch{fd: efd, ctlFd: ctlFd, dir: dir}, nil
}

// fired drains the descriptor and reports whether an OOM happened (not
// the removal of the cgroup, which also signals a v1 eventfd).
func (w *oomWatch) fired(m *cgroups.Manager) bool {
	buf := make([]byte, 4096)
	for {
		if _, err := unix.Read(w.fd, buf); err != unix.EINTR {
			break
		}
	}
	if !w.v2 {
		_, err := os.Stat(filepath.Join(w.dir, "cgroup.event_control"))
		return err == nil
	}
	n, err := m.OOMKillCount()
	if err != nil || n <= w.kills {
		return false
	}
	w.kills = n
	return true
}

func (w *oomWatch) close() {
	unix.Close(w.fd)
	if w.ctlFd >= 0 {
		unix.Close(w.ctlFd)
	}
}
