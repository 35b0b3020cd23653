package process

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/ocikit/ocikit/internal/testutil"
	"github.com/ocikit/ocikit/runtime/nsenter"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Sysctls change the calling process's namespaces, so that test runs in a
// child: this test binary re-executed with OCIKIT_PROCESS_CHILD, which
// writes them and prints what it reads back as JSON.
func TestMain(m *testing.M) {
	if os.Getenv("OCIKIT_PROCESS_CHILD") == "sysctl" {
		out := map[string]string{}
		var spec specs.Spec
		err := json.Unmarshal([]byte(os.Getenv("OCIKIT_PROCESS_SPEC")), &spec)
		if err == nil {
			err = ValidateSysctls(spec.Linux.Sysctl, spec.Linux.Namespaces)
		}
		if err == nil {
			err = WriteSysctls(spec.Linux.Sysctl)
		}
		for k := range spec.Linux.Sysctl {
			b, _ := os.ReadFile("/proc/sys/" + strings.ReplaceAll(k, ".", "/"))
			out[k] = strings.TrimSpace(string(b))
		}
		if err != nil {
			out["error"] = err.Error()
		}
		json.NewEncoder(os.Stdout).Encode(out)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// finalRun is what a process that went through the final stage showed.
type finalRun struct {
	out      map[string]string // "key: value" lines the program printed
	err      string            // the error the stage reported
	warnings []string          // the warnings it sent, as JSON
}

// observe is the program the final stage executes in the tests: it prints
// what the process got, one "key: value" per line.
const observe = `grep -E '^(Uid|Gid|Groups|Cap[A-Za-z]+|NoNewPrivs|Umask|Seccomp):' /proc/self/status
echo "oom: $(cat /proc/self/oom_score_adj)"
echo "nofile: $(ulimit -Sn)/$(ulimit -Hn)"
echo "core: $(ulimit -Sc)/$(ulimit -Hc)"
echo "cwd: $(pwd)"
echo "home: $HOME"
echo "machine: $(uname -m)"
echo "fds: $(ls /proc/self/fd | tr '\n' ' ')"
echo "affinity: $(grep Cpus_allowed_list /proc/self/status | cut -f2)"
`

// runFinal runs the final stage of p in a child (this test binary, whose
// nsenter constructor carries it out before Go starts) with attr, and
// returns what the program observe printed, or the stage's error. wrap,
// when given, is a command the child is started through (setpriv).
func runFinal(t *testing.T, p *specs.Process, l *specs.Linux, attr *syscall.SysProcAttr, extraEnv []string, wrap ...string) finalRun {
	t.Helper()
	if p.Args == nil {
		p.Args = []string{"/bin/sh", "-c", observe}
	}
	var pers *specs.LinuxPersonality
	var mpol *specs.LinuxMemoryPolicy
	if l != nil {
		pers, mpol = l.Personality, l.MemoryPolicy
	}
	env := Environ(append([]string{"PATH=/usr/bin:/bin"}, p.Env...), func() string { return "/" })
	f, err := Final(p, env, pers, mpol)
	if err != nil {
		t.Fatal(err)
	}
	f.CloseFrom = 3
	if a := p.ExecCPUAffinity; a != nil {
		if f.CPUFinal, err = CPUSet(a.Final); err != nil {
			t.Fatal(err)
		}
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	parent, child := os.NewFile(uintptr(fds[0]), "sync"), os.NewFile(uintptr(fds[1]), "sync")
	defer parent.Close()
	plan := func(data []byte) *os.File {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		go func() { w.Write(data); w.Close() }()
		return r
	}
	nsPlan, finalPlan := plan([]byte("sync 3\n")), plan(f.Encode())
	args := append(wrap, os.Args[0], "-test.run=^$")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append([]string{"_OCIKIT_NSENTER=4", nsenter.FinalEnv + "=5"}, extraEnv...)
	cmd.ExtraFiles = []*os.File{child, nsPlan, finalPlan}
	cmd.SysProcAttr = attr
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child.Close()
	nsPlan.Close()
	finalPlan.Close()
	var run finalRun
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 65536)
		for {
			n, err := parent.Read(buf)
			if err != nil || n == 0 {
				return
			}
			var m struct{ Type, Msg string }
			json.Unmarshal(buf[:n], &m)
			switch m.Type {
			case "error":
				run.err = m.Msg
			case "warn":
				run.warnings = append(run.warnings, string(buf[:n]))
			}
		}
	}()
	werr := cmd.Wait()
	wg.Wait()
	if run.err == "" && werr != nil {
		t.Fatalf("child: %v (stderr %q)", werr, stderr.String())
	}
	run.out = map[string]string{}
	for _, line := range strings.Split(stdout.String(), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			run.out[k] = strings.TrimSpace(v)
		}
	}
	return run
}

