package process

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/moby/sys/capability"
	"github.com/ocikit/ocikit/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Process attributes change the calling process, so each test runs in a
// child: this test binary re-executed with OCIKIT_PROCESS_CHILD naming the
// scenario and OCIKIT_PROCESS_SPEC holding the spec's process and linux
// objects. The child applies them and prints what it observes as JSON.
func TestMain(m *testing.M) {
	if op := os.Getenv("OCIKIT_PROCESS_CHILD"); op != "" {
		runtime.LockOSThread() // per-thread attributes are read back on this thread
		out, err := childMain(op)
		if err != nil {
			out = map[string]string{"error": err.Error()}
		}
		json.NewEncoder(os.Stdout).Encode(out)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func status() map[string]string {
	b, _ := os.ReadFile("/proc/self/status")
	out := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

func childMain(op string) (map[string]string, error) {
	var spec specs.Spec
	if err := json.Unmarshal([]byte(os.Getenv("OCIKIT_PROCESS_SPEC")), &spec); err != nil {
		return nil, err
	}
	p, l := spec.Process, spec.Linux
	out := map[string]string{}
	switch op {
	case "rlimits":
		if err := SetRlimits(p.Rlimits); err != nil {
			return nil, err
		}
		var lim unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
		out["nofile"] = fmt.Sprintf("%d/%d", lim.Cur, lim.Max)
		unix.Getrlimit(unix.RLIMIT_CORE, &lim)
		out["core"] = fmt.Sprintf("%d/%d", lim.Cur, lim.Max)
	case "user":
		if err := SetUser(p); err != nil {
			return nil, err
		}
		if err := ApplyCapabilities(p.Capabilities); err != nil {
			return nil, err
		}
		if p.NoNewPrivileges {
			if err := SetNoNewPrivileges(); err != nil {
				return nil, err
			}
		}
		st := status()
		for _, k := range []string{"Uid", "Gid", "Groups", "CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb", "NoNewPrivs", "Umask"} {
			out[k] = st[k]
		}
		// Credentials are per thread: every thread must have them.
		ents, _ := os.ReadDir("/proc/self/task")
		for _, e := range ents {
			b, _ := os.ReadFile("/proc/self/task/" + e.Name() + "/status")
			for _, l := range strings.Split(string(b), "\n") {
				for _, k := range []string{"Uid", "Gid", "Groups"} {
					if v, ok := strings.CutPrefix(l, k+":"); ok && strings.TrimSpace(v) != st[k] {
						out["thread"+k] = fmt.Sprintf("thread %s has %s %q, the process %q", e.Name(), k, strings.TrimSpace(v), st[k])
					}
				}
			}
		}
		out["threads"] = strconv.Itoa(len(ents))
		// After execve a non-root process keeps only the ambient set.
		b, err := exec.Command("grep", "-E", "^(CapEff|CapAmb)", "/proc/self/status").Output()
		if err != nil {
			return nil, err
		}
		out["exec"] = strings.Join(strings.Fields(string(b)), " ")
	case "caps":
		var logged bytes.Buffer
		if err := ApplyCapabilities(p.Capabilities, WithLogger(slog.New(slog.NewTextHandler(&logged, nil)))); err != nil {
			return nil, err
		}
		st := status()
		for _, k := range []string{"CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb"} {
			out[k] = st[k]
		}
		out["warnings"] = logged.String()
	case "restricted":
		// Drop CAP_KILL from every set first, as a restricted caller.
		c, err := capability.NewPid2(0)
		if err != nil {
			return nil, err
		}
		if err := c.Load(); err != nil {
			return nil, err
		}
		c.Unset(capability.CAPS|capability.BOUNDS, capability.CAP_KILL)
		if err := c.Apply(capability.CAPS | capability.BOUNDS); err != nil {
			return nil, err
		}
		var logged bytes.Buffer
		if err := ApplyCapabilities(p.Capabilities, WithLogger(slog.New(slog.NewTextHandler(&logged, nil)))); err != nil {
			return nil, err
		}
		st := status()
		for _, k := range []string{"CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb"} {
			out[k] = st[k]
		}
		out["warnings"] = logged.String()
	case "attrs":
		if err := SetOOMScoreAdj(p.OOMScoreAdj); err != nil {
			return nil, err
		}
		if err := SetScheduler(p.Scheduler); err != nil {
			return nil, err
		}
		if err := SetIOPriority(p.IOPriority); err != nil {
			return nil, err
		}
		if err := SetPersonality(l.Personality); err != nil {
			return nil, err
		}
		if err := SetMemoryPolicy(l.MemoryPolicy); err != nil {
			return nil, err
		}
		b, _ := os.ReadFile("/proc/self/oom_score_adj")
		out["oom"] = strings.TrimSpace(string(b))
		// Every thread must have the scheduler policy.
		ents, _ := os.ReadDir("/proc/self/task")
		var pols []string
		for _, e := range ents {
			tid, _ := strconv.Atoi(e.Name())
			a, err := unix.SchedGetAttr(tid, 0)
			if err != nil {
				return nil, err
			}
			pols = append(pols, fmt.Sprintf("%d/%d", a.Policy, a.Nice))
		}
		out["sched"] = strings.Join(pols, " ")
		out["threads"] = strconv.Itoa(len(ents))
		var prios []string
		for _, e := range ents {
			tid, _ := strconv.Atoi(e.Name())
			r, _, errno := unix.Syscall(unix.SYS_IOPRIO_GET, 1, uintptr(tid), 0) // IOPRIO_WHO_PROCESS
			if errno != 0 {
				return nil, errno
			}
			prios = append(prios, fmt.Sprintf("%d/%d", r>>13, r&0x1fff))
		}
		out["ioprio"] = strings.Join(prios, " ")
		// The caller (the test binary) keeps its own I/O priority.
		r, _, _ := unix.Syscall(unix.SYS_IOPRIO_GET, 1, uintptr(os.Getppid()), 0)
		out["parentIoprio"] = fmt.Sprintf("%d/%d", r>>13, r&0x1fff)
		r, _, _ = unix.Syscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)
		out["personality"] = fmt.Sprintf("%#x", r)
		un, _ := exec.Command("uname", "-m").Output()
		out["uname"] = strings.TrimSpace(string(un))
		var mode int
		var mask [16]uint64
		if _, _, e := unix.Syscall6(unix.SYS_GET_MEMPOLICY, uintptr(unsafe.Pointer(&mode)), uintptr(unsafe.Pointer(&mask[0])), 16*64, 0, 0, 0); e != 0 {
			return nil, e
		}
		out["mempolicy"] = fmt.Sprintf("%d/%#x", mode, mask[0])
	case "sysctl":
		if err := ValidateSysctls(l.Sysctl, l.Namespaces); err != nil {
			return nil, err
		}
		if err := WriteSysctls(l.Sysctl); err != nil {
			return nil, err
		}
		for k := range l.Sysctl {
			b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(k, ".", "/"))
			if err != nil {
				return nil, err
			}
			out[k] = strings.TrimSpace(string(b))
		}
	case "affinity":
		if err := SetCPUAffinity(p.ExecCPUAffinity.Final); err != nil {
			return nil, err
		}
		ents, _ := os.ReadDir("/proc/self/task")
		var sets []string
		for _, e := range ents {
			tid, _ := strconv.Atoi(e.Name())
			var set unix.CPUSet
			if err := unix.SchedGetaffinity(tid, &set); err != nil {
				return nil, err
			}
			var cpus []string
			for c := 0; c < 64; c++ {
				if set.IsSet(c) {
					cpus = append(cpus, strconv.Itoa(c))
				}
			}
			sets = append(sets, strings.Join(cpus, ","))
		}
		out["affinity"] = strings.Join(sets, " ")
		out["threads"] = strconv.Itoa(len(ents))
	case "setuser":
		err := SetUser(p)
		out["err"] = fmt.Sprint(err)
		st := status()
		out["Uid"], out["Groups"] = st["Uid"], st["Groups"]
	case "lsm":
		out["apparmor"] = fmt.Sprint(ApplyAppArmor(p.ApparmorProfile))
		out["selinux"] = fmt.Sprint(SetSELinuxLabel(p.SelinuxLabel))
	}
	return out, nil
}

func runChild(t *testing.T, op string, spec *specs.Spec, attr *syscall.SysProcAttr) map[string]string {
	t.Helper()
	data, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "OCIKIT_PROCESS_CHILD="+op, "OCIKIT_PROCESS_SPEC="+string(data))
	cmd.SysProcAttr = attr
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	out := map[string]string{}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("child output %q: %v", b, err)
	}
	if e := out["error"]; e != "" {
		t.Fatalf("child: %s", e)
	}
	return out
}

