package vm

import (
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocikit/ocikit/internal/testutil"
)

// TestQMP drives a real qemu's QMP (a machine without a guest, which
// boots nothing): the greeting and capabilities negotiation, stop and cont
// (whose STOP and RESUME events come before the answer and are skipped),
// and an unknown command's error naming its class.
func TestQMP(t *testing.T) {
	qemu := testutil.RequireTool(t, "qemu-system-x86_64")
	sock := filepath.Join(t.TempDir(), "qmp.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cmd := exec.Command(qemu, "-M", "none", "-nodefaults", "-display", "none", "-sandbox", "on",
		"-chardev", "socket,id=qmp,path="+sock, "-mon", "chardev=qmp,mode=control")
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	ln.SetDeadline(time.Now().Add(30 * time.Second))
	c, err := ln.Accept()
	if err != nil {
		t.Fatalf("qemu did not connect: %v (%s)", err, out)
	}
	defer c.Close()
	q, err := newQMP(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ cmd, want string }{
		{"stop", ""},
		{"stop", ""}, // stopping a stopped machine is no error
		{"cont", ""},
		{"no-such-command", "vm: qmp no-such-command: CommandNotFound: "},
	} {
		err := q.execute(tt.cmd)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.cmd, err)
		case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
			t.Errorf("%s: %v, want an error starting %q", tt.cmd, err, tt.want)
		}
	}
}