func expect(t *testing.T, got map[string]string, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func capMask(bits ...int) string {
	var m uint64
	for _, b := range bits {
		m |= 1 << b
	}
	return fmt.Sprintf("%016x", m)
}

func TestFinalRlimits(t *testing.T) {
	testutil.RequireRoot(t) // raising a hard limit needs CAP_SYS_RESOURCE
	got := runFinal(t, &specs.Process{Rlimits: []specs.POSIXRlimit{
		{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200},
		{Type: "RLIMIT_CORE", Soft: 0, Hard: 1 << 20},
	}}, nil, nil, nil)
	// dash's ulimit -c counts 512-byte blocks.
	expect(t, got.out, map[string]string{"nofile": "100/200", "core": "0/2048"})
	if _, err := Final(&specs.Process{Args: []string{"x"}, Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOPE"}}}, nil, nil, nil); err == nil || !strings.Contains(err.Error(), "RLIMIT_NOPE") {
		t.Errorf("bad rlimit name: %v", err)
	}
}

func TestFinalUserAndCapabilities(t *testing.T) {
	testutil.RequireRoot(t)
	umask := uint32(0o027)
	// CAP_CHOWN=0, CAP_KILL=5, CAP_NET_BIND_SERVICE=10. After execve a
	// non-root process keeps in its effective set only the ambient one.
	got := runFinal(t, &specs.Process{
		User: specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 20}, Umask: &umask},
		Cwd:  "/tmp",
		Capabilities: &specs.LinuxCapabilities{
			Bounding:    []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"},
			Effective:   []string{"CAP_CHOWN", "CAP_NET_BIND_SERVICE"},
			Permitted:   []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"},
			Inheritable: []string{"CAP_NET_BIND_SERVICE"},
			Ambient:     []string{"CAP_NET_BIND_SERVICE"},
		},
		NoNewPrivileges: true,
	}, nil, nil, nil)
	if got.err != "" {
		t.Fatal(got.err)
	}
	expect(t, got.out, map[string]string{
		"Uid":        "1000\t1000\t1000\t1000",
		"Gid":        "1000\t1000\t1000\t1000",
		"Groups":     "10 20",
		"Umask":      "0027",
		"CapBnd":     capMask(0, 5, 10),
		"CapEff":     capMask(10),
		"CapPrm":     capMask(10),
		"CapInh":     capMask(10),
		"CapAmb":     capMask(10),
		"NoNewPrivs": "1",
		"cwd":        "/tmp",
		"fds":        "0 1 2 3", // 3: ls's own directory
	})
	if len(got.warnings) > 0 {
		t.Errorf("warnings: %q", got.warnings)
	}
}

// TestFinalNoCapabilitiesMeansNone: a root process without
// process.capabilities keeps none, as with runc.
func TestFinalNoCapabilitiesMeansNone(t *testing.T) {
	testutil.RequireRoot(t)
	got := runFinal(t, &specs.Process{}, nil, nil, nil)
	zero := capMask()
	expect(t, got.out, map[string]string{"Uid": "0\t0\t0\t0", "CapBnd": zero, "CapEff": zero, "CapPrm": zero, "CapInh": zero, "CapAmb": zero})
}

