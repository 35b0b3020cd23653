package rootfs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"
	"github.com/ocikit/ocikit/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The tests run Prepare and Finish in a child process (this test binary
// re-executed) in new mount and PID namespaces: the namespaces, and with
// them every mount made, die with the child. The child reports what it sees
// as JSON on stdout.

const childEnv = "OCIKIT_ROOTFS_TEST_CHILD"

func TestMain(m *testing.M) {
	if p := os.Getenv(childEnv); p != "" {
		os.Exit(childMain(p))
	}
	os.Exit(m.Run())
}

// childConfig is what the child does.
type childConfig struct {
	Spec    *specs.Spec
	Bundle  string
	NoPivot bool
	// Console is the path of a pty slave bound on /dev/console after
	// Prepare.
	Console     string
	CgroupPaths map[string]string
	// Hierarchies is Options.Hierarchies.
	Hierarchies []Hierarchy
	// Tmpfs are host directories on which the child mounts a tmpfs before
	// Prepare (sources with submounts); Shared ones are made shared.
	Tmpfs  []string
	Shared []string
	// Flagged are host directories on which the child mounts a
	// ro,nosuid,nodev,noexec,noatime tmpfs before Prepare (bind sources
	// whose flags a bind must not carry over).
	Flagged []string
	// Locked are host directories given a nosuid,nodev tmpfs by an outer
	// child, whose flags the inner child (in a user namespace) sees locked.
	Locked []string
	// OuterShared are host directories given a shared tmpfs by an outer
	// child: the inner child's copies are their peers, so they have a
	// master once Prepare makes the tree rslave.
	OuterShared []string
	// UserNS: the outer child re-executes itself as the inner one in a new
	// user namespace (uid/gid 0-65535 mapped onto themselves) without a
	// network namespace; NoPID leaves the inner one in the outer's PID
	// namespace.
	UserNS bool
	NoPID  bool
	// OpenSources: Prepare asks OpenMountSource, in this process, for
	// the sources the runtime would open.
	OpenSources bool
	// Cgroup2: mount a cgroup2 filesystem on /sys/fs/cgroup first, so a
	// hybrid host looks like a cgroup v2 one.
	Cgroup2 bool
	// JoinCgroups: cgroup directories whose cgroup.procs the child joins;
	// CgroupNS: then it unshares a cgroup namespace (as the runtime's init
	// does).
	JoinCgroups []string
	CgroupNS    bool
	// ProbeCgroups: report ProcessCgroups of the child itself (after the
	// cgroup set-up, before Prepare).
	ProbeCgroups bool
	// ProbePropagation: after Finish, bind "/" (rec) elsewhere, then mount
	// something under "/": does it show in the copy? (as runtimetest does)
	ProbePropagation bool
	ProbeMounts      []string // tmpfs to mount after Finish (directories made)
	// RaceSwap: two host paths exchanged (renameat2 RENAME_EXCHANGE) in a
	// loop while Prepare runs: a directory and a symbolic link leading out
	// of the root.
	RaceSwap []string
	Stat     []string // paths to lstat after Finish
	Write    []string // paths to create a file at
	Read     []string // files to read
	List     []string // directories to list
}

func (c *childConfig) outer() bool {
	return c.UserNS || len(c.Locked) > 0 || len(c.OuterShared) > 0
}

type statResult struct {
	Exists bool
	Mode   uint32 // st_mode
	Major  uint32
	Minor  uint32
	UID    uint32
	GID    uint32
	Link   string
}

type childReport struct {
	Err   string // Prepare or Finish error, if any
	Nanos int64  // time Prepare and Finish took
	// ProbePropagation results: the error binding "/" ("" = none), and
	// whether a later mount under "/" showed in the bind.
	RootBindErr string
	Exposed     bool
	Swaps       int               // exchanges made by RaceSwap
	Cgroups     map[string]string // ProbeCgroups
	// Outer: the mounts the outer child sees after the inner one is done.
	Outer  []*mountinfo.Info
	Pre    []*mountinfo.Info
	Mounts []*mountinfo.Info
	Stat   map[string]statResult
	Write  map[string]string // "" or the error
	Read   map[string]string
	List   map[string][]string
}

func childMain(cfgPath string) int {
	// A cgroup namespace unshared here belongs to this thread only: stay
	// on it, as the runtime's init does.
	runtime.LockOSThread()
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var cfg childConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	rep := childReport{Stat: map[string]statResult{}, Write: map[string]string{}, Read: map[string]string{}, List: map[string][]string{}}
	if err := childRun(cfgPath, &cfg, &rep); err != nil {
		rep.Err = err.Error()
	}
	if err := json.NewEncoder(os.Stdout).Encode(&rep); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}

