package runtime_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestTerminalRelayNewlines: run and exec relaying a terminal in the
// foreground pass the program's bytes on as written, as runc does (it
// clears ONLCR on the pty): "a\nb\n", not "a\r\nb\r\n". The caller's stdin
// is a terminal (as under script(1)), its stdout a pipe that gets the
// bytes unchanged.
func TestTerminalRelayNewlines(t *testing.T) {
	e := newEnv(t)
	program := []string{"printf", `a\nb\n`}
	id, _ := e.running("nl", nil)
	tests := []struct {
		name string
		args []string
	}{
		{"run", []string{"run", "--bundle", e.bundle(program, func(s *specs.Spec) { s.Process.Terminal = true }), e.id("nl-run")}},
		{"exec", append([]string{"exec", "--tty", id}, program...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ptmx, tty := openTestPty(t)
			defer ptmx.Close()
			defer tty.Close()
			cmd := exec.Command(e.bin, append([]string{"--root", e.root}, tc.args...)...)
			cmd.Stdin = tty
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("ocikit %s: %v: %s", tc.name, err, stderr.String())
			}
			if string(out) != "a\nb\n" {
				t.Errorf("ocikit %s relayed %q, want %q", tc.name, out, "a\nb\n")
			}
		})
	}
}

// TestContainerTerminal: the terminal of a container's process is a pty of
// the container's own devpts, as with runc: tty(1) names /dev/pts/N, the
// pty keeps that devpts mount's group (gid=5) and mode (620) and belongs
// to the process's user, and /dev/console is the same pty. For the
// console socket (podman, containerd), foreground run and exec --tty.
func TestContainerTerminal(t *testing.T) {
	e := newEnv(t)
	// Each line: the terminal's name, then owner, group, mode and device
	// of the terminal and of the console, then /dev/pts. An exec'd
	// process's terminal is not the container's console: it is compared
	// with itself.
	script := `t=$(tty); echo $t; stat -c '%u %g %a %t:%T' $t ${console:-/dev/console}; echo $(ls /dev/pts)`
	user := func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.User = specs.User{UID: 1000, GID: 1000}
	}
	check := func(t *testing.T, out, pty string, uid, gid int) {
		t.Helper()
		lines := strings.Split(strings.TrimSpace(strings.ReplaceAll(out, "\r\n", "\n")), "\n")
		want := fmt.Sprintf("%d %d 620 ", uid, gid)
		switch {
		case len(lines) != 4:
			t.Fatalf("terminal output %q, want 4 lines", out)
		case lines[0] != "/dev/pts/"+pty:
			t.Errorf("tty: %q, want /dev/pts/%s", lines[0], pty)
		case !strings.HasPrefix(lines[1], want):
			t.Errorf("the terminal is %q (uid gid mode), want %q", lines[1], want)
		case lines[2] != lines[1]:
			t.Errorf("/dev/console is %q, the terminal %q: want the same pty", lines[2], lines[1])
		case !strings.Contains(" "+lines[3]+" ", " "+pty+" "):
			t.Errorf("/dev/pts holds %q, want %s in it", lines[3], pty)
		}
	}

	t.Run("console-socket", func(t *testing.T) {
		e := e.sub(t)
		sock := filepath.Join(t.TempDir(), "console.sock")
		got := recvConsole(t, sock)
		id := e.id("tty-sock")
		e.must("create", "--bundle", e.bundle([]string{"sh", "-c", script}, user), "--console-socket", sock, id)
		e.must("start", id)
		check(t, <-got, "0", 1000, 5)
	})
	t.Run("run", func(t *testing.T) {
		e := e.sub(t)
		cmd := exec.Command(e.bin, "--root", e.root, "run", "--bundle", e.bundle([]string{"sh", "-c", script}, user), e.id("tty-run"))
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		check(t, string(out), "0", 1000, 5)
	})
	t.Run("rootless", func(t *testing.T) {
		// A rootless config's devpts has no gid option (gid 5 may not be
		// mapped): the pty's group is its opener's, the init's root.
		e := newRootlessEnv(t)
		out := e.must("run", "--bundle", e.bundle([]string{"sh", "-c", script}, func(s *specs.Spec) { s.Process.Terminal = true }), e.id("tty-rootless"))
		check(t, out, "0", 0, 0)
	})
	t.Run("exec", func(t *testing.T) {
		e := e.sub(t)
		id, _ := e.running("tty-exec", nil)
		for _, u := range []int{0, 1000} {
			cmd := exec.Command(e.bin, "--root", e.root, "exec", "--tty", "--user", fmt.Sprintf("%d:%d", u, u), id, "sh", "-c", "console=$(tty); "+script)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("exec: %v", err)
			}
			// The container has no terminal of its own: the exec'd
			// process's is the first of its devpts.
			check(t, string(out), "0", u, 5)
		}
	})
}