func expect(t *testing.T, got map[string]string, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestSetRlimits(t *testing.T) {
	testutil.RequireRoot(t) // raising a hard limit needs CAP_SYS_RESOURCE
	got := runChild(t, "rlimits", &specs.Spec{Process: &specs.Process{Rlimits: []specs.POSIXRlimit{
		{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200},
		{Type: "RLIMIT_CORE", Soft: 0, Hard: 1 << 20},
	}}}, nil)
	expect(t, got, map[string]string{"nofile": "100/200", "core": "0/1048576"})
	if err := SetRlimits([]specs.POSIXRlimit{{Type: "RLIMIT_NOPE"}}); err == nil || !strings.Contains(err.Error(), "RLIMIT_NOPE") {
		t.Errorf("bad rlimit name: %v", err)
	}
}

func capMask(bits ...int) string {
	var m uint64
	for _, b := range bits {
		m |= 1 << b
	}
	return fmt.Sprintf("%016x", m)
}

func TestUserAndCapabilities(t *testing.T) {
	testutil.RequireRoot(t)
	umask := uint32(0o027)
	// CAP_CHOWN=0, CAP_KILL=5, CAP_NET_BIND_SERVICE=10.
	spec := &specs.Spec{Process: &specs.Process{
		User: specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 20}, Umask: &umask},
		Capabilities: &specs.LinuxCapabilities{
			Bounding:    []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"},
			Effective:   []string{"CAP_CHOWN", "CAP_NET_BIND_SERVICE"},
			Permitted:   []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"},
			Inheritable: []string{"CAP_NET_BIND_SERVICE"},
			Ambient:     []string{"CAP_NET_BIND_SERVICE"},
		},
		NoNewPrivileges: true,
	}}
	got := runChild(t, "user", spec, nil)
	expect(t, got, map[string]string{
		"Uid":          "1000\t1000\t1000\t1000",
		"Gid":          "1000\t1000\t1000\t1000",
		"Groups":       "10 20",
		"Umask":        "0027",
		"CapBnd":       capMask(0, 5, 10),
		"CapEff":       capMask(0, 10),
		"CapPrm":       capMask(0, 5, 10),
		"CapInh":       capMask(10),
		"CapAmb":       capMask(10),
		"NoNewPrivs":   "1",
		"threadUid":    "",
		"threadGid":    "",
		"threadGroups": "",
		"exec":         "CapEff: " + capMask(10) + " CapAmb: " + capMask(10),
	})
}