func childRun(cfgPath string, cfg *childConfig, rep *childReport) error {
	if os.Getenv(childEnv+"_STAGE") == "" && cfg.outer() {
		// Outer child: set up mounts, then run the inner one.
		for _, d := range cfg.Locked {
			if err := unix.Mount("tmpfs", d, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=755"); err != nil {
				return fmt.Errorf("setup: %w", err)
			}
		}
		for _, d := range cfg.OuterShared {
			if err := unix.Mount("tmpfs", d, "tmpfs", 0, "mode=755"); err != nil {
				return fmt.Errorf("setup: %w", err)
			}
			if err := unix.Mount("", d, "", unix.MS_SHARED, ""); err != nil {
				return fmt.Errorf("setup: %w", err)
			}
		}
		cmd := childCmd(cfgPath, cfg.UserNS, !cfg.NoPID)
		cmd.Env = append(cmd.Env, childEnv+"_STAGE=inner")
		var out bytes.Buffer
		cmd.Stdout = &out
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("inner child: %w", err)
		}
		if err := json.Unmarshal(out.Bytes(), rep); err != nil {
			return fmt.Errorf("inner child report: %w", err)
		}
		var err error
		rep.Outer, err = mountinfo.GetMounts(nil)
		return err
	}
	for _, d := range cfg.JoinCgroups {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte("0"), 0o644); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
	}
	if cfg.CgroupNS {
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
	}
	if cfg.Cgroup2 {
		if err := unix.Mount("cgroup2", cgroupRoot, "cgroup2", 0, ""); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
	}
	if cfg.ProbeCgroups {
		// The host's procfs: /proc/self names the child by its host pid.
		self, err := os.Readlink("/proc/self")
		if err != nil {
			return err
		}
		pid, err := strconv.Atoi(self)
		if err != nil {
			return err
		}
		if rep.Cgroups, err = ProcessCgroups(pid); err != nil {
			return err
		}
	}
	for _, d := range cfg.Tmpfs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		if err := unix.Mount("tmpfs", d, "tmpfs", 0, "mode=755"); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
	}
	for _, d := range cfg.Flagged {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		if err := unix.Mount("tmpfs", d, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|unix.MS_NOATIME, "mode=755"); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
	}
	for _, d := range cfg.Shared {
		if err := unix.Mount("", d, "", unix.MS_SHARED, ""); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
	}
	opts := Options{NoPivot: cfg.NoPivot, CgroupPaths: cfg.CgroupPaths, Hierarchies: cfg.Hierarchies,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if cfg.OpenSources {
		mntns, err := os.Open("/proc/self/ns/mnt")
		if err != nil {
			return err
		}
		defer mntns.Close()
		opts.OpenSource = func(i int) (*os.File, error) { return OpenMountSource(cfg.Spec, cfg.Bundle, i, mntns) }
	}
	if dir := os.Getenv("OCIKIT_ROOTFS_TEST_CPUPROFILE"); dir != "" {
		// Profiling the child: go test -bench PrepareFinish with this set
		// to a directory, then go tool pprof DIR/*.
		f, err := os.CreateTemp(dir, "cpu-")
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if len(cfg.RaceSwap) == 2 {
		stop := make(chan struct{})
		done := make(chan int)
		started := make(chan struct{})
		go func() {
			n := 0
			for {
				select {
				case <-stop:
					done <- n
					return
				default:
				}
				if unix.Renameat2(unix.AT_FDCWD, cfg.RaceSwap[0], unix.AT_FDCWD, cfg.RaceSwap[1], unix.RENAME_EXCHANGE) == nil {
					n++
					if n == 1 {
						close(started)
					}
				}
			}
		}()
		defer func() {
			close(stop)
			rep.Swaps = <-done
		}()
		<-started
	}
	start := time.Now()
	if err := Prepare(cfg.Spec, cfg.Bundle, opts); err != nil {
		// What was mounted before the failure, to look for escapes.
		rep.Pre, _ = mountinfo.GetMounts(nil)
		return err
	}
	if cfg.Console != "" {
		slave, err := os.OpenFile(cfg.Console, os.O_RDWR|unix.O_NOCTTY, 0)
		if err != nil {
			return err
		}
		err = BindConsole(slave)
		slave.Close()
		if err != nil {
			return err
		}
	}
	prepared := time.Since(start)
	pre, err := mountinfo.GetMounts(nil)
	if err != nil {
		return err
	}
	rep.Pre = pre
	start = time.Now()
	if err := Finish(cfg.Spec, opts); err != nil {
		return err
	}
	rep.Nanos = int64(prepared + time.Since(start))
	if rep.Mounts, err = mountinfo.GetMounts(nil); err != nil {
		return err
	}
	if cfg.ProbePropagation {
		probePropagation(rep)
	}
	for _, p := range cfg.ProbeMounts {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return fmt.Errorf("probe: %w", err)
		}
		if err := unix.Mount("tmpfs", p, "tmpfs", 0, ""); err != nil {
			return fmt.Errorf("probe: %w", err)
		}
	}
	for _, p := range cfg.Stat {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			rep.Stat[p] = statResult{}
			continue
		}
		r := statResult{Exists: true, Mode: st.Mode, Major: unix.Major(st.Rdev), Minor: unix.Minor(st.Rdev), UID: st.Uid, GID: st.Gid}
		r.Link, _ = os.Readlink(p)
		rep.Stat[p] = r
	}
	for _, p := range cfg.Write {
		rep.Write[p] = ""
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			rep.Write[p] = errText(err)
		}
	}
	for _, p := range cfg.Read {
		b, err := os.ReadFile(p)
		if err != nil {
			rep.Read[p] = "error: " + errText(err)
		} else {
			rep.Read[p] = string(b)
		}
	}
	for _, p := range cfg.List {
		ents, err := os.ReadDir(p)
		names := []string{}
		if err != nil {
			names = append(names, "error: "+errText(err))
		}
		for _, e := range ents {
			names = append(names, e.Name())
		}
		rep.List[p] = names
	}
	return nil
}

