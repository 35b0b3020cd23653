package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"

	"github.com/ocikit/ocikit/internal/fastjson"
	"github.com/ocikit/ocikit/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Message types on the sync socket between the runtime and the init. The
// socket is SOCK_SEQPACKET: one JSON message per packet.
const (
	msgMaps    = "maps"    // init (nsenter): write the maps of a new user namespace
	msgPid     = "pid"     // init (nsenter): the pid of the forked container init
	msgError   = "error"   // init: setup failed; Msg is one line
	msgHooks   = "hooks"   // init: run prestart and createRuntime hooks now
	msgReady   = "ready"   // init: set up, waiting for start
	msgSeccomp = "seccomp" // init: the seccomp notify fd rides along (SCM_RIGHTS)
	msgWarn    = "warn"    // init: a warning for the runtime's log (Msg, Attrs); no reply
	msgSource  = "source"  // init: open the source of Mount (runtime: ok with the fd, or error)
	msgConsole = "console" // init: the terminal's pty master rides along (SCM_RIGHTS)
	msgOK      = "ok"      // runtime: go on
	msgAbort   = "abort"   // runtime: a hook failed, exit
	maxMsgSize = 1 << 16
)

type syncMsg struct {
	Type string `json:"type"`
	Pid  int    `json:"pid,omitempty"`
	Msg  string `json:"msg,omitempty"`
	// Attrs are a warning's keys and values, in pairs.
	Attrs []string `json:"attrs,omitempty"`
	// Mount is the index into spec.mounts of a msgSource request.
	Mount int `json:"mount,omitempty"`
	// fd is a descriptor received with the message (-1: none).
	fd int
}

// initConfig is what the runtime sends to the init over the config pipe.
type initConfig struct {
	ID     string `json:"id"`
	Bundle string `json:"bundle"`
	// RawSpec is the container's config.json as create read it, passed
	// on as it is: encoding the spec again would cost the runtime every
	// reflection cache of encoding/json for the spec's types. The init
	// decodes it into Spec and applies Seccomp and ListenFDs itself
	// (decodeSpec).
	RawSpec json.RawMessage `json:"spec"`
	Spec    *specs.Spec     `json:"-"`
	NoPivot bool            `json:"noPivot,omitempty"`
	// ListenFDs is the number of socket-activation descriptors passed on
	// (CreateOptions.ListenFDs): LISTEN_FDS and LISTEN_PID join the
	// process's environment.
	ListenFDs int `json:"listenFds,omitempty"`
	// NoMountNS: the config has no mount namespace, the init mounts in
	// the runtime's and chroots (rootfs.Options.NoMountNS).
	NoMountNS    bool `json:"noMountNs,omitempty"`
	NoNewKeyring bool `json:"noNewKeyring,omitempty"`
	PreserveFDs  int  `json:"preserveFds,omitempty"`
	SyncFD       int  `json:"syncFd"`
	StartFD      int  `json:"startFd"`
	// RuntimeHooks tells the init to stop for prestart and createRuntime
	// hooks; without them it saves the round trip.
	RuntimeHooks bool `json:"runtimeHooks,omitempty"`
	// NewCgroupNS asks the init to unshare the cgroup namespace once it is
	// in its cgroup, so the container sees its own cgroup as the root.
	NewCgroupNS bool `json:"newCgroupNs,omitempty"`
	// JoinCgroup: the init is not in the container's cgroup yet (which
	// exists, with its limits set) and asks the runtime to move it there
	// (msgCgroup) once the root filesystem is prepared, so that what the
	// Go init itself allocates stays charged to the caller's cgroup.
	JoinCgroup bool `json:"joinCgroup,omitempty"`
	// UserNS tells rootfs the init is in a user namespace.
	UserNS bool `json:"userNs,omitempty"`
	// CgroupPaths are the container's cgroup directories, for mounts of
	// type cgroup.
	CgroupPaths map[string]string `json:"cgroupPaths,omitempty"`
	// Seccomp is linux.seccomp compiled by the runtime (the init drops
	// linux.seccomp from Spec then): the init only loads it, allocating nothing in C
	// after its rlimits (RLIMIT_AS) apply, and the compiled form is
	// cached under the root.
	Seccomp *seccomp.Program `json:"seccomp,omitempty"`
	// MountSources: the init asks the runtime (msgSource) for the bind
	// sources it cannot reach and the idmapped mounts it cannot make in
	// its user namespace (rootfs.Options.OpenSource).
	MountSources bool `json:"mountSources,omitempty"`
}