// TestFinalCapabilitiesNotGranted runs the stage in a child that lacks
// CAP_KILL (as a runtime in a restricted environment may: setpriv drops
// it from the bounding set, so root's execve does not grant it) and asks
// for it and for capabilities it has: config.md "capabilities" wants a
// warning for each that cannot be granted, and no failure.
func TestFinalCapabilitiesNotGranted(t *testing.T) {
	testutil.RequireRoot(t)
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv (util-linux) not installed")
	}
	all := []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETPCAP"}
	got := runFinal(t, &specs.Process{Capabilities: &specs.LinuxCapabilities{
		Bounding: all, Effective: all, Permitted: all, Inheritable: all, Ambient: all,
	}}, nil, nil, nil, setpriv, "--bounding-set", "-kill")
	if got.err != "" {
		t.Fatal(got.err)
	}
	// CAP_CHOWN=0, CAP_SETPCAP=8, CAP_NET_BIND_SERVICE=10.
	expect(t, got.out, map[string]string{
		"CapBnd": capMask(0, 8, 10),
		"CapEff": capMask(0, 8, 10),
		"CapPrm": capMask(0, 8, 10),
		"CapInh": capMask(0, 8, 10),
		"CapAmb": capMask(0, 8, 10),
	})
	w := strings.Join(got.warnings, "\n")
	if strings.Count(w, "CAP_KILL") != 1 || strings.Contains(w, "CAP_CHOWN") {
		t.Errorf("want one warning, about CAP_KILL: %q", w)
	}
}

// TestFinalCapabilitiesAmbient: an ambient capability the kernel cannot
// raise (not also inheritable and permitted) is left out with one warning
// naming them all, as runc does; configs from `runc spec` 1.1 have exactly
// that shape.
func TestFinalCapabilitiesAmbient(t *testing.T) {
	testutil.RequireRoot(t)
	runcSpec := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	// CAP_KILL=5, CAP_NET_BIND_SERVICE=10, CAP_AUDIT_WRITE=29. The
	// program runs as root: after execve its permitted set is the
	// bounding one; inheritable and ambient show what was set.
	for _, tc := range []struct {
		name    string
		caps    specs.LinuxCapabilities
		want    map[string]string
		warned  []string
		silence []string
	}{
		{
			name:   "runc spec 1.1: no inheritable set",
			caps:   specs.LinuxCapabilities{Bounding: runcSpec, Effective: runcSpec, Permitted: runcSpec, Ambient: runcSpec},
			want:   map[string]string{"CapPrm": capMask(5, 10, 29), "CapInh": capMask(), "CapAmb": capMask()},
			warned: runcSpec,
		},
		{
			name: "one of three inheritable",
			caps: specs.LinuxCapabilities{Bounding: runcSpec, Effective: runcSpec, Permitted: runcSpec,
				Inheritable: []string{"CAP_KILL"}, Ambient: runcSpec},
			want:    map[string]string{"CapPrm": capMask(5, 10, 29), "CapInh": capMask(5), "CapAmb": capMask(5)},
			warned:  []string{"CAP_AUDIT_WRITE", "CAP_NET_BIND_SERVICE"},
			silence: []string{"CAP_KILL"},
		},
		{
			name: "inheritable but not permitted",
			caps: specs.LinuxCapabilities{Bounding: runcSpec, Permitted: []string{"CAP_KILL"},
				Inheritable: runcSpec, Ambient: []string{"CAP_KILL", "CAP_AUDIT_WRITE"}},
			want:    map[string]string{"CapInh": capMask(5, 10, 29), "CapAmb": capMask(5)},
			warned:  []string{"CAP_AUDIT_WRITE"},
			silence: []string{"CAP_KILL"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := runFinal(t, &specs.Process{Capabilities: &tc.caps}, nil, nil, nil)
			if got.err != "" {
				t.Fatal(got.err)
			}
			expect(t, got.out, tc.want)
			w := strings.Join(got.warnings, "\n")
			if len(got.warnings) != 1 || !strings.Contains(w, `"cannot raise ambient capabilities`) {
				t.Fatalf("want one warning, got %q", w)
			}
			for _, n := range tc.warned {
				if !strings.Contains(w, n) {
					t.Errorf("no warning about ambient %s: %q", n, w)
				}
			}
			for _, n := range tc.silence {
				if strings.Contains(w, n) {
					t.Errorf("warning about %s, which was raised: %q", n, w)
				}
			}
		})
	}
}

