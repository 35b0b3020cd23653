//go:build linux && cgo

package seccomp

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// The tests load filters in a child: this test binary re-executed with
// OCIKIT_SECCOMP_CHILD set, which loads the filter from
// OCIKIT_SECCOMP_CFG, runs the operation OCIKIT_SECCOMP_CHILD names and
// prints its results as JSON.
func TestMain(m *testing.M) {
	if op := os.Getenv("OCIKIT_SECCOMP_CHILD"); op != "" {
		os.Exit(childMain(op))
	}
	os.Exit(m.Run())
}

type childResult struct {
	Errnos   map[string]int `json:"errnos,omitempty"`
	NotifyFd int            `json:"notifyFd"`
	Value    int            `json:"value,omitempty"`
	Err      string         `json:"err,omitempty"`
}

func errnoOf(err error) int {
	var e unix.Errno
	if errors.As(err, &e) {
		return int(e)
	}
	return 0
}

func childMain(op string) int {
	var cfg specs.LinuxSeccomp
	if err := json.Unmarshal([]byte(os.Getenv("OCIKIT_SECCOMP_CFG")), &cfg); err != nil {
		fmt.Println(err)
		return 3
	}
	dir := os.Getenv("OCIKIT_SECCOMP_DIR")
	res := childResult{Errnos: map[string]int{}}

	// Threads that exist before the filter is loaded: TSYNC must reach them.
	const threads = 4
	start := make(chan struct{})
	done := make(chan [2]any, threads)
	ready := make(chan struct{}, threads)
	for i := 0; i < threads; i++ {
		go func() {
			runtime.LockOSThread()
			ready <- struct{}{}
			<-start
			name := fmt.Sprintf("thread%d", i)
			done <- [2]any{name, errnoOf(unix.Mkdirat(unix.AT_FDCWD, filepath.Join(dir, name), 0o755))}
		}()
	}

	for i := 0; i < threads; i++ {
		<-ready
	}
	var fd int
	var err error
	if pj := os.Getenv("OCIKIT_SECCOMP_PROGRAM"); pj != "" {
		var p Program
		if err := json.Unmarshal([]byte(pj), &p); err != nil {
			fmt.Println(err)
			return 3
		}
		fd, err = p.Load()
	} else {
		fd, err = Load(&cfg)
	}
	res.NotifyFd = fd
	if err != nil {
		res.Err = err.Error()
		json.NewEncoder(os.Stdout).Encode(res)
		return 0
	}
	switch op {
	case "mkdir":
		close(start)
		for i := 0; i < threads; i++ {
			r := <-done
			res.Errnos[r[0].(string)] = r[1].(int)
		}
		for _, mode := range []uint32{0o755, 0o700, 0o777, 0o711, 0o750} {
			name := fmt.Sprintf("%o", mode)
			res.Errnos[name] = errnoOf(unix.Mkdirat(unix.AT_FDCWD, filepath.Join(dir, name), mode))
		}
		res.Errnos["chdir"] = errnoOf(unix.Chdir(dir))
	case "notify":
		st := specs.ContainerProcessState{Pid: os.Getpid(), Metadata: "meta", State: specs.State{ID: "test"}}
		if err := SendNotifyFd(os.Getenv("OCIKIT_SECCOMP_LISTENER"), st, fd); err != nil {
			res.Err = err.Error()
			break
		}
		// getppid is intercepted: the agent (the test) answers 4242.
		r, _, _ := unix.RawSyscall(unix.SYS_GETPPID, 0, 0, 0)
		res.Value = int(r)
	case "kill":
		unix.RawSyscall(unix.SYS_GETPPID, 0, 0, 0)
		res.Err = "survived getppid"
	}
	json.NewEncoder(os.Stdout).Encode(res)
	return 0
}