func sendMsg(f *os.File, m syncMsg) error {
	data, err := fastjson.Marshal(m)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return err
}

// recvMsg reads one message and the descriptor it may carry; io.EOF when
// the peer closed its end.
func recvMsg(f *os.File) (syncMsg, error) {
	buf := make([]byte, maxMsgSize)
	oob := make([]byte, unix.CmsgSpace(4))
	var n, oobn int
	var err error
	reset := false
	for {
		n, oobn, _, _, err = unix.Recvmsg(int(f.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		// A peer that exits with a message of ours still unread in its
		// queue (an answer it never waited for, because it failed first)
		// leaves ECONNRESET on our socket, which a sleeping recvmsg(2)
		// reports before the messages it queued before exiting (its
		// error among them): reading once more returns those, or EOF.
		if err == unix.ECONNRESET && !reset {
			reset = true
			continue
		}
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return syncMsg{}, os.NewSyscallError("recvmsg", err)
	}
	if n == 0 {
		return syncMsg{}, io.EOF
	}
	fd := -1
	if oobn > 0 {
		if cms, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && len(cms) > 0 {
			if fds, err := unix.ParseUnixRights(&cms[0]); err == nil && len(fds) > 0 {
				fd = fds[0]
			}
		}
	}
	var m syncMsg
	if err := fastjson.Unmarshal(buf[:n], &m); err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		return syncMsg{}, fmt.Errorf("bad message from init: %w", err)
	}
	m.fd = fd
	return m, nil
}

// sendFd sends a message with fd attached.
func sendFd(sock int, m syncMsg, fd int) error {
	data, err := fastjson.Marshal(m)
	if err != nil {
		return err
	}
	return unix.Sendmsg(sock, data, unix.UnixRights(fd), nil, 0)
}

// syncLogger returns the logger of an init or exec'd process: each warning
// goes to the runtime over sync (msgWarn), which writes it to its own log
// (logWarning). The process has no log of its own, and what it warns about
// (config.md "capabilities": one it cannot grant) must reach --log, as
// runc's init sends its log lines to runc.
func syncLogger(sync *os.File) *slog.Logger { return slog.New(&syncHandler{f: sync}) }

type syncHandler struct {
	f     *os.File
	attrs []string
}

func (h *syncHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h *syncHandler) Handle(_ context.Context, r slog.Record) error {
	attrs := slices.Clone(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, a.Key, a.Value.String())
		return true
	})
	return sendMsg(h.f, syncMsg{Type: msgWarn, Msg: r.Message, Attrs: attrs})
}

func (h *syncHandler) WithAttrs(as []slog.Attr) slog.Handler {
	attrs := slices.Clone(h.attrs)
	for _, a := range as {
		attrs = append(attrs, a.Key, a.Value.String())
	}
	return &syncHandler{f: h.f, attrs: attrs}
}

func (h *syncHandler) WithGroup(string) slog.Handler { return h }

// logWarning writes a warning a container's process sent (msgWarn).
func logWarning(log *slog.Logger, id string, m syncMsg) {
	args := []any{"container", id}
	for i := 0; i+1 < len(m.Attrs); i += 2 {
		args = append(args, m.Attrs[i], m.Attrs[i+1])
	}
	log.Warn(m.Msg, args...)
}

// socketpair returns a connected SOCK_SEQPACKET pair, close-on-exec.
func socketpair() (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, os.NewSyscallError("socketpair", err)
	}
	return os.NewFile(uintptr(fds[0]), "sync"), os.NewFile(uintptr(fds[1]), "sync"), nil
}
