package vm_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocikit/ocikit/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// consoleSocket listens at a new socket and returns a function that
// receives the pty master a runtime sends to it.
func consoleSocket(t *testing.T) (string, func() *os.File) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "console.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return path, func() *os.File {
		t.Helper()
		ln.SetDeadline(time.Now().Add(60 * time.Second))
		c, err := ln.AcceptUnix()
		if err != nil {
			t.Fatalf("console socket: %v", err)
		}
		defer c.Close()
		oob := make([]byte, unix.CmsgSpace(4))
		_, oobn, _, _, err := c.ReadMsgUnix(make([]byte, 4096), oob)
		if err != nil {
			t.Fatal(err)
		}
		cms, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(cms) != 1 {
			t.Fatalf("console socket: %v", err)
		}
		fds, err := unix.ParseUnixRights(&cms[0])
		if err != nil || len(fds) != 1 {
			t.Fatalf("console socket: %v", err)
		}
		return os.NewFile(uintptr(fds[0]), "master")
	}
}

// readUntil reads f until its content holds want (or a minute passes).
func readUntil(t *testing.T, f *os.File, want string) string {
	t.Helper()
	var got []byte
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for !strings.Contains(string(got), want) {
			n, err := f.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		f.Close()
		<-done
	}
	if !strings.Contains(string(got), want) {
		t.Fatalf("terminal output %q lacks %q", got, want)
	}
	return string(got)
}

// TestVMTerminal: process.terminal with --console-socket, and exec -t:
// the caller's pty master is wired to a pty in the guest (the program sees
// a terminal, the guest's line discipline echoes what the caller types).
func TestVMTerminal(t *testing.T) {
	e := newVMEnv(t, []string{"sh", "-c", `test -t 0 && echo init-has-tty; read x; echo got-$x; exit 5`}, nil,
		func(s *specs.Spec) { s.Process.Terminal = true })
	const id = "vmtest-tty"
	sock, recv := consoleSocket(t)
	e.mustOcikit("create", "--console-socket", sock, id)
	master := recv()
	defer master.Close()
	e.mustOcikit("start", id)
	readUntil(t, master, "init-has-tty")

	sock2, recv2 := consoleSocket(t)
	type result struct {
		out  string
		code int
	}
	res := make(chan result, 1)
	go func() {
		_, errOut, code := e.ocikit("exec", "-t", "--console-socket", sock2, id, "sh", "-c", "test -t 1 && echo exec-has-tty; exit 6")
		res <- result{errOut, code}
	}()
	m2 := recv2()
	defer m2.Close()
	readUntil(t, m2, "exec-has-tty")
	if r := <-res; r.code != 6 {
		t.Errorf("exec -t: exit %d, want 6: %s", r.code, r.out)
	}

	// exec -t in the foreground: the caller's terminal, and the
	// program's bytes as written (no \r added), as the plain runtime.
	_, slave, err := runtime.OpenPty()
	if err != nil {
		t.Fatal(err)
	}
	defer slave.Close()
	out, errOut, code := e.ocikitIn(slave, "exec", "-t", id, "printf", `a\nb\n`)
	if code != 0 || out != "a\nb\n" {
		t.Errorf("exec -t in the foreground: exit %d, relayed %q, want %q: %s", code, out, "a\nb\n", errOut)
	}

	if _, err := master.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	readUntil(t, master, "got-hello")
	e.waitStopped(id)
	e.mustOcikit("delete", id)
	if left := e.leftovers(); len(left) > 0 {
		t.Errorf("left after delete: %v", left)
	}
}

// TestVMRunTerminal: run in the foreground with process.terminal relays
// the guest's pty to the caller's terminal, bytes as written, and exits
// with the program's status.
func TestVMRunTerminal(t *testing.T) {
	e := newVMEnv(t, []string{"sh", "-c", `test -t 0 && printf 'a\nb\n'; exit 4`}, nil,
		func(s *specs.Spec) { s.Process.Terminal = true })
	_, slave, err := runtime.OpenPty()
	if err != nil {
		t.Fatal(err)
	}
	defer slave.Close()
	out, errOut, code := e.ocikitIn(slave, "run", "vmtest-runtty")
	if code != 4 || out != "a\nb\n" {
		t.Errorf("run: exit %d, relayed %q; want 4 and %q: %s", code, out, "a\nb\n", errOut)
	}
}