// recvConsole accepts one connection on a new unix socket at path, as a
// --console-socket caller does, and sends what the pty master it receives
// reads until the program's side closes.
func recvConsole(t *testing.T, path string) <-chan string {
	t.Helper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got := make(chan string, 1)
	go func() {
		c, err := l.AcceptUnix()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		buf, oob := make([]byte, 256), make([]byte, unix.CmsgSpace(4))
		_, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		msgs, perr := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || perr != nil || len(msgs) != 1 {
			got <- "no control message"
			return
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			got <- "no fd"
			return
		}
		master := os.NewFile(uintptr(fds[0]), "master")
		defer master.Close()
		out, _ := io.ReadAll(master) // EIO once the program exits
		got <- string(out)
	}()
	return got
}

// TestInheritedFDs: a descriptor the runtime's caller passed without
// --preserve-fds reaches no container process, so a created container does
// not hold a caller's pipe open (runc's behaviour); preserved ones do, and
// --preserve-fds naming a descriptor the caller did not pass fails instead
// of handing over one of the runtime's own.
func TestInheritedFDs(t *testing.T) {
	e := newEnv(t)
	t.Run("create", func(t *testing.T) {
		e := e.sub(t)
		preserved := tempFileWith(t, "preserved")
		pr, pw := pipe(t)
		id := e.id("fds")
		out := e.tempFile()
		b := e.bundle([]string{"sh", "-c", "cat <&3; echo; ls /proc/self/fd"}, nil)
		cmd := exec.Command(e.bin, "--root", e.root, "create", "--preserve-fds", "1", "--bundle", b, id)
		cmd.Stdout, cmd.Stderr = out, out
		cmd.ExtraFiles = highFD(pw, preserved) // 3 preserved, the pipe not
		if err := cmd.Run(); err != nil {
			data, _ := os.ReadFile(out.Name())
			t.Fatalf("create: %v: %s", err, data)
		}
		pw.Close()
		pid := e.state(id).Pid
		if holders := pipeHolders(t, pr, pid); len(holders) > 0 {
			t.Fatalf("the created container's init holds the caller's pipe (%s)", strings.Join(holders, ", "))
		}
		if n, err := pr.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Errorf("the pipe's reader got %d bytes, %v; want EOF", n, err)
		}
		e.must("start", id)
		waitGone(t, pid)
		data, _ := os.ReadFile(out.Name())
		// The preserved file's content, then stdio, 3 and ls's own
		// directory descriptor.
		if got := strings.Fields(string(data)); strings.Join(got, " ") != "preserved 0 1 2 3 4" {
			t.Errorf("container printed %q, want the preserved file and descriptors 0-3 (+ ls's)", data)
		}
	})
	t.Run("exec", func(t *testing.T) {
		e := e.sub(t)
		id, _ := e.running("fds-exec", nil)
		pr, pw := pipe(t)
		pidFile := filepath.Join(t.TempDir(), "pid")
		cmd := exec.Command(e.bin, "--root", e.root, "exec", "--detach", "--pid-file", pidFile, id, "sleep", "1000")
		// A file, not a pipe that the detached process would hold.
		out := e.tempFile()
		cmd.Stdout, cmd.Stderr = out, out
		cmd.ExtraFiles = highFD(pw)
		if err := cmd.Run(); err != nil {
			data, _ := os.ReadFile(out.Name())
			t.Fatalf("exec: %v: %s", err, data)
		}
		pw.Close()
		data, err := os.ReadFile(pidFile)
		if err != nil {
			t.Fatal(err)
		}
		pid, _ := strconv.Atoi(string(data))
		if holders := pipeHolders(t, pr, pid); len(holders) > 0 {
			t.Fatalf("the exec'd process holds the caller's pipe (%s)", strings.Join(holders, ", "))
		}
		if n, err := pr.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Errorf("the pipe's reader got %d bytes, %v; want EOF", n, err)
		}
		_, pw2 := pipe(t)
		cmd = exec.Command(e.bin, "--root", e.root, "exec", id, "ls", "/proc/self/fd")
		cmd.ExtraFiles = highFD(pw2)
		fds, err := cmd.Output()
		if err != nil {
			t.Fatalf("exec: %v", err)
		}
		if got := strings.Join(strings.Fields(string(fds)), " "); got != "0 1 2 3" {
			t.Errorf("exec'd process has descriptors %q, want 0-2 (+ ls's)", got)
		}
	})
	t.Run("socket activation", func(t *testing.T) {
		// As systemd starts runc: LISTEN_PID is the runtime's pid (the
		// shell's, which execs it), LISTEN_FDS the descriptors from 3.
		// The container gets them first, then the preserved one, with
		// LISTEN_FDS and LISTEN_PID=1; the pipe past them stays out.
		e := e.sub(t)
		_, pw := pipe(t)
		b := e.bundle([]string{"sh", "-c", `echo $LISTEN_FDS $LISTEN_PID; cat <&3; cat <&4; cat <&5; ls /proc/self/fd`}, nil)
		cmd := exec.Command("sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=2 exec "$0" "$@"`, e.bin, "--root", e.root, "run", "--preserve-fds", "1", "--bundle", b, e.id("listen"))
		cmd.ExtraFiles = highFD(pw, tempFileWith(t, "l1\n"), tempFileWith(t, "l2\n"), tempFileWith(t, "p1\n"))
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		if got := strings.Join(strings.Fields(string(out)), " "); got != "2 1 l1 l2 p1 0 1 2 3 4 5 6" {
			t.Errorf("container printed %q, want LISTEN_FDS 2 LISTEN_PID 1, the three files and descriptors 0-5 (+ ls's)", got)
		}
	})
	t.Run("not passed", func(t *testing.T) {
		e := e.sub(t)
		id, _ := e.running("fds-missing", nil)
		b := e.bundle([]string{"ls", "-l", "/proc/self/fd"}, nil)
		e.fails("--preserve-fds 1: descriptor 3 was not passed to the runtime", "create", "--preserve-fds", "1", "--bundle", b, e.id("fds-missing"))
		e.fails("--preserve-fds 2: descriptor 3 was not passed to the runtime", "run", "--preserve-fds", "2", "--bundle", b, e.id("fds-missing"))
		e.fails("--preserve-fds 1: descriptor 3 was not passed to the runtime", "exec", "--preserve-fds", "1", id, "true")
		// One passed, the second not.
		cmd := exec.Command(e.bin, "--root", e.root, "exec", "--preserve-fds", "2", id, "true")
		cmd.ExtraFiles = []*os.File{tempFileWith(t, "x")}
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "descriptor 4 was not passed") {
			t.Errorf("exec --preserve-fds 2 with one descriptor: %v: %s", err, out)
		}
	})
}