func errText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// childCmd is this test binary run as a child in new mount (and PID, and
// user) namespaces.
func childCmd(cfgPath string, userns, pidns bool) *exec.Cmd {
	cmd := exec.Command("/proc/self/exe", "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+cfgPath)
	flags := uintptr(unix.CLONE_NEWNS | unix.CLONE_NEWIPC)
	if pidns {
		flags |= unix.CLONE_NEWPID
	}
	attr := &syscall.SysProcAttr{Cloneflags: flags, Pdeathsig: syscall.SIGKILL}
	if userns {
		attr.Cloneflags |= unix.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}}
	}
	cmd.SysProcAttr = attr
	return cmd
}

// runChild runs cfg in a child and returns its report.
func runChild(t testing.TB, cfg *childConfig) *childReport {
	t.Helper()
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "child.json")
	if err := os.WriteFile(cfgPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := childCmd(cfgPath, false, !cfg.outer())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\nstderr:\n%s", err, stderr.String())
	}
	var rep childReport
	if err := json.NewDecoder(io.MultiReader(&stdout)).Decode(&rep); err != nil {
		t.Fatalf("child report: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	if testing.Verbose() && stderr.Len() > 0 {
		t.Logf("child log:\n%s", stderr.String())
	}
	return &rep
}

// newBundle makes a bundle with a busybox rootfs and returns its path.
func newBundle(t testing.TB) string {
	t.Helper()
	testutil.RequireRoot(t)
	b := t.TempDir()
	if err := os.Chmod(b, 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.BusyboxRootfs(t, filepath.Join(b, "rootfs"))
	return b
}

// mountAt returns the topmost mount at mountpoint p, or nil.
func mountAt(ms []*mountinfo.Info, p string) *mountinfo.Info {
	var top *mountinfo.Info
	for _, m := range ms {
		if m.Mountpoint == p {
			top = m
		}
	}
	return top
}

func hasOpt(opts, o string) bool {
	for _, x := range strings.Split(opts, ",") {
		if x == o {
			return true
		}
	}
	return false
}

func probePropagation(rep *childReport) {
	for _, d := range []string{"/ptarget", "/pmount", "/ptest"} {
		if err := os.Mkdir(d, 0o755); err != nil {
			rep.RootBindErr = err.Error()
			return
		}
	}
	if err := os.WriteFile("/ptest/file", nil, 0o644); err != nil {
		rep.RootBindErr = err.Error()
		return
	}
	if err := unix.Mount("/", "/ptarget", "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		rep.RootBindErr = errText(err)
		return
	}
	if err := unix.Mount("/ptest", "/pmount", "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		rep.RootBindErr = errText(err)
		return
	}
	_, err := os.Stat("/ptarget/pmount/file")
	rep.Exposed = err == nil
}