func runChild(t *testing.T, op string, cfg *specs.LinuxSeccomp, env ...string) (childResult, *exec.Cmd, error) {
	t.Helper()
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "OCIKIT_SECCOMP_CHILD="+op, "OCIKIT_SECCOMP_CFG="+string(data), "OCIKIT_SECCOMP_DIR="+t.TempDir())
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	var res childResult
	if err == nil {
		if jerr := json.Unmarshal(out, &res); jerr != nil {
			t.Fatalf("child output %q: %v", out, jerr)
		}
	}
	return res, cmd, err
}

func ptr[T any](v T) *T { return &v }

func TestLoadErrno(t *testing.T) {
	fdcwd := int64(unix.AT_FDCWD)
	cfg := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Flags:         []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC"},
		Syscalls: []specs.LinuxSyscall{
			// Plain errno with the default EPERM, several names.
			{Names: []string{"chdir", "fchdir", "no_such_syscall_ocikit"}, Action: specs.ActErrno},
			// errnoRet honored; several args are ANDed: mode 0700 with AT_FDCWD.
			{Names: []string{"mkdirat"}, Action: specs.ActErrno, ErrnoRet: ptr[uint](uint(unix.EDQUOT)), Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: uint64(fdcwd), Op: specs.OpEqualTo},
				{Index: 2, Value: 0o700, Op: specs.OpEqualTo},
			}},
			// A second rule for the same name: MASKED_EQ on "others may write".
			{Names: []string{"mkdirat"}, Action: specs.ActErrno, ErrnoRet: ptr[uint](uint(unix.EROFS)), Args: []specs.LinuxSeccompArg{
				{Index: 2, Value: 0o002, ValueTwo: 0o002, Op: specs.OpMaskedEqual},
			}},
			// The same argument twice: each condition is its own rule (OR).
			{Names: []string{"mkdirat"}, Action: specs.ActErrno, ErrnoRet: ptr[uint](uint(unix.ENOSPC)), Args: []specs.LinuxSeccompArg{
				{Index: 2, Value: 0o711, Op: specs.OpEqualTo},
				{Index: 2, Value: 0o750, Op: specs.OpEqualTo},
			}},
		},
	}
	res, _, err := runChild(t, "mkdir", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Err != "" {
		t.Fatal(res.Err)
	}
	want := map[string]int{
		"755": 0, "700": int(unix.EDQUOT), "777": int(unix.EROFS), "711": int(unix.ENOSPC), "750": int(unix.ENOSPC),
		"chdir": int(unix.EPERM), "thread0": 0, "thread1": 0, "thread2": 0, "thread3": 0,
	}
	for k, v := range want {
		if res.Errnos[k] != v {
			t.Errorf("%s: errno %d (%v), want %d (%v)", k, res.Errnos[k], unix.Errno(res.Errnos[k]), v, unix.Errno(v))
		}
	}
}

// TestLoadDefaultErrno denies everything by default with defaultErrnoRet
// and allows every syscall libseccomp knows except mkdir and mkdirat; the
// threads started before Load prove the filter reached every thread.
func TestLoadDefaultErrno(t *testing.T) {
	var allow []string
	for n := 0; n < 1024; n++ {
		name, err := libseccomp.ScmpSyscall(n).GetName()
		if err != nil || name == "mkdir" || name == "mkdirat" {
			continue
		}
		allow = append(allow, name)
	}
	cfg := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: ptr[uint](uint(unix.ENOTSUP)),
		Syscalls:        []specs.LinuxSyscall{{Names: allow, Action: specs.ActAllow}},
	}
	res, _, err := runChild(t, "mkdir", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Err != "" {
		t.Fatal(res.Err)
	}
	for _, k := range []string{"755", "700", "thread0", "thread1", "thread2", "thread3"} {
		if res.Errnos[k] != int(unix.ENOTSUP) {
			t.Errorf("%s: errno %v, want ENOTSUP", k, unix.Errno(res.Errnos[k]))
		}
	}
	if res.Errnos["chdir"] != 0 {
		t.Errorf("chdir: errno %v, want allowed", unix.Errno(res.Errnos["chdir"]))
	}
}

