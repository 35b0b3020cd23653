package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"

	"github.com/ocikit/ocikit/cgroups"
	"github.com/ocikit/ocikit/internal/fastjson"
	"github.com/ocikit/ocikit/runtime/process"
	"github.com/ocikit/ocikit/runtime/rootfs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	// The constructor joining namespaces given by path runs before the Go
	// runtime of the init starts; its final stage sets the process's
	// attributes and executes the program.
	"github.com/ocikit/ocikit/runtime/nsenter"
)

// initFDEnv names the inherited descriptor holding the init's
// configuration; it is the only thing the init takes from its environment.
const initFDEnv = "_OCIKIT_INITFD"

func init() {
	// In the container init, keep the main goroutine on the main thread
	// (locked during package initialization): the namespaces and
	// credentials the init changes per thread are then those of the
	// thread-group leader, which /proc/<pid>/ns/* and the kernel's
	// execve(2) see.
	if os.Getenv(initFDEnv) != "" {
		goruntime.LockOSThread()
	}
}

// Init is the container init: the re-executed ocikit binary inside the
// container's namespaces. It reads its configuration from the descriptor
// named by _OCIKIT_INITFD, sets the container up, waits for start and
// executes the user's program. It returns only on failure, after reporting
// the error to the runtime; the caller then exits non-zero.
func Init() error {
	// Namespaces (the cgroup one unshared here), capabilities and
	// no_new_privs belong to a thread: everything happens on this one,
	// which also performs the execve.
	goruntime.LockOSThread()
	fd, err := strconv.Atoi(os.Getenv(initFDEnv))
	if err != nil {
		return errors.New("init: not started by ocikit create")
	}
	os.Unsetenv(initFDEnv)
	f := os.NewFile(uintptr(fd), "config")
	var cfg initConfig
	err = json.NewDecoder(f).Decode(&cfg)
	f.Close()
	if err == nil {
		err = cfg.decodeSpec()
	}
	if err != nil {
		return fmt.Errorf("init: read configuration: %w", err)
	}
	sync := os.NewFile(uintptr(cfg.SyncFD), "sync")
	err = cfg.run(sync)
	// run returns only on failure.
	sendMsg(sync, syncMsg{Type: msgError, Msg: oneLine(err.Error())})
	return err
}

// decodeSpec decodes RawSpec into Spec, with what create changes for the
// init: no linux.seccomp when it comes compiled, the socket-activation
// variables in the environment.
func (c *initConfig) decodeSpec() error {
	var spec specs.Spec
	// fastjson: encoding/json's caches for the spec's types would cost
	// the init about 2 ms (see loadSpec).
	if err := fastjson.Unmarshal(c.RawSpec, &spec); err != nil {
		return err
	}
	c.RawSpec = nil
	if spec.Linux == nil {
		spec.Linux = &specs.Linux{}
	}
	if c.Seccomp != nil {
		spec.Linux.Seccomp = nil
	}
	if n := c.ListenFDs; n > 0 && spec.Process != nil {
		// Socket activation passed on, as runc: the descriptors are the
		// process's first, for the program's sd_listen_fds(3).
		spec.Process.Env = append(spec.Process.Env, "LISTEN_FDS="+strconv.Itoa(n), "LISTEN_PID=1")
	}
	c.Spec = &spec
	return nil
}

// askMountSource asks the runtime for the source of mount i
// (rootfs.Options.OpenSource).
func askMountSource(sync *os.File, i int) (*os.File, error) {
	if err := sendMsg(sync, syncMsg{Type: msgSource, Mount: i}); err != nil {
		return nil, fmt.Errorf("ask the runtime for the source: %w", err)
	}
	m, err := recvMsg(sync)
	switch {
	case err != nil:
		return nil, fmt.Errorf("ask the runtime for the source: %w", err)
	case m.Type == msgOK && m.fd >= 0:
		return os.NewFile(uintptr(m.fd), "mount source"), nil
	case m.fd >= 0:
		unix.Close(m.fd)
	}
	if m.Msg == "" {
		m.Msg = "the runtime sent no source"
	}
	return nil, errors.New(m.Msg)
}

// step names the setup step that failed in the error the user sees.
func step(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", name, err)
}

