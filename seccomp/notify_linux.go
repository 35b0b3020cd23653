package seccomp

import (
	"encoding/json"
	"fmt"
	"net"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// SendNotifyFd connects to the seccomp agent at listenerPath and sends it
// state as JSON with fd attached by SCM_RIGHTS, in one sendmsg(2), then
// closes the connection (config-linux.md "Seccomp" listenerPath and "The
// Container Process State"). state.Fds is set to ["seccompFd"].
func SendNotifyFd(listenerPath string, state specs.ContainerProcessState, fd int) error {
	state.Fds = []string{specs.SeccompFdName}
	if state.Version == "" {
		state.Version = specs.Version
	}
	data, err := json.Marshal(state)
	if err != nil {
		return fmt.Errorf("seccomp: encode container process state: %w", err)
	}
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: listenerPath, Net: "unix"})
	if err != nil {
		return fmt.Errorf("seccomp: connect to listener %s: %w", listenerPath, err)
	}
	defer conn.Close()
	n, oobn, err := conn.WriteMsgUnix(data, unix.UnixRights(fd), nil)
	if err != nil {
		return fmt.Errorf("seccomp: send to listener %s: %w", listenerPath, err)
	}
	if n != len(data) || oobn == 0 {
		return fmt.Errorf("seccomp: send to listener %s: short write", listenerPath)
	}
	return nil
}
