// Command consock is the console socket of the VM's terminal checks
// (test/vm/criu-checks.sh): it listens on a unix socket, takes the pty
// master each connection sends (runtime.md's --console-socket protocol, one
// SCM_RIGHTS descriptor), and appends what every master it received
// reads to a file, until killed.
//
// Usage: consock SOCKET OUTPUT
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: consock SOCKET OUTPUT")
		os.Exit(2)
	}
	out, err := os.OpenFile(os.Args[2], os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "consock:", err)
		os.Exit(1)
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: os.Args[1], Net: "unix"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "consock:", err)
		os.Exit(1)
	}
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			fmt.Fprintln(os.Stderr, "consock:", err)
			os.Exit(1)
		}
		master, err := recvFd(c)
		c.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, "consock:", err)
			continue
		}
		go io.Copy(out, master)
	}
}

func recvFd(c *net.UnixConn) (*os.File, error) {
	buf := make([]byte, 4096)
	oob := make([]byte, syscall.CmsgSpace(4))
	_, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, err
	}
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) == 0 {
		return nil, fmt.Errorf("no descriptor received (%v)", err)
	}
	fds, err := syscall.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) == 0 {
		return nil, fmt.Errorf("no descriptor received (%v)", err)
	}
	return os.NewFile(uintptr(fds[0]), "pty-master"), nil
}
