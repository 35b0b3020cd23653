package runtime

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

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
	msgOK      = "ok"      // runtime: go on
	msgAbort   = "abort"   // runtime: a hook failed, exit
	maxMsgSize = 1 << 16
)

type syncMsg struct {
	Type string `json:"type"`
	Pid  int    `json:"pid,omitempty"`
	Msg  string `json:"msg,omitempty"`
	// fd is a descriptor received with the message (-1: none).
	fd int
}

// initConfig is what the runtime sends to the init over the config pipe.
type initConfig struct {
	ID      string      `json:"id"`
	Bundle  string      `json:"bundle"`
	Spec    *specs.Spec `json:"spec"`
	NoPivot bool        `json:"noPivot,omitempty"`
	// NoMountNS: the config has no mount namespace, the init mounts in
	// the runtime's and chroots (rootfs.Options.NoMountNS).
	NoMountNS    bool   `json:"noMountNs,omitempty"`
	NoNewKeyring bool   `json:"noNewKeyring,omitempty"`
	PreserveFDs  int    `json:"preserveFds,omitempty"`
	SyncFD       int    `json:"syncFd"`
	StartFD      int    `json:"startFd"`
	ConsoleFD    int    `json:"consoleFd"`
	ConsolePath  string `json:"consolePath,omitempty"`
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
	// Seccomp is linux.seccomp compiled by the runtime (Spec carries no
	// seccomp then): the init only loads it, allocating nothing in C
	// after its rlimits (RLIMIT_AS) apply, and the compiled form is
	// cached under the root.
	Seccomp *seccomp.Program `json:"seccomp,omitempty"`
	// MountFds are the inherited descriptors of detached idmapped mounts
	// the runtime prepared, by index into Spec.Mounts (rootfs.MountFds).
	MountFds map[int]int `json:"mountFds,omitempty"`
}

func sendMsg(f *os.File, m syncMsg) error {
	data, err := json.Marshal(m)
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
	for {
		n, oobn, _, _, err = unix.Recvmsg(int(f.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
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
	m := syncMsg{fd: -1}
	if oobn > 0 {
		if cms, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && len(cms) > 0 {
			if fds, err := unix.ParseUnixRights(&cms[0]); err == nil && len(fds) > 0 {
				m.fd = fds[0]
			}
		}
	}
	if err := json.Unmarshal(buf[:n], &m); err != nil {
		if m.fd >= 0 {
			unix.Close(m.fd)
		}
		return syncMsg{}, fmt.Errorf("bad message from init: %w", err)
	}
	return m, nil
}

// sendFd sends a message with fd attached.
func sendFd(sock int, m syncMsg, fd int) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return unix.Sendmsg(sock, data, unix.UnixRights(fd), nil, 0)
}

// socketpair returns a connected SOCK_SEQPACKET pair, close-on-exec.
func socketpair() (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, os.NewSyscallError("socketpair", err)
	}
	return os.NewFile(uintptr(fds[0]), "sync"), os.NewFile(uintptr(fds[1]), "sync"), nil
}