func (c *initConfig) run(sync *os.File) error {
	spec := c.Spec
	p := spec.Process
	if _, err := unix.Setsid(); err != nil {
		return step("setsid", err)
	}
	if !c.JoinCgroup {
		// In the container's cgroup already.
		if err := c.unshareCgroupNS(); err != nil {
			return err
		}
	}
	if spec.Hostname != "" {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return step("set hostname", err)
		}
	}
	if spec.Domainname != "" {
		if err := unix.Setdomainname([]byte(spec.Domainname)); err != nil {
			return step("set domainname", err)
		}
	}
	opts := rootfs.Options{NoPivot: c.NoPivot, NoMountNS: c.NoMountNS, CgroupPaths: c.CgroupPaths, UserNS: c.UserNS}
	if c.MountSources {
		opts.OpenSource = func(i int) (*os.File, error) { return askMountSource(sync, i) }
	}
	joined := false
	if c.JoinCgroup && c.NewCgroupNS && cgroups.HostMode() == cgroups.Unified {
		// A cgroup mount is then a new cgroup2 mount rooted at the cgroup
		// namespace: join the cgroup and unshare the namespace right
		// before it (the mounts before it are charged to the caller).
		opts.BeforeCgroupMount = func() error {
			if err := c.joinCgroupNow(sync); err != nil {
				return err
			}
			joined = true
			return c.unshareCgroupNS()
		}
	}
	if err := rootfs.Prepare(spec, c.Bundle, opts); err != nil {
		return step("prepare rootfs", err)
	}
	// The terminal once the container's devpts is mounted, before Finish
	// may make /dev read-only.
	if p != nil && p.Terminal {
		if err := c.setupTerminal(sync); err != nil {
			return step("console", err)
		}
	}
	if c.JoinCgroup && !joined {
		// The move waits for an RCU grace period on cgroup v1: ask now,
		// wait for it below, after the rest of the root filesystem.
		if err := sendMsg(sync, syncMsg{Type: msgCgroup}); err != nil {
			return step("sync", err)
		}
	}
	// prestart and createRuntime hooks run in the runtime namespace, by
	// the runtime, now that the mount namespace is set up and before
	// pivot_root (config.md "CreateRuntime Hooks").
	if c.RuntimeHooks {
		if err := sendMsg(sync, syncMsg{Type: msgHooks}); err != nil {
			return step("sync", err)
		}
		m, err := recvMsg(sync)
		if err != nil || m.Type != msgOK {
			// The runtime reports the hook's error itself.
			os.Exit(1)
		}
	}
	if spec.Hooks != nil && len(spec.Hooks.CreateContainer) > 0 {
		st := c.hookState(specs.StateCreating)
		var env []string
		if p != nil {
			env = process.MergeEnv(p.Env)
		}
		if err := runHooks(context.Background(), "createContainer", spec.Hooks.CreateContainer, st, env); err != nil {
			return err
		}
	}
	// Sysctls before Finish makes /proc/sys read-only (readonlyPaths),
	// through the runtime's /proc still visible here: the namespaced
	// sysctls act on the caller's namespaces, which are the container's.
	if spec.Linux != nil && len(spec.Linux.Sysctl) > 0 {
		if err := process.WriteSysctls(spec.Linux.Sysctl); err != nil {
			return step("sysctl", err)
		}
	}
	if err := rootfs.Finish(spec, opts); err != nil {
		return step("finish rootfs", err)
	}
	if !c.NoNewKeyring {
		// A session keyring of its own, so the container cannot read the
		// caller's keys (as runc does unless --no-new-keyring).
		if _, err := unix.KeyctlJoinSessionKeyring(c.ID); err != nil && !errors.Is(err, unix.ENOSYS) {
			return step("join session keyring", err)
		}
	}
	if c.JoinCgroup && !joined {
		if m, err := recvMsg(sync); err != nil || m.Type != msgOK {
			os.Exit(1) // the runtime reports the error
		}
		if err := c.unshareCgroupNS(); err != nil {
			return err
		}
	}
	if p == nil {
		// Nothing to run: start MUST fail (runtime.md "Start").
		conn := c.waitStart(sync)
		unix.Write(conn, []byte("config.json: process is not set: nothing to start"))
		os.Exit(1)
	}
	var personality *specs.LinuxPersonality
	var memPolicy *specs.LinuxMemoryPolicy
	if spec.Linux != nil {
		personality, memPolicy = spec.Linux.Personality, spec.Linux.MemoryPolicy
	}
	// Everything but stdio and the preserved descriptors is closed by the
	// execve, including the start connection (accepted close-on-exec): start
	// sees EOF and knows the exec happened. Before the final stage, which
	// may load the container's seccomp filter (without noNewPrivileges), and
	// a filter may refuse close_range(2) and the statx(2) of the procfs
	// fallback (runtime-tools' default profile does).
	if err := closeOnExecFrom(3 + c.PreserveFDs); err != nil {
		return step("close descriptors", err)
	}
	// HOME from the container's /etc/passwd, read while the process is
	// still root, as runc does; the startContainer hooks get the same
	// environment as the program.
	p.Env = process.Environ(p.Env, func() string { return process.HomeDir("/etc/passwd", p.User.UID) })
	fin, err := process.Final(p, p.Env, personality, memPolicy, process.WithLogger(syncLogger(sync)))
	if err != nil {
		return err
	}
	if c.Seccomp != nil {
		fin.Seccomp, fin.SeccompFlags = c.Seccomp.BPF, uint32(c.Seccomp.Flags)
	}
	// CloseFrom stays unset: the Go runtime's own descriptors (its
	// epoll instance) must stay open while its threads run; the
	// execve closes them (closeOnExecFrom above).
	// The process's attributes on this (locked) thread, in C, which also
	// resolves the program (nsenter.FinalSetup; a failure ends the init
	// after reporting it over sync).
	nsenter.FinalSetup(fin, int(sync.Fd()))
	conn := c.waitStart(sync)
	if spec.Hooks != nil && len(spec.Hooks.StartContainer) > 0 {
		st := c.hookState(specs.StateCreated)
		if err := runHooks(context.Background(), "startContainer", spec.Hooks.StartContainer, st, p.Env); err != nil {
			unix.Write(conn, []byte(oneLine(err.Error())))
			os.Exit(1)
		}
	}
	// The address-space rlimits, a no_new_privs seccomp filter and the
	// execve; a failure goes to start over conn.
	nsenter.FinalExec(conn)
	return nil
}

