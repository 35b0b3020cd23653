//go:build !cgo

package userns

import (
	"os/exec"
	"runtime"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// cgoHelper: the helper is forked (userns_linux.c).
const cgoHelper = false

// helper is the process holding the new user namespace until end.
type helper struct {
	cmd *exec.Cmd
	pid int
}

// start starts the helper without cgo: this executable, executed in the
// new user namespace and traced, so that it stops at its first
// instruction after execve (PTRACE_TRACEME) and never runs. Unlike the
// forked helper it is dumpable in a namespace the caller's uid owns,
// which is why ocikit is built with cgo.
func start(uids, gids []specs.LinuxIDMapping) (*helper, error) {
	// The tracer is the thread that started the helper.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// /proc/self/exe, not os.Executable: the runtime's init runs from a
	// detached mount or a memfd, whose paths cannot be executed.
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{"ocikit-userns-helper"}
	cmd.Env = []string{}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  unix.CLONE_NEWUSER,
		UidMappings: SysProcIDMaps(uids),
		GidMappings: SysProcIDMaps(gids),
		Ptrace:      true,
		Pdeathsig:   syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &helper{cmd: cmd, pid: cmd.Process.Pid}, nil
}

// end kills the helper and reaps it.
func (h *helper) end() {
	_ = h.cmd.Process.Kill()
	_ = h.cmd.Wait()
}
