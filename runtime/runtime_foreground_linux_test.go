package runtime_test

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestRunForwardsSignals sends SIGUSR1 to a foreground `run`: the
// container's program gets it and its exit status comes back.
func TestRunForwardsSignals(t *testing.T) {
	e := newEnv(t)
	b := e.bundle([]string{"sh", "-c", `trap "echo got; exit 3" USR1; echo ready; sleep 1000 & wait`}, nil)
	cmd := exec.Command(e.bin, "--root", e.root, "run", "--bundle", b, e.id("fwd"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(out)
	line, err := r.ReadString('\n')
	if err != nil || line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("first line %q, %v", line, err)
	}
	cmd.Process.Signal(syscall.SIGUSR1)
	rest, _ := io.ReadAll(r)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("run exited with %v, want status 3", err)
	}
	if string(rest) != "got\n" {
		t.Errorf("output after the signal %q, want got", rest)
	}
}

// TestRunTerminal runs a process.terminal container in the foreground
// from a terminal: ocikit wires its pty to the caller's.
func TestRunTerminal(t *testing.T) {
	e := newEnv(t)
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 21, Col: 61})
	b := e.bundle([]string{"sh", "-c", "test -t 0 && echo is-a-tty; stty size; exit 5"}, func(s *specs.Spec) { s.Process.Terminal = true })
	cmd := exec.Command(e.bin, "--root", e.root, "run", "--bundle", b, e.id("term"))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	outc := make(chan string, 1)
	go func() {
		data, _ := io.ReadAll(ptmx) // EIO once ocikit and the container are gone
		outc <- string(data)
	}()
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 5 {
		t.Errorf("run exited with %v, want status 5", err)
	}
	out := <-outc
	if !strings.Contains(out, "is-a-tty") || !strings.Contains(out, "21 61") {
		t.Errorf("terminal output %q, want is-a-tty and the caller's size 21 61", out)
	}
}

// TestRunFlags covers --preserve-fds and --no-pivot.
func TestRunFlags(t *testing.T) {
	e := newEnv(t)
	t.Run("preserve-fds", func(t *testing.T) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		b := e.bundle([]string{"sh", "-c", "echo through-fd3 >&3"}, nil)
		cmd := exec.Command(e.bin, "--root", e.root, "run", "--preserve-fds", "1", "--bundle", b, e.id("fds"))
		cmd.ExtraFiles = []*os.File{w}
		out, err := cmd.CombinedOutput()
		w.Close()
		if err != nil {
			t.Fatalf("run: %v: %s", err, out)
		}
		data, _ := io.ReadAll(r)
		if string(data) != "through-fd3\n" {
			t.Errorf("fd 3 carried %q", data)
		}
	})
	t.Run("no-pivot", func(t *testing.T) {
		e := e.sub(t)
		out := e.must("run", "--no-pivot", "--bundle", e.bundle([]string{"sh", "-c", "ls /bin/busybox"}, nil), e.id("nopivot"))
		if out != "/bin/busybox\n" {
			t.Errorf("output %q", out)
		}
	})
}