// TestApplyCapabilitiesNotGranted runs a child that lacks CAP_KILL (as a
// runtime in a restricted environment may) and asks for it, for a name no
// kernel knows and for capabilities it has: config.md "capabilities" wants
// a warning for each that cannot be granted or mapped, and no failure.
func TestApplyCapabilitiesNotGranted(t *testing.T) {
	testutil.RequireRoot(t)
	all := []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETPCAP", "CAP_NOT_A_CAP"}
	got := runChild(t, "restricted", &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{
		Bounding: all, Effective: all, Permitted: all, Inheritable: all, Ambient: all,
	}}}, nil)
	// CAP_CHOWN=0, CAP_KILL=5, CAP_SETPCAP=8, CAP_NET_BIND_SERVICE=10.
	expect(t, got, map[string]string{
		"CapBnd": capMask(0, 8, 10),
		"CapEff": capMask(0, 8, 10),
		"CapPrm": capMask(0, 8, 10),
		"CapInh": capMask(0, 8, 10),
		"CapAmb": capMask(0, 8, 10),
	})
	for _, name := range []string{"CAP_KILL", "CAP_NOT_A_CAP"} {
		if strings.Count(got["warnings"], name) != 1 {
			t.Errorf("want one warning about %s, got %q", name, got["warnings"])
		}
	}
	if strings.Contains(got["warnings"], "CAP_CHOWN") {
		t.Errorf("warning about a granted capability: %q", got["warnings"])
	}
}