// joinCgroupNow asks the runtime to move this process into the
// container's cgroup and waits until it has.
func (c *initConfig) joinCgroupNow(sync *os.File) error {
	if err := sendMsg(sync, syncMsg{Type: msgCgroup}); err != nil {
		return step("sync", err)
	}
	if m, err := recvMsg(sync); err != nil || m.Type != msgOK {
		os.Exit(1) // the runtime reports the error
	}
	return nil
}

// unshareCgroupNS gives the container a cgroup namespace of its own when
// the configuration asks for one; the init is in its cgroup, which becomes
// the namespace's root.
func (c *initConfig) unshareCgroupNS() error {
	if !c.NewCgroupNS {
		return nil
	}
	return step("unshare cgroup namespace", unix.Unshare(unix.CLONE_NEWCGROUP))
}

// waitStart tells the runtime the container is created and waits for
// start: accept(2) on the socket in the state directory. It returns the
// connection to `start`; without one (the runtime is gone) the init exits.
func (c *initConfig) waitStart(sync *os.File) int {
	if err := sendMsg(sync, syncMsg{Type: msgReady}); err != nil {
		os.Exit(1)
	}
	sync.Close()
	for {
		conn, _, err := unix.Accept4(c.StartFD, unix.SOCK_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			os.Exit(1)
		}
		unix.Close(c.StartFD)
		return conn
	}
}

func (c *initConfig) hookState(status specs.ContainerState) *specs.State {
	return &specs.State{
		Version:     specs.Version,
		ID:          c.ID,
		Status:      status,
		Pid:         os.Getpid(),
		Bundle:      c.Bundle,
		Annotations: c.Spec.Annotations,
	}
}

// closeOnExecFrom marks every descriptor from lowfd on close-on-exec.
func closeOnExecFrom(lowfd int) error {
	if unix.CloseRange(uint(lowfd), ^uint(0), unix.CLOSE_RANGE_CLOEXEC) == nil {
		return nil
	}
	// Kernels before 5.11, or a seccomp profile (loaded already without
	// noNewPrivileges) that predates close_range(2). The list comes from
	// a verified procfs: the container's /proc/self/fd could hide some.
	fds, err := process.OpenDescriptors()
	if err != nil {
		return err
	}
	for _, fd := range fds {
		if fd >= lowfd {
			unix.CloseOnExec(fd)
		}
	}
	return nil
}
