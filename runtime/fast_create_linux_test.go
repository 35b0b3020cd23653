package runtime_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/runtime/nsenter"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// createProbe prints what a container's init sees that create decides:
// its mounts (mountinfo without the ids and device numbers, which differ
// from one container to the next), /dev, its names, ids, capabilities,
// limits, environment, working directory and cgroups.
const createProbe = `awk '{ for (i = 1; i <= NF; i++) if ($i == "-") break; printf "%s %s", $5, $6; for (j = 7; j < i; j++) printf " %s", $j; printf " - %s %s %s\n", $(i+1), $(i+2), $(i+3) }' /proc/self/mountinfo
ls -ln /dev /dev/pts /dev/shm /dev/mqueue | sed 's/ [A-Z][a-z][a-z] .* / /'
stat -c '%n %f %u:%g %t:%T' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/ptmx /dev/console 2>&1
hostname; domainname 2>/dev/null || cat /proc/sys/kernel/domainname
id; echo "home=$HOME"; env | sort; pwd; umask; ulimit -n; cat /proc/self/oom_score_adj
grep -E '^(Uid|Gid|Groups|Cap[A-Za-z]+|NoNewPrivs|Seccomp|SigBlk|SigIgn|Cpus_allowed_list):' /proc/self/status
cat /proc/self/cgroup
ls /sys/fs/cgroup; ls /sys/fs/cgroup/memory | head -3
for n in mnt pid net ipc uts cgroup; do readlink /proc/self/ns/$n >/dev/null && echo ns-$n; done
cat /proc/sys/kernel/shmmni /proc/sys/net/ipv4/ping_group_range
mkdir /tmp/probe-dir 2>&1 | sed 's/^mkdir: //'; rmdir /tmp/probe-dir 2>/dev/null
touch /probe 2>&1 | sed 's/^touch: //'; cat /proc/kcore 2>&1 | head -c 64; echo; ls /proc/acpi 2>&1
sed 's/.* //' /proc/keys | sort; ps -o pid,args | head -2`

