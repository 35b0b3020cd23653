package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ocikit/ocikit/cgroups"
	"github.com/ocikit/ocikit/internal/fastjson"
	"github.com/ocikit/ocikit/internal/fsutil"
	"github.com/ocikit/ocikit/runtime/rootfs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const stateFile = "state.json"

// record is what state.json holds: the public state and what the runtime
// needs to find the container's resources again. The configuration as it
// was at create time (runtime.md: later edits of config.json MUST NOT
// affect the container) is a copy, config.json, in the same directory,
// read only by the operations that need it (hooks).
type record struct {
	State State `json:"state"`
	// InitStart is the init's start time (field 22 of /proc/<pid>/stat),
	// so a recycled pid is never mistaken for the container.
	InitStart uint64         `json:"initStart,omitempty"`
	Cgroup    *cgroups.State `json:"cgroup,omitempty"`
	// Hooks says the configuration has poststart or poststop hooks or a
	// seccomp listener: start and delete read the configuration only then.
	Hooks bool `json:"hooks,omitempty"`
	// HostMounts is set for a container without a mount namespace: its
	// mounts are in the runtime's mount table, under its root filesystem,
	// and delete unmounts them.
	HostMounts *hostMounts `json:"hostMounts,omitempty"`
	// OwnPidNS says the container has a pid namespace of its own: when
	// its init dies the kernel kills every process of the namespace, so
	// a process left in the cgroup after that is another's (containers
	// may share a cgroupsPath) and delete leaves it alone, as runc does.
	OwnPidNS bool `json:"ownPidNS,omitempty"`
	// NoNewKeyring is create's --no-new-keyring: exec'd processes keep
	// the caller's session keyring too, as with runc.
	NoNewKeyring bool `json:"noNewKeyring,omitempty"`

	spec *specs.Spec
}

// hostMounts is what delete unmounts for a container without a mount
// namespace: every mount at or under Root (symbolic links resolved) but the
// ones that were there before create (Keep, mount ids).
type hostMounts struct {
	Root string `json:"root"`
	Keep []int  `json:"keep,omitempty"`
}

// unmount removes the container's mounts from the host's mount table.
func (h *hostMounts) unmount() error {
	if h == nil {
		return nil
	}
	if err := rootfs.UnmountUnder(h.Root, h.Keep); err != nil {
		return fmt.Errorf("unmount container mounts: %w", err)
	}
	return nil
}

const configFile = "config.json"

// loadSpec returns the container's configuration from its copy in dir.
func (rec *record) loadSpec(dir string) (*specs.Spec, error) {
	if rec.spec != nil {
		return rec.spec, nil
	}
	data, err := readFile(filepath.Join(dir, configFile))
	if err != nil {
		return nil, fmt.Errorf("container %q: %w", rec.State.ID, err)
	}
	var spec specs.Spec
	if err := fastjson.Unmarshal(data, &spec); err != nil {
		return nil, fmt.Errorf("container %q: corrupt config.json copy: %w", rec.State.ID, err)
	}
	rec.spec = &spec
	return rec.spec, nil
}

func (r *Runtime) dir(id string) string { return filepath.Join(r.root, id) }

// lockedDir is a container's state directory held with an exclusive flock.
type lockedDir struct {
	path string
	f    *os.File
}

// lockState takes the container's lock (lock) and reads its state with the
// status brought up to date (refresh). The caller unlocks.
func (r *Runtime) lockState(id string) (*lockedDir, *record, error) {
	l, err := r.lock(id)
	if err != nil {
		return nil, nil, err
	}
	rec, err := readState(l.path, id)
	if err != nil {
		l.unlock()
		return nil, nil, err
	}
	rec.refresh()
	return l, rec, nil
}

// lock takes the container's lock, waiting for a concurrent operation to
// finish. It fails with ErrNotFound when the container does not exist (or
// was deleted while we waited).
func (r *Runtime) lock(id string) (*lockedDir, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	p := r.dir(id)
	f, err := openFile(p, unix.O_RDONLY|unix.O_DIRECTORY)
	if errors.Is(err, os.ErrNotExist) {
		return nil, errorf(ErrNotFound, "container %q does not exist", id)
	}
	if err != nil {
		return nil, fmt.Errorf("open state: %w", err)
	}
	if err := fsutil.Lock(context.Background(), f, true); err != nil {
		f.Close()
		return nil, err
	}
	// A delete that held the lock before us removed the directory.
	if _, err := os.Stat(filepath.Join(p, stateFile)); err != nil {
		f.Close()
		return nil, errorf(ErrNotFound, "container %q does not exist", id)
	}
	return &lockedDir{path: p, f: f}, nil
}