// highFD returns the ExtraFiles of a command that gets the files first
// (from 3 on) and f as descriptor 41, above those the runtime passes its
// own children (which would replace it there).
func highFD(f *os.File, first ...*os.File) []*os.File {
	files := make([]*os.File, 38)
	copy(files, first)
	return append(files, f)
}

func tempFileWith(t *testing.T, content string) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "fd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	return f
}

func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

// pipeHolders lists the descriptors of process pid that are the pipe r
// belongs to.
func pipeHolders(t *testing.T, r *os.File, pid int) []string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(int(r.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	want := "pipe:[" + strconv.FormatUint(st.Ino, 10) + "]"
	var held []string
	fdDir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, err := os.ReadDir(fdDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, ent := range ents {
		if l, _ := os.Readlink(filepath.Join(fdDir, ent.Name())); l == want {
			held = append(held, fmt.Sprintf("pid %d fd %s", pid, ent.Name()))
		}
	}
	return held
}

// TestStdioOwner: the process's stdio belongs to its user, group kept, as
// with runc, so a program running as that user can reopen /dev/stdout
// (mode 0600); /dev/null stays root's. In the foreground (run, exec) the
// stdio are pipes the runtime relays, as runc's, so the caller's own files
// (here its stdout file, elsewhere its terminal) keep their owner; a
// detached container's stdio are the caller's files, which runc changes
// too.
func TestStdioOwner(t *testing.T) {
	e := newEnv(t)
	// Appending: stdout may be a file, whose fd 1 writes at its offset.
	script := `stat -L -c '%u %g %F' /proc/self/fd/1; stat -c '%u %g' /dev/null; echo out >>/dev/stdout; echo err >>/dev/stderr`
	user := func(s *specs.Spec) { s.Process.User = specs.User{UID: 1000, GID: 1000} }
	id, _ := e.running("stdio", nil)
	tests := []struct {
		name  string
		steps [][]string
		kind  string // of the process's stdout
		owner uint32 // of the caller's stdout file afterwards
	}{
		{"run", [][]string{{"run", "--bundle", e.bundle([]string{"sh", "-c", script}, user), e.id("stdio-run")}}, "fifo", 0},
		{"exec", [][]string{{"exec", "--user", "1000:1000", id, "sh", "-c", script}}, "fifo", 0},
		{"create", [][]string{{"create", "--bundle", e.bundle([]string{"sh", "-c", script}, user), e.id("stdio-create")}}, "regular empty file", 1000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := e.sub(t)
			out, errf := e.tempFile(), e.tempFile()
			for _, args := range tc.steps {
				cmd := exec.Command(e.bin, append([]string{"--root", e.root}, args...)...)
				cmd.Stdout, cmd.Stderr = out, errf
				if err := cmd.Run(); err != nil {
					data, _ := os.ReadFile(errf.Name())
					t.Fatalf("ocikit %s: %v: %s", args[0], err, data)
				}
			}
			if tc.name == "create" {
				id := tc.steps[0][len(tc.steps[0])-1]
				pid := e.state(id).Pid
				e.must("start", id)
				waitGone(t, pid)
			}
			stdout, _ := os.ReadFile(out.Name())
			stderr, _ := os.ReadFile(errf.Name())
			if want := "1000 0 " + tc.kind + "\n0 0\nout\n"; string(stdout) != want || string(stderr) != "err\n" {
				t.Errorf("stdout %q, stderr %q; want %q and %q", stdout, stderr, want, "err\n")
			}
			var st unix.Stat_t
			if err := unix.Fstat(int(out.Fd()), &st); err != nil {
				t.Fatal(err)
			}
			if st.Uid != tc.owner {
				t.Errorf("the caller's stdout file belongs to %d, want %d", st.Uid, tc.owner)
			}
		})
	}
}