// TestApplyCapabilitiesAmbient: an ambient capability the kernel cannot
// raise (not also inheritable and permitted) is left out with a warning,
// as runc does; configs from `runc spec` 1.1 have exactly that shape.
func TestApplyCapabilitiesAmbient(t *testing.T) {
	testutil.RequireRoot(t)
	runcSpec := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	// CAP_KILL=5, CAP_NET_BIND_SERVICE=10, CAP_AUDIT_WRITE=29.
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
			want:   map[string]string{"CapEff": capMask(5, 10, 29), "CapPrm": capMask(5, 10, 29), "CapInh": capMask(), "CapAmb": capMask()},
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
			want:    map[string]string{"CapPrm": capMask(5), "CapAmb": capMask(5)},
			warned:  []string{"CAP_AUDIT_WRITE"},
			silence: []string{"CAP_KILL"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := runChild(t, "caps", &specs.Spec{Process: &specs.Process{Capabilities: &tc.caps}}, nil)
			if e := got["error"]; e != "" {
				t.Fatal(e)
			}
			expect(t, got, tc.want)
			if strings.Count(got["warnings"], "\n") != 1 || !strings.Contains(got["warnings"], `msg="cannot raise ambient capabilities`) {
				t.Errorf("want one warning, got %q", got["warnings"])
			}
			for _, n := range tc.warned {
				if !strings.Contains(got["warnings"], n) {
					t.Errorf("no warning about ambient %s: %q", n, got["warnings"])
				}
			}
			for _, n := range tc.silence {
				if strings.Contains(got["warnings"], n) {
					t.Errorf("warning about %s, which was raised: %q", n, got["warnings"])
				}
			}
		})
	}
}

func TestProcessAttributes(t *testing.T) {
	testutil.RequireRoot(t)
	adj := 500
	spec := &specs.Spec{
		Process: &specs.Process{
			OOMScoreAdj: &adj,
			Scheduler:   &specs.Scheduler{Policy: specs.SchedBatch, Nice: 7},
			IOPriority:  &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 6},
		},
		Linux: &specs.Linux{
			Personality:  &specs.LinuxPersonality{Domain: specs.PerLinux32},
			MemoryPolicy: &specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0", Flags: []specs.MemoryPolicyFlagType{specs.MpolFStaticNodes}},
		},
	}
	before, _, _ := unix.Syscall(unix.SYS_IOPRIO_GET, 1, 0, 0)
	got := runChild(t, "attrs", spec, nil)
	n, _ := strconv.Atoi(got["threads"])
	want := map[string]string{
		"oom":          "500",
		"sched":        strings.TrimSpace(strings.Repeat("3/7 ", n)),
		"ioprio":       strings.TrimSpace(strings.Repeat("2/6 ", n)),
		"parentIoprio": fmt.Sprintf("%d/%d", before>>13, before&0x1fff),
		"personality":  "0x8",
		"mempolicy":    fmt.Sprintf("%d/0x1", 2|1<<15),
	}
	if runtime.GOARCH == "amd64" {
		want["uname"] = "i686"
	}
	expect(t, got, want)
	if n < 2 {
		t.Logf("child had %d thread(s): the per-thread scheduler check is weak", n)
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
	got := runChild(t, "sysctl", spec, &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS})
	expect(t, got, spec.Linux.Sysctl)
	if now, _ := os.ReadFile("/proc/sys/kernel/shmmni"); string(now) != string(host) {
		t.Errorf("host kernel.shmmni changed: %q -> %q", host, now)
	}
	if err := WriteSysctls(map[string]string{"kernel.panic": "1"}); err == nil || !strings.Contains(err.Error(), "kernel.panic") {
		t.Errorf("non-namespaced sysctl: %v", err)
	}
}