// removeRemains removes the state directory of a container whose create
// or delete was killed before it wrote its first state or after it
// removed its last (state.json is written before anything exists outside
// the directory and removed after everything else): nothing else of the
// container is left. It reports ErrNotFound when there is no such
// directory, or when it belongs to a create still running.
func (r *Runtime) removeRemains(id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	p := r.dir(id)
	f, err := openFile(p, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return errorf(ErrNotFound, "container %q does not exist", id)
	}
	defer f.Close()
	// A create in progress holds the lock for its whole run.
	if ok, err := fsutil.TryLock(f); !ok || err != nil {
		return errorf(ErrNotFound, "container %q does not exist", id)
	}
	var held, named unix.Stat_t
	if unix.Fstat(int(f.Fd()), &held) != nil || unix.Stat(p, &named) != nil ||
		held.Dev != named.Dev || held.Ino != named.Ino {
		return errorf(ErrNotFound, "container %q does not exist", id)
	}
	if _, err := os.Lstat(filepath.Join(p, stateFile)); err == nil {
		return errorf(ErrWrongState, "container %q: state appeared while deleting, try again", id)
	}
	r.log.Debug("removing the remains of an interrupted create or delete", "container", id)
	return removeStateDir(p)
}

// removeStateDir removes a container's state directory with state.json
// last, so that a delete killed halfway leaves either a state that names
// what is left or a directory with nothing else to clean (removeRemains).
func removeStateDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.Name() == stateFile {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
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

func (l *lockedDir) unlock() {
	if l != nil && l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// writeState replaces state.json atomically (write, fsync-free rename: the
// root is a tmpfs in practice, and a torn file is what rename prevents).
// The record is encoded and decoded (readState) with fastjson: encoding/json
// would first build its caches for the record's types, cgroups.State's
// linux.resources among them, in every command.
func writeState(dir string, rec *record) error {
	data, err := fastjson.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	return fsutil.WriteFile(filepath.Join(dir, stateFile), data, 0o600, fsutil.NoSync())
}

func readState(dir, id string) (*record, error) {
	data, err := readFile(filepath.Join(dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, errorf(ErrNotFound, "container %q does not exist", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	var rec record
	if err := fastjson.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("container %q: corrupt state.json: %w", id, err)
	}
	return &rec, nil
}

// refresh derives the current status: a container whose init has exited
// (or whose pid now names another process) is stopped.
func (rec *record) refresh() {
	switch rec.State.Status {
	case specs.StateCreating, specs.StateCreated, specs.StateRunning, StatePaused:
		if rec.State.Pid <= 0 {
			if rec.State.Status != specs.StateCreating {
				rec.State.Status = specs.StateStopped
			}
			return
		}
		if !alive(rec.State.Pid, rec.InitStart) {
			rec.State.Status = specs.StateStopped
		}
	}
}

// Alive reports whether pid is a live (not zombie) process started at
// start (a /proc/<pid>/stat start time; any when zero): a recycled pid is
// not taken for the process recorded. The VM runtime's monitor uses it too.
func Alive(pid int, start uint64) bool { return alive(pid, start) }

// StartTime is the start time of pid (field 22 of /proc/<pid>/stat), the
// identity Alive checks.
func StartTime(pid int) (uint64, error) {
	st, _, err := procStat(pid)
	return st, err
}

// alive reports whether pid is a live (not zombie) process started at
// start (when start is non-zero).
func alive(pid int, start uint64) bool {
	st, state, err := procStat(pid)
	if err != nil {
		return false
	}
	if state == 'Z' || state == 'X' {
		return false
	}
	return start == 0 || st == start
}

// procStat returns the start time and state letter of pid.
func procStat(pid int) (uint64, byte, error) {
	data, err := readFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	fields := strings.Fields(s[i+2:])
	// fields[0] is field 3 (state); start time is field 22.
	if len(fields) < 20 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	st, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	return st, fields[0][0], nil
}