func TestFinalAttributes(t *testing.T) {
	testutil.RequireRoot(t)
	got := runFinal(t, &specs.Process{
		Scheduler:  &specs.Scheduler{Policy: specs.SchedBatch, Nice: 7},
		IOPriority: &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 6},
		Args:       []string{"/bin/sh", "-c", observe + `echo "nice: $(cut -d' ' -f19 /proc/self/stat)"; echo "policy: $(cut -d' ' -f41 /proc/self/stat)"`},
	}, &specs.Linux{
		Personality:  &specs.LinuxPersonality{Domain: specs.PerLinux32},
		MemoryPolicy: &specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0", Flags: []specs.MemoryPolicyFlagType{specs.MpolFStaticNodes}},
	}, nil, []string{"_OCIKIT_OOM=500"})
	if got.err != "" {
		t.Fatal(got.err)
	}
	want := map[string]string{"oom": "500", "nice": "7", "policy": "3"}
	if runtime.GOARCH == "amd64" {
		want["machine"] = "i686"
	}
	expect(t, got.out, want)
}

func TestFinalCPUAffinity(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("needs two CPUs")
	}
	got := runFinal(t, &specs.Process{ExecCPUAffinity: &specs.CPUAffinity{Final: "1"}}, nil, nil, nil)
	expect(t, got.out, map[string]string{"affinity": "1"})
	if err := ValidateCPUAffinity(&specs.CPUAffinity{Initial: "0-", Final: "1"}); err == nil || !strings.Contains(err.Error(), "execCPUAffinity.initial") {
		t.Errorf("bad initial list: %v", err)
	}
}

// TestFinalErrors: each failure is one line naming the step, sent to the
// runtime; the program never runs.
func TestFinalErrors(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	noexec := filepath.Join(dir, "noexec")
	if err := os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		p    specs.Process
		want string
	}{
		{"no such program", specs.Process{Args: []string{"ocikit-no-such-program"}}, `exec: "ocikit-no-such-program": executable file not found in $PATH`},
		{"missing path", specs.Process{Args: []string{"/nonexistent/x"}}, "exec: stat /nonexistent/x: no such file or directory"},
		{"a directory", specs.Process{Args: []string{dir}}, "exec: exec " + dir + ": is a directory"},
		{"not executable", specs.Process{Args: []string{noexec}}, "exec: exec " + noexec + ": permission denied"},
		{"missing cwd", specs.Process{Args: []string{"/bin/true"}, Cwd: "/nonexistent"}, "cwd: chdir /nonexistent: no such file or directory"},
		{"cwd outside the root", specs.Process{Args: []string{"/bin/true"}, Cwd: "/proc/self/fd/5"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := runFinal(t, &tc.p, nil, nil, nil)
			if tc.want == "" {
				// fd 5 is the plan pipe: not a directory.
				if got.err == "" {
					t.Fatal("no error")
				}
				return
			}
			if got.err != tc.want {
				t.Errorf("error %q, want %q", got.err, tc.want)
			}
		})
	}
}

