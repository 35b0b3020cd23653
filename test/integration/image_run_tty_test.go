package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocikit/ocikit/internal/testutil"
)

// keepers lists the image run-wait processes that keep container id's
// terminal.
func keepers(id string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) > 1 && args[len(args)-1] == id && strings.Contains(string(b), "run-wait") && strings.Contains(string(b), "--console-log") {
			out = append(out, p)
		}
	}
	return out
}

// eventually polls cond for a bounded while.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestImageRunDetachedTerminal: -d -t starts the program on a terminal
// whose master a background ocikit keeps (runc's console socket, as
// podman's conmon), logging its output to console.log; the program is
// not hung up when image run returns; exec -t into it gets a terminal of
// its own; the keeper goes with the program, and with --rm the container
// with it.
func TestImageRunDetachedTerminal(t *testing.T) {
	e := newIREnv(t)
	script := testutil.RequireTool(t, "script")
	ref := demoImage(t, e.bin)
	for _, rm := range []bool{false, true} {
		id := fmt.Sprintf("irdt-%v", rm)
		args := []string{"-d", "-t", "--name", id}
		if rm {
			args = append(args, "--rm")
		}
		out, errs, code := e.imageRun(append(args, ref, "--", "-c", "tty; echo started; exec sleep 300")...)
		if code != 0 || out != id+"\n" {
			t.Fatalf("-d -t: exit %d output %q stderr %q", code, out, errs)
		}
		log := filepath.Join(e.store, "containers", id, "console.log")
		eventually(t, "the program's output in "+log, func() bool {
			b, _ := os.ReadFile(log)
			return strings.Contains(string(b), "started")
		})
		if b, _ := os.ReadFile(log); !strings.HasPrefix(string(b), "/dev/pts/0\r\n") {
			t.Errorf("console.log %q: want the program's tty first", b)
		}
		if k := keepers(id); len(k) != 1 {
			t.Errorf("%d processes keep the terminal, want 1", len(k))
		}
		cmdline := fmt.Sprintf("%s --root %s exec -t %s sh -c 'tty; exit 5'", e.bin, e.root, id)
		xout, err := exec.Command(script, "-qec", cmdline, "/dev/null").Output()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 5 || !strings.Contains(string(xout), "/dev/pts/") || strings.Contains(string(xout), "/dev/pts/0") {
			t.Errorf("exec -t: %v, output %q; want exit 5 and a pty of its own", err, xout)
		}
		if st := e.must("state", id); !strings.Contains(st, `"running"`) {
			t.Errorf("the program did not keep running on its terminal: %s", st)
		}
		e.must("kill", id, "KILL")
		eventually(t, "the keeper's exit", func() bool { return len(keepers(id)) == 0 })
		if rm {
			eventually(t, "--rm deleting the container", func() bool {
				_, _, code := e.run("state", id)
				_, err := os.Stat(filepath.Join(e.store, "containers", id))
				return code != 0 && os.IsNotExist(err)
			})
		} else {
			e.must("delete", id)
		}
	}
	e.checkClean()
}