func TestLSMUnavailable(t *testing.T) {
	if AppArmorEnabled() || SELinuxEnabled() {
		t.Skip("a security module is enabled here")
	}
	got := runChild(t, "lsm", &specs.Spec{Process: &specs.Process{ApparmorProfile: "ocikit-test", SelinuxLabel: "system_u:system_r:container_t:s0"}}, nil)
	if !strings.Contains(got["apparmor"], "AppArmor is not enabled") || !strings.Contains(got["apparmor"], "ocikit-test") {
		t.Errorf("apparmor: %s", got["apparmor"])
	}
	if !strings.Contains(got["selinux"], "SELinux is not enabled") {
		t.Errorf("selinux: %s", got["selinux"])
	}
	if err := ValidateProcess(&specs.Process{ApparmorProfile: "x"}); !errors.Is(err, ErrAppArmorUnavailable) {
		t.Errorf("ValidateProcess: %v", err)
	}
	if err := ApplyAppArmor(""); err != nil {
		t.Errorf("empty profile: %v", err)
	}
}

func TestSetCPUAffinity(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("needs two CPUs")
	}
	got := runChild(t, "affinity", &specs.Spec{Process: &specs.Process{ExecCPUAffinity: &specs.CPUAffinity{Final: "1"}}}, nil)
	n, _ := strconv.Atoi(got["threads"])
	expect(t, got, map[string]string{"affinity": strings.TrimSpace(strings.Repeat("1 ", n))})
	if err := ValidateCPUAffinity(&specs.CPUAffinity{Initial: "0-", Final: "1"}); err == nil || !strings.Contains(err.Error(), "execCPUAffinity.initial") {
		t.Errorf("bad initial list: %v", err)
	}
}

func TestNoCapabilitiesMeansNone(t *testing.T) {
	testutil.RequireRoot(t)
	got := runChild(t, "user", &specs.Spec{Process: &specs.Process{}}, nil)
	zero := capMask()
	expect(t, got, map[string]string{"Uid": "0\t0\t0\t0", "CapBnd": zero, "CapEff": zero, "CapPrm": zero, "CapInh": zero, "CapAmb": zero})
}

func TestSetUserSetgroupsDenied(t *testing.T) {
	testutil.RequireRoot(t)
	attr := func() *syscall.SysProcAttr {
		return &syscall.SysProcAttr{
			Cloneflags:                 unix.CLONE_NEWUSER,
			UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}},
			GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}},
			GidMappingsEnableSetgroups: false,
		}
	}
	got := runChild(t, "setuser", &specs.Spec{Process: &specs.Process{User: specs.User{UID: 1000, GID: 1000}}}, attr())
	expect(t, got, map[string]string{"err": "<nil>", "Uid": "1000\t1000\t1000\t1000"})
	got = runChild(t, "setuser", &specs.Spec{Process: &specs.Process{User: specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10}}}}, attr())
	if !strings.Contains(got["err"], "setgroups is denied") {
		t.Errorf("additionalGids with setgroups denied: %s", got["err"])
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