func TestLoadKillProcess(t *testing.T) {
	// SCMP_ACT_KILL and KILL_THREAD kill only the calling thread: a Go
	// program then hangs with its other threads, so only KILL_PROCESS is
	// run here (the others are translated in TestActions).
	for _, act := range []specs.LinuxSeccompAction{specs.ActKillProcess} {
		t.Run(string(act), func(t *testing.T) {
			cfg := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"getppid"}, Action: act}}}
			_, cmd, err := runChild(t, "kill", cfg)
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("child survived: %v", err)
			}
			ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if act == specs.ActKillProcess && (!ws.Signaled() || ws.Signal() != syscall.SIGSYS) {
				t.Fatalf("child status %v, want killed by SIGSYS", ws)
			}
		})
	}
}

func TestNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	agent := make(chan error, 1)
	var got specs.ContainerProcessState
	go func() {
		agent <- func() error {
			conn, err := l.AcceptUnix()
			if err != nil {
				return err
			}
			defer conn.Close()
			buf, oob := make([]byte, 4096), make([]byte, 1024)
			n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
			if err != nil {
				return err
			}
			if err := json.Unmarshal(buf[:n], &got); err != nil {
				return err
			}
			msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err != nil || len(msgs) != 1 {
				return fmt.Errorf("control messages %v: %v", msgs, err)
			}
			fds, err := unix.ParseUnixRights(&msgs[0])
			if err != nil || len(fds) != 1 {
				return fmt.Errorf("rights %v: %v", fds, err)
			}
			fd := libseccomp.ScmpFd(fds[0])
			defer unix.Close(fds[0])
			req, err := libseccomp.NotifReceive(fd)
			if err != nil {
				return fmt.Errorf("receive: %w", err)
			}
			name, _ := req.Data.Syscall.GetName()
			if name != "getppid" {
				return fmt.Errorf("notified of %s, want getppid", name)
			}
			return libseccomp.NotifRespond(fd, &libseccomp.ScmpNotifResp{ID: req.ID, Val: 4242})
		}()
	}()
	cfg := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow, ListenerPath: sock, ListenerMetadata: "meta",
		Syscalls: []specs.LinuxSyscall{{Names: []string{"getppid"}, Action: specs.ActNotify}},
		Flags:    []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC"},
	}
	if slices.Contains(SupportedFlags(), string(specs.LinuxSeccompFlagWaitKillableRecv)) {
		cfg.Flags = append(cfg.Flags, specs.LinuxSeccompFlagWaitKillableRecv)
	}
	res, _, err := runChild(t, "notify", cfg, "OCIKIT_SECCOMP_LISTENER="+sock)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-agent; err != nil {
		t.Fatalf("agent: %v", err)
	}
	if res.Err != "" || res.NotifyFd < 0 {
		t.Fatalf("child: fd %d, %s", res.NotifyFd, res.Err)
	}
	if res.Value != 4242 {
		t.Errorf("getppid returned %d, want the agent's 4242", res.Value)
	}
	if got.Metadata != "meta" || len(got.Fds) != 1 || got.Fds[0] != specs.SeccompFdName || got.Version != specs.Version || got.State.ID != "test" {
		t.Errorf("container process state %+v", got)
	}
}