// TestCreateFast: `create` of the configurations runc's and podman's
// callers write runs in C before the Go runtime starts
// (runtime/nsenter/fastcreate.c), and the container it leaves is the Go
// command's: the same state, cgroup files, mounts, devices and process;
// failures say the same; every other case is the Go command's.
func TestCreateFast(t *testing.T) {
	if !nsenter.Available {
		t.Skip("no cgo: no C create")
	}
	e := newEnv(t)
	// The first and the last CPU this test may run on (a CI machine's
	// may not start at 0).
	var cpus unix.CPUSet
	if err := unix.SchedGetaffinity(0, &cpus); err != nil {
		t.Fatal(err)
	}
	first, last := -1, -1
	for i := 0; i < len(cpus)*64; i++ {
		if cpus.IsSet(i) {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	firstCPU, lastCPU := strconv.Itoa(first), strconv.Itoa(last)
	// Namespaces to join by path: a process's network, ipc and uts,
	// with values the probe shows only in them (new namespaces have
	// "1 0" and 4096).
	holder := exec.Command("unshare", "--net", "--ipc", "--uts", "sh", "-c",
		"echo 4 4 >/proc/sys/net/ipv4/ping_group_range && echo 4444 >/proc/sys/kernel/shmmni && exec sleep 1000")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Process.Kill(); holder.Wait() })
	nsPath := func(name string) string { return "/proc/" + strconv.Itoa(holder.Process.Pid) + "/ns/" + name }
	join := func(s *specs.Spec, paths map[specs.LinuxNamespaceType]string) {
		for i, n := range s.Linux.Namespaces {
			if p, ok := paths[n.Type]; ok {
				s.Linux.Namespaces[i].Path = p
			}
		}
	}
	mem, pids := int64(64<<20), int64(100)
	shares := uint64(512)
	weight := uint16(0)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "file"), []byte("bound\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		globals []string // before "create"
		flags   []string // create's
		mutate  func(*specs.Spec)
		fast    bool                // the C path is expected
		err     string              // create fails with this in stderr
		ignore  bool                // the caller ignores SIGPIPE, SIGTERM, SIGHUP and SIGINT
		cpus    string              // the caller's CPU affinity (taskset -c)
		warm    bool                // a Go create first (seccomp: the compiled program's cache)
		raw     func(string) string // edits config.json's text (after the warm-up)
		want    string              // in the probe's output
	}{
		{name: "default", fast: true},
		{name: "podman-like", fast: true, mutate: func(s *specs.Spec) {
			s.Hostname = "box"
			s.Annotations = map[string]string{"io.podman.x": "1", "a": "b c"}
			s.Process.Env = append(s.Process.Env, "HOME=/root", "X=1", "X=2")
			s.Process.Cwd = "/tmp"
			s.Process.User = specs.User{UID: 1000, GID: 100, AdditionalGids: []uint32{10}}
			s.Process.NoNewPrivileges = true
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 1024}}
			s.Mounts = append(s.Mounts,
				specs.Mount{Destination: "/etc/hostname", Type: "bind", Source: filepath.Join(src, "file"), Options: []string{"rbind", "ro"}},
				specs.Mount{Destination: "/mnt/src", Type: "bind", Source: src, Options: []string{"bind", "nosuid", "nodev"}},
				specs.Mount{Destination: "/run", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=755"}})
			s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &mem}
			s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &pids}
			s.Linux.Resources.CPU = &specs.LinuxCPU{Shares: &shares}
			// Docker's zero values: unset.
			s.Linux.Resources.BlockIO = &specs.LinuxBlockIO{Weight: &weight}
		}},
		{name: "read-only root", fast: true, flags: []string{"--no-new-keyring"}, mutate: func(s *specs.Spec) {
			s.Root.Readonly = true
			s.Domainname = "example.org"
			s.Linux.CgroupsPath = "/ocikit-test/" + filepath.Base(s.Root.Path)
		}},
		{name: "no pivot", fast: true, flags: []string{"--no-pivot"}},
		// runc spec's version: a SemVer pre-release.
		{name: "pre-release version", fast: true, mutate: func(s *specs.Spec) { s.Version = "1.0.2-dev" }},
		{name: "leading zero", err: "ociVersion", mutate: func(s *specs.Spec) { s.Version = "1.0.2-01" }},
		// What a Go command's children get: ignored signals back to
		// the default but SIGHUP and SIGINT.
		{name: "ignored signals", fast: true, ignore: true},
		// The init killed during setup (its memory limit): Go's words.
		{name: "init killed", fast: true, err: "init exited during setup: signal: killed", mutate: func(s *specs.Spec) {
			limit := int64(4096)
			s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit}
		}},
		// The cgroup refused while the root filesystem waits for it
		// (the cgroup mount): the cgroup's error.
		{name: "cgroup refused", fast: true, err: "cpu-shares", mutate: func(s *specs.Spec) {
			one := uint64(1)
			s.Linux.Resources.CPU = &specs.LinuxCPU{Shares: &one}
		}},
		// The init runs on one CPU until its execve, then has the
		// caller's affinity, within the container's cpuset.
		{name: "caller's affinity", fast: true, cpus: firstCPU},
		{name: "cpuset", fast: true, mutate: func(s *specs.Spec) { s.Linux.Resources.CPU = &specs.LinuxCPU{Cpus: firstCPU} }},
		{name: "affinity outside the cpuset", fast: true, cpus: lastCPU, mutate: func(s *specs.Spec) {
			s.Linux.Resources.CPU = &specs.LinuxCPU{Cpus: firstCPU}
		}},
		// Namespaces joined by path (podman's network, a pod's
		// sandbox): nsenter joins them in the init.
		{name: "namespaces by path", fast: true, want: "4\t4", mutate: func(s *specs.Spec) {
			s.Hostname, s.Domainname = "", ""
			join(s, map[specs.LinuxNamespaceType]string{specs.NetworkNamespace: nsPath("net"), specs.IPCNamespace: nsPath("ipc"), specs.UTSNamespace: nsPath("uts")})
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		}},
		{name: "network namespace by path", fast: true, want: "4\t4", mutate: func(s *specs.Spec) {
			s.Hostname = "box"
			join(s, map[specs.LinuxNamespaceType]string{specs.NetworkNamespace: nsPath("net")})
		}},
		{name: "missing namespace path", fast: true, err: "/nonexistent-ns", mutate: func(s *specs.Spec) {
			join(s, map[specs.LinuxNamespaceType]string{specs.NetworkNamespace: "/nonexistent-ns"})
		}},
		{name: "namespace of another type", fast: true, err: "invalid argument", mutate: func(s *specs.Spec) {
			join(s, map[specs.LinuxNamespaceType]string{specs.NetworkNamespace: nsPath("ipc")})
		}},
		{name: "pid namespace by path", mutate: func(s *specs.Spec) {
			join(s, map[specs.LinuxNamespaceType]string{specs.PIDNamespace: nsPath("pid")})
		}},
		{name: "rootless flag", globals: []string{"--rootless", "true"}},
		{name: "systemd flag", globals: []string{"--systemd-cgroup"}, err: "systemd"},
		{name: "no cgroup namespace", fast: true, mutate: func(s *specs.Spec) {
			var ns []specs.LinuxNamespace
			for _, n := range s.Linux.Namespaces {
				if n.Type != specs.CgroupNamespace {
					ns = append(ns, n)
				}
			}
			s.Linux.Namespaces = ns
		}},
		// Failures after the init started: reported the same.
		{name: "missing bind source", fast: true, err: "no such file or directory", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: "/nonexistent-ocikit", Options: []string{"bind"}})
		}},
		{name: "no program", fast: true, err: "no such file or directory", mutate: func(s *specs.Spec) {
			s.Process.Args = []string{"/nonexistent"}
		}},
		// Go's.
		{name: "hooks", mutate: func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/true"}}}
		}},
		// linux.seccomp: C once the Go command compiled the profile
		// (seccomp.CEntry), Go's until then.
		{name: "seccomp", warm: true, fast: true, mutate: func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
		}},
		{name: "seccomp profile", warm: true, fast: true, mutate: func(s *specs.Spec) {
			enosys := uint(38)
			s.Process.NoNewPrivileges = false // loaded while the init has CAP_SYS_ADMIN
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
				Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
				Flags:         []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog},
				Syscalls: []specs.LinuxSyscall{
					{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &enosys},
					{Names: []string{"personality"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 8, ValueTwo: 0, Op: specs.OpEqualTo}}},
					{Names: []string{"socket"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0xff, ValueTwo: 40, Op: specs.OpMaskedEqual}}},
				}}
		}},
		// What encoding/json reads and jansson does not: a member
		// name that folds to a known one by Unicode rules (ſ is s),
		// and -0 for an unsigned field. Go's, both.
		{name: "seccomp member that folds", warm: true, mutate: func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
		}, raw: func(c string) string {
			return strings.Replace(c, `"defaultAction":"SCMP_ACT_ALLOW"`,
				`"defaultAction":"SCMP_ACT_ALLOW","ſyscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]`, 1)
		}},
		// A program compiled, then refused by the init: Go's words.
		{name: "seccomp notify without a listener", warm: true, err: "SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath", mutate: func(s *specs.Spec) {
			s.Process.NoNewPrivileges = false
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"mkdir"}, Action: specs.ActNotify},
			}}
		}},
		{name: "minus zero", err: "-0", raw: func(c string) string { return strings.Replace(c, `"uid":0`, `"uid":-0`, 1) }},
		{name: "seccomp not compiled yet", mutate: func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"acct"}, Action: specs.ActErrno},
			}}
		}},
		// Namespaced sysctls, in C when the host has the file and
		// may write it; Go's when not, with its words.
		{name: "sysctl", fast: true, mutate: func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"kernel.shmmni": "4000", "net/ipv4/ping_group_range": "0 0", "net.ipv4.ip_forward": "1"}
		}},
		{name: "sysctl refused", fast: true, err: "write /proc/sys/net/ipv4/ping_group_range: invalid argument", mutate: func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"net.ipv4.ping_group_range": "garbage"}
		}},
		// Writable on the host, read-only in a new network namespace.
		{name: "sysctl read-only in its namespace", fast: true, err: "reopen fd N: permission denied", mutate: func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"net.core.rmem_max": "1000000"}
		}},
		{name: "sysctl missing", err: "nonexistent", mutate: func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"net.ipv4.nonexistent": "1"} }},
		{name: "sysctl read-only", err: "permission denied", mutate: func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"net.ipv4.tcp_available_congestion_control": "cubic"}
		}},
		{name: "sysctl of the host", err: "not namespaced", mutate: func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"kernel.pid_max": "4096"} }},
		{name: "sysctl without its namespace", err: "needs a network namespace", mutate: func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
			var ns []specs.LinuxNamespace
			for _, n := range s.Linux.Namespaces {
				if n.Type != specs.NetworkNamespace {
					ns = append(ns, n)
				}
			}
			s.Linux.Namespaces = ns
		}},
		{name: "user namespace", mutate: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 300000, Size: 65536}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 300000, Size: 65536}}
		}},
		{name: "terminal", err: "--console-socket", mutate: func(s *specs.Spec) { s.Process.Terminal = true }},
		{name: "bad version", err: "ociVersion", mutate: func(s *specs.Spec) { s.Version = "2.0.0" }},
		{name: "console socket flag", flags: []string{"--console-socket", "/nonexistent.sock"}, err: "process.terminal is false"},
	}
	reopenFD := regexp.MustCompile(`reopen fd \d+`)
	masks := regexp.MustCompile(`"(pid|initStart)":\d+|"created":"[^"]*"`)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.sub(t)
			bundle := e.bundle([]string{"sh", "-c", createProbe}, c.mutate)
			id := e.id("cfast")
			if c.warm {
				warm := e.id("warm")
				cmd := e.command("create", "--bundle", bundle, warm)
				cmd.Env = append(os.Environ(), noFast...)
				if _, stderr, err := e.capture(cmd); err != nil && c.err == "" {
					t.Fatalf("warm-up create: %v: %s", err, stderr)
				}
				e.run("delete", "--force", warm)
			}
			if c.raw != nil {
				path := filepath.Join(bundle, "config.json")
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if edited := c.raw(string(data)); edited == string(data) {
					t.Fatal("raw edit changed nothing")
				} else if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var outs, states, stderrs, cgfiles, progs [2]string
			for i, env := range [][]string{nil, noFast} {
				out := e.tempFile()
				cmd := e.command(append(append(append(c.globals, "create", "--bundle", bundle), c.flags...), id)...)
				if c.ignore {
					cmd.Args = append([]string{"sh", "-c", `trap "" PIPE TERM HUP INT; exec "$0" "$@"`}, cmd.Args...)
					cmd.Path = "/bin/sh"
				}
				if c.cpus != "" {
					path, err := exec.LookPath("taskset")
					if err != nil {
						t.Skip("no taskset")
					}
					cmd.Args = append([]string{"taskset", "-c", c.cpus}, cmd.Args...)
					cmd.Path = path
				}
				cmd.Env = append(append(os.Environ(), "GODEBUG=inittrace=1"), env...)
				errf := e.tempFile()
				cmd.Stdout, cmd.Stderr = out, errf
				err := cmd.Run()
				se, _ := os.ReadFile(errf.Name())
				fast := !strings.Contains(string(se), "init internal/")
				stderrs[i] = strings.TrimSpace(initTrace.ReplaceAllString(string(se), ""))
				// pathrs-lite names the descriptor it reopens, whose
				// number depends on what the command opened before.
				stderrs[i] = reopenFD.ReplaceAllString(stderrs[i], "reopen fd N")
				if fast != (c.fast && env == nil) {
					t.Errorf("C path taken: %v (C path allowed: %v), want %v", fast, env == nil, c.fast)
				}
				if c.err != "" {
					if err == nil || !strings.Contains(stderrs[i], c.err) {
						t.Errorf("create (C path allowed: %v): %v, %q; want an error with %q", env == nil, err, stderrs[i], c.err)
					}
					if _, serr := os.Stat(filepath.Join(e.root, id)); serr == nil {
						t.Errorf("a failed create left its state directory")
					}
					out.Close()
					continue
				}
				if err != nil {
					t.Fatalf("create (C path allowed: %v): %v: %s", env == nil, err, stderrs[i])
				}
				data, err := os.ReadFile(filepath.Join(e.root, id, "state.json"))
				if err != nil {
					t.Fatal(err)
				}
				states[i] = masks.ReplaceAllString(string(data), `"$1":0`)
				st := e.state(id)
				if st.Status != specs.StateCreated || st.Pid <= 0 {
					t.Errorf("state after create: %+v", st)
				}
				cgfiles[i] = cgroupFiles(t, data)
				prog, _ := os.ReadFile(filepath.Join(e.root, id, "exec.seccomp"))
				progs[i] = string(prog)
				e.must("start", id)
				waitGone(t, st.Pid)
				e.must("delete", id)
				o, _ := os.ReadFile(out.Name())
				outs[i] = strings.ReplaceAll(string(o), id, "ID")
				out.Close()
			}
			if c.err != "" {
				if stderrs[0] != stderrs[1] {
					t.Errorf("stderr with the C path %q, with Go %q", stderrs[0], stderrs[1])
				}
				return
			}
			if outs[0] != outs[1] {
				t.Errorf("the init saw with the C path:\n%s\nwith Go:\n%s", outs[0], outs[1])
			}
			if states[0] != states[1] {
				t.Errorf("state.json with the C path:\n%s\nwith Go:\n%s", states[0], states[1])
			}
			if progs[0] != progs[1] {
				t.Errorf("exec.seccomp with the C path: %d bytes, with Go: %d bytes, not the same", len(progs[0]), len(progs[1]))
			}
			if cgfiles[0] != cgfiles[1] {
				t.Errorf("cgroup files with the C path:\n%s\nwith Go:\n%s", cgfiles[0], cgfiles[1])
			}
			if !strings.Contains(outs[0], c.want) {
				t.Errorf("probe printed no %q:\n%s", c.want, outs[0])
			}
			if !strings.Contains(outs[0], "ns-mnt") {
				t.Errorf("probe printed %q", outs[0])
			}
		})
	}
}