// TestFinalSetgroupsDenied: in a user namespace whose setgroups is denied
// the user switch works without additional groups and fails with them.
func TestFinalSetgroupsDenied(t *testing.T) {
	testutil.RequireRoot(t)
	attr := func() *syscall.SysProcAttr {
		return &syscall.SysProcAttr{
			Cloneflags:                 unix.CLONE_NEWUSER,
			UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}},
			GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}},
			GidMappingsEnableSetgroups: false,
		}
	}
	got := runFinal(t, &specs.Process{User: specs.User{UID: 1000, GID: 1000}}, nil, attr(), nil)
	expect(t, got.out, map[string]string{"Uid": "1000\t1000\t1000\t1000"})
	got = runFinal(t, &specs.Process{User: specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10}}}, nil, attr(), nil)
	if !strings.Contains(got.err, "setgroups") {
		t.Errorf("additionalGids with setgroups denied: %q", got.err)
	}
}

func TestLSMUnavailable(t *testing.T) {
	if AppArmorEnabled() || SELinuxEnabled() {
		t.Skip("a security module is enabled here")
	}
	if _, err := Final(&specs.Process{Args: []string{"x"}, ApparmorProfile: "ocikit-test"}, nil, nil, nil); !errors.Is(err, ErrAppArmorUnavailable) || !strings.Contains(err.Error(), "ocikit-test") {
		t.Errorf("apparmor: %v", err)
	}
	if _, err := Final(&specs.Process{Args: []string{"x"}, SelinuxLabel: "system_u:system_r:container_t:s0"}, nil, nil, nil); !errors.Is(err, ErrSELinuxUnavailable) {
		t.Errorf("selinux: %v", err)
	}
	if err := ValidateProcess(&specs.Process{ApparmorProfile: "x"}); !errors.Is(err, ErrAppArmorUnavailable) {
		t.Errorf("ValidateProcess: %v", err)
	}
}

func TestWriteSysctls(t *testing.T) {
	testutil.RequireRoot(t)
	host, err := os.ReadFile("/proc/sys/kernel/shmmni")
	if err != nil {
		t.Fatal(err)
	}
	spec := &specs.Spec{Linux: &specs.Linux{
		Namespaces: []specs.LinuxNamespace{{Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace}},
		Sysctl: map[string]string{
			"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234", "kernel.hostname": "ocikit-sysctl", "fs.mqueue.msg_max": "20",
		},
	}}
	data, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "OCIKIT_PROCESS_CHILD=sysctl", "OCIKIT_PROCESS_SPEC="+string(data))
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS}
	b, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("child output %q: %v", b, err)
	}
	if got["error"] != "" {
		t.Fatal(got["error"])
	}
	expect(t, got, spec.Linux.Sysctl)
	if now, _ := os.ReadFile("/proc/sys/kernel/shmmni"); string(now) != string(host) {
		t.Errorf("host kernel.shmmni changed: %q -> %q", host, now)
	}
	if err := WriteSysctls(map[string]string{"kernel.panic": "1"}); err == nil || !strings.Contains(err.Error(), "kernel.panic") {
		t.Errorf("non-namespaced sysctl: %v", err)
	}
}

func TestHomeDir(t *testing.T) {
	dir := t.TempDir()
	passwd := filepath.Join(dir, "passwd")
	content := "# comment\nroot:x:0:0:root:/root:/bin/sh\nbroken:x:notanumber:0::/broken:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nagain:x:1000:1000::/home/again:/bin/sh\nnohome:x:7:7:::/bin/sh\n"
	if err := os.WriteFile(passwd, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		path string
		uid  uint32
		want string
	}{
		{"root", passwd, 0, "/root"},
		{"first entry of a uid", passwd, 1000, "/home/user"},
		{"no entry", passwd, 1234, "/"},
		{"entry without a home", passwd, 7, "/"},
		{"no file", filepath.Join(dir, "missing"), 0, "/"},
		{"a directory", dir, 0, "/"},
		{"a fifo does not block", fifo, 0, "/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := HomeDir(tc.path, tc.uid); got != tc.want {
				t.Errorf("HomeDir(%s, %d) = %q, want %q", tc.path, tc.uid, got, tc.want)
			}
		})
	}
}