func TestValidateErrors(t *testing.T) {
	base := func(mod func(*specs.LinuxSeccomp)) *specs.LinuxSeccomp {
		c := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"getcwd"}, Action: specs.ActErrno}}}
		mod(c)
		return c
	}
	tests := []struct {
		name string
		cfg  *specs.LinuxSeccomp
		want string
	}{
		{"unknown default action", base(func(c *specs.LinuxSeccomp) { c.DefaultAction = "SCMP_ACT_NOPE" }), `"SCMP_ACT_NOPE"`},
		{"unknown action", base(func(c *specs.LinuxSeccomp) { c.Syscalls[0].Action = "SCMP_ACT_FOO" }), `"SCMP_ACT_FOO"`},
		{"unknown arch", base(func(c *specs.LinuxSeccomp) { c.Architectures = []specs.Arch{"SCMP_ARCH_VAX"} }), `"SCMP_ARCH_VAX"`},
		{"unknown op", base(func(c *specs.LinuxSeccomp) {
			c.Syscalls[0].Args = []specs.LinuxSeccompArg{{Index: 0, Op: "SCMP_CMP_FOO"}}
		}), `"SCMP_CMP_FOO"`},
		{"unknown flag", base(func(c *specs.LinuxSeccomp) { c.Flags = []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_FOO"} }), `"SECCOMP_FILTER_FLAG_FOO"`},
		{"errnoRet on kill", base(func(c *specs.LinuxSeccomp) {
			c.Syscalls[0].Action = specs.ActKill
			c.Syscalls[0].ErrnoRet = ptr[uint](1)
		}), "SCMP_ACT_KILL does not take an errnoRet"},
		{"defaultErrnoRet on allow", base(func(c *specs.LinuxSeccomp) { c.DefaultErrnoRet = ptr[uint](1) }), "SCMP_ACT_ALLOW does not take an errnoRet"},
		{"notify default", base(func(c *specs.LinuxSeccomp) { c.DefaultAction = specs.ActNotify }), "default action"},
		{"notify write", base(func(c *specs.LinuxSeccomp) {
			c.Syscalls[0] = specs.LinuxSyscall{Names: []string{"write"}, Action: specs.ActNotify}
		}), `"write"`},
		{"metadata without path", base(func(c *specs.LinuxSeccomp) { c.ListenerMetadata = "x" }), "listenerPath"},
		{"empty names", base(func(c *specs.LinuxSeccomp) { c.Syscalls[0].Names = nil }), "names"},
		{"arg index", base(func(c *specs.LinuxSeccomp) {
			c.Syscalls[0].Args = []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}
		}), "index 6"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %s", err, tc.want)
			}
		})
	}
	// A library that lacks an architecture: an error naming it.
	if !slices.Contains(Features().Archs, "SCMP_ARCH_M68K") {
		err := Validate(base(func(c *specs.LinuxSeccomp) { c.Architectures = []specs.Arch{specs.ArchM68K} }))
		if err == nil || !strings.Contains(err.Error(), "SCMP_ARCH_M68K") {
			t.Errorf("unsupported architecture: %v", err)
		}
	}
	ok := base(func(c *specs.LinuxSeccomp) {
		// Every architecture of the other byte order is skipped.
		c.Architectures = []specs.Arch{specs.ArchX86_64, specs.ArchS390X, specs.ArchPPC64, specs.ArchMIPS}
		c.Syscalls = append(c.Syscalls, specs.LinuxSyscall{Names: []string{"no_such_syscall"}, Action: specs.ActErrno})
		c.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow}
	})
	if err := Validate(ok); err != nil {
		t.Fatalf("valid config with an unknown syscall name: %v", err)
	}
}

func TestWaitKillableRecv(t *testing.T) {
	cfg := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}}
	err := Validate(cfg)
	supported := false
	for _, f := range Features().SupportedFlags {
		supported = supported || f == string(specs.LinuxSeccompFlagWaitKillableRecv)
	}
	if supported != (err == nil) {
		t.Fatalf("features says supported=%v, Validate says %v", supported, err)
	}
	if err != nil && !strings.Contains(err.Error(), "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") {
		t.Fatalf("error does not name the flag: %v", err)
	}
}

func TestFeatures(t *testing.T) {
	f := Features()
	if f.Enabled == nil || !*f.Enabled {
		t.Fatal("seccomp not enabled in a cgo build")
	}
	if len(f.Actions) != 9 || len(f.Operators) != 7 {
		t.Errorf("actions %v operators %v", f.Actions, f.Operators)
	}
	hasNative := false
	for _, a := range f.Archs {
		hasNative = hasNative || (runtime.GOARCH == "amd64" && a == "SCMP_ARCH_X86_64") || (runtime.GOARCH == "arm64" && a == "SCMP_ARCH_AARCH64")
	}
	if !hasNative {
		t.Errorf("archs %v lack the native architecture", f.Archs)
	}
	for _, a := range f.Archs {
		if _, err := arch(specs.Arch(a)); err != nil {
			t.Errorf("feature arch %s not accepted: %v", a, err)
		}
	}
}