// cgroupFiles lists the limits in the cgroup directories state.json names
// (read while the container is created).
func cgroupFiles(t *testing.T, state []byte) string {
	t.Helper()
	var rec struct {
		Cgroup struct {
			Paths map[string]string `json:"paths"`
		} `json:"cgroup"`
	}
	if err := json.Unmarshal(state, &rec); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for ctl, dir := range rec.Cgroup.Paths {
		for _, f := range []string{"devices.list", "memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes",
			"pids.max", "cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us", "blkio.weight", "blkio.bfq.weight", "cpuset.cpus", "cpuset.mems",
			"memory.max", "pids.max", "cpu.max", "cpu.weight", "io.weight"} {
			if data, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
				lines = append(lines, ctl+"/"+f+": "+strings.TrimSpace(string(data)))
			}
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestRunFast: `run` of a configuration the C create takes stays in C
// (start, the relay, the wait, the delete) and behaves as the Go
// command: output, stdin, exit status, --keep, --detach.
func TestRunFast(t *testing.T) {
	if !nsenter.Available {
		t.Skip("no cgo: no C run")
	}
	e := newEnv(t)
	probe := e.bundle([]string{"sh", "-c", `read line; echo "got $line"; echo err >&2; ` + createProbe + `; exit 3`}, nil)
	sleeper := e.bundle([]string{"sleep", "1000"}, nil)
	for _, c := range []struct {
		name   string
		flags  []string
		bundle string
		code   int
		state  specs.ContainerState // after run returns; "" for none
	}{
		{name: "foreground", bundle: probe, code: 3},
		{name: "keep", flags: []string{"--keep"}, bundle: probe, code: 3, state: specs.StateStopped},
		{name: "detach", flags: []string{"--detach"}, bundle: sleeper, state: specs.StateRunning},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := e.sub(t)
			var outs, errs [2]string
			for i, env := range [][]string{nil, noFast} {
				id := e.id("rfast")
				cmd := e.command(append(append([]string{"run", "--bundle", c.bundle}, c.flags...), id)...)
				cmd.Env = append(append(os.Environ(), "GODEBUG=inittrace=1"), env...)
				cmd.Stdin = strings.NewReader("hello\n")
				out, stderr, err := e.capture(cmd)
				fast := !strings.Contains(stderr, "init internal/")
				if fast != (env == nil) {
					t.Errorf("C path taken: %v, want %v", fast, env == nil)
				}
				if exitCode(err) != c.code && !(c.code == 0 && err == nil) {
					t.Errorf("run (C path allowed: %v): %v, want exit status %d", env == nil, err, c.code)
				}
				outs[i] = strings.ReplaceAll(out, id, "ID")
				errs[i] = strings.TrimSpace(initTrace.ReplaceAllString(stderr, ""))
				_, serr := os.Stat(filepath.Join(e.root, id))
				if c.state == "" {
					if serr == nil {
						t.Errorf("run left the container")
					}
					continue
				}
				if st := e.state(id); st.Status != c.state {
					t.Errorf("after run: %s, want %s", st.Status, c.state)
				}
				e.must("delete", "--force", id)
			}
			if outs[0] != outs[1] || errs[0] != errs[1] {
				t.Errorf("run with the C path:\n%s\n%s\nwith Go:\n%s\n%s", outs[0], errs[0], outs[1], errs[1])
			}
			if c.code == 3 && !strings.Contains(outs[0], "got hello") {
				t.Errorf("run printed %q", outs[0])
			}
		})
	}
}

// TestInitPinHooks: the init runs on one CPU until the program's execve
// (nsenter's "cpus" line), but neither a startContainer hook it starts
// nor the program sees that: both have the runtime's affinity.
func TestInitPinHooks(t *testing.T) {
	e := newEnv(t)
	self, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`Cpus_allowed_list:\s*(\S+)`).FindStringSubmatch(string(self))
	if want == nil {
		t.Skip("no Cpus_allowed_list in /proc/self/status")
	}
	status := `sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status`
	bundle := e.bundle([]string{"sh", "-c", `echo "hook $(cat /mnt/pin/hook)"; echo "program $(` + status + `)"`}, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt/pin", Type: "tmpfs", Source: "tmpfs"})
		s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", status + " >/mnt/pin/hook"}}}}
	})
	for i := 0; i < 5; i++ {
		out := e.must("run", "--bundle", bundle, e.id("pinhook"))
		if exp := "hook " + want[1] + "\nprogram " + want[1] + "\n"; out != exp {
			t.Fatalf("run printed %q, want %q", out, exp)
		}
	}
}