func TestActions(t *testing.T) {
	tests := []struct {
		in       specs.LinuxSeccompAction
		errnoRet *uint
		want     libseccomp.ScmpAction
	}{
		{specs.ActKill, nil, libseccomp.ActKillThread},
		{specs.ActKillThread, nil, libseccomp.ActKillThread},
		{specs.ActKillProcess, nil, libseccomp.ActKillProcess},
		{specs.ActTrap, nil, libseccomp.ActTrap},
		{specs.ActAllow, nil, libseccomp.ActAllow},
		{specs.ActLog, nil, libseccomp.ActLog},
		{specs.ActNotify, nil, libseccomp.ActNotify},
		{specs.ActErrno, nil, libseccomp.ActErrno.SetReturnCode(int16(unix.EPERM))},
		{specs.ActErrno, ptr[uint](5), libseccomp.ActErrno.SetReturnCode(5)},
		{specs.ActTrace, nil, libseccomp.ActTrace.SetReturnCode(int16(unix.EPERM))},
		{specs.ActTrace, ptr[uint](7), libseccomp.ActTrace.SetReturnCode(7)},
	}
	for _, tc := range tests {
		t.Run(string(tc.in), func(t *testing.T) {
			got, err := action(tc.in, tc.errnoRet)
			if err != nil || got != tc.want {
				t.Fatalf("action(%s) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

// TestProgramAcrossProcesses compiles in the test process and loads the
// Program, passed as JSON, in the child: the split a runtime uses to keep
// libseccomp's compile time out of the container's start.
func TestProgramAcrossProcesses(t *testing.T) {
	cfg := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"mkdirat", "mkdir"}, Action: specs.ActErrno, ErrnoRet: ptr[uint](uint(unix.EMLINK))},
	}}
	p, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(p)
	res, _, err := runChild(t, "mkdir", cfg, "OCIKIT_SECCOMP_PROGRAM="+string(data))
	if err != nil || res.Err != "" {
		t.Fatalf("child: %v %s", err, res.Err)
	}
	if res.Errnos["755"] != int(unix.EMLINK) || res.Errnos["thread0"] != int(unix.EMLINK) {
		t.Fatalf("errnos %v, want EMLINK", res.Errnos)
	}
}

func TestCompileCache(t *testing.T) {
	dir := t.TempDir()
	cfgA := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno}}}
	cfgB := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"rmdir"}, Action: specs.ActErrno}}}
	a, err := Compile(cfgA, WithCacheDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Compile(cfgB)
	if err != nil {
		t.Fatal(err)
	}
	if string(a.BPF) == string(b.BPF) {
		t.Fatal("different profiles compiled to the same program")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("cache holds %d entries, want 1", len(ents))
	}
	// Plant B's program under A's key: a cache hit must return it.
	if err := os.WriteFile(filepath.Join(dir, ents[0].Name()), b.BPF, 0o600); err != nil {
		t.Fatal(err)
	}
	again, err := Compile(cfgA, WithCacheDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if string(again.BPF) != string(b.BPF) {
		t.Fatal("Compile did not use the cache")
	}
	// The listener fields do not change the key; the rules do.
	withListener := *cfgA
	withListener.ListenerPath = "/x"
	if cacheKey(&withListener) != cacheKey(cfgA) || cacheKey(cfgA) == cacheKey(cfgB) {
		t.Fatal("cache key")
	}
}

func TestProgramLoadErrors(t *testing.T) {
	if _, err := (&Program{BPF: []byte{1, 2, 3}}).Load(); err == nil || !strings.Contains(err.Error(), "not a BPF program") {
		t.Fatalf("bad program: %v", err)
	}
	if fd, err := (*Program)(nil).Load(); fd != -1 || err != nil {
		t.Fatalf("nil program: %d %v", fd, err)
	}
}
