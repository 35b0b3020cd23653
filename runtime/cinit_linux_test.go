package runtime_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestInitWithoutGo checks which containers get an init that never starts
// Go (one thread, about 100 KiB of its own memory) and that those run as
// the Go init's did: the mounts, hostname, sysctls and process attributes
// the runtime's thread and the C stage set are what the program sees.
func TestInitWithoutGo(t *testing.T) {
	e := newEnv(t)
	hookOut := filepath.Join(t.TempDir(), "hook")
	idSrc := t.TempDir()
	// A sandbox whose namespaces others join by path, as a pod's.
	sandbox := e.id("sandbox")
	e.must("create", "--bundle", e.bundle([]string{"true"}, func(s *specs.Spec) { s.Hostname = "sandbox" }), sandbox)
	sbNS := "/proc/" + strconv.Itoa(e.state(sandbox).Pid) + "/ns/"
	for _, tt := range []struct {
		name   string
		mutate func(*specs.Spec)
		goInit bool
		flags  []string // create's
	}{
		{"default", nil, false, nil},
		{"no cgroup namespace", func(s *specs.Spec) { dropNS(s, specs.CgroupNamespace) }, false, nil},
		{"hostname and sysctl", func(s *specs.Spec) {
			s.Hostname = "cinit"
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_default_ttl": "42", "kernel.shmmax": "12345678"}
		}, false, nil},
		{"user namespace", userNS(300000), true, nil},
		{"no-pivot", nil, false, []string{"--no-pivot"}},
		{"no mount namespace", func(s *specs.Spec) { dropNS(s, specs.MountNamespace) }, false, nil},
		{"joined pid, network and uts namespaces", func(s *specs.Spec) {
			setNS(s, specs.NetworkNamespace, sbNS+"net")
			setNS(s, specs.UTSNamespace, sbNS+"uts")
			setNS(s, specs.PIDNamespace, sbNS+"pid")
			s.Hostname = "" // the sandbox's
		}, false, nil},
		{"time namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 86400}}
		}, false, nil},
		{"createContainer hook", func(s *specs.Spec) {
			// In the container's uts and pid namespaces: its hostname, a
			// small pid.
			s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/sh",
				Args: []string{"sh", "-c", "{ hostname; echo $$; } >" + hookOut}}}}
		}, false, nil},
		{"idmapped mount", func(s *specs.Spec) {
			ids := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/home", Source: idSrc, Type: "bind",
				Options: []string{"bind", "idmap"}, UIDMappings: ids, GIDMappings: ids})
		}, false, nil},
		{"createRuntime hook", func(s *specs.Spec) {
			// The init is in its cgroup when it runs (as with runc).
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c",
				`read -r st; pid=${st#*\"pid\":}; pid=${pid%%,*}; cat /proc/$pid/cgroup >` + hookOut}}}}
		}, false, nil},
		{"startContainer hook", func(s *specs.Spec) {
			// Run by the C stage after start, in the container.
			s.Root.Readonly = false
			s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/sh",
				Args: []string{"sh", "-c", "{ hostname; echo $$; } >/tmp/hook"}}}}
		}, false, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := e.sub(t)
			b := e.bundle([]string{"sh", "-c", "hostname; cat /proc/sys/net/ipv4/ip_default_ttl /proc/sys/kernel/shmmax; " +
				"set -- /*; echo $#; echo $$"}, tt.mutate)
			id := e.id("cinit")
			// The container's stdio is create's: a file read once it ran.
			out := e.tempFile()
			defer out.Close()
			args := append(append([]string{"--root", e.root, "create"}, tt.flags...), "--bundle", b, id)
			cmd := exec.Command(e.bin, args...)
			cmd.Stdout, cmd.Stderr = out, out
			if err := cmd.Run(); err != nil {
				data, _ := os.ReadFile(out.Name())
				t.Fatalf("create: %v: %s", err, data)
			}
			pid := e.state(id).Pid
			status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
			if err != nil {
				t.Fatal(err)
			}
			threads := field(string(status), "Threads:")
			if got := threads != "1"; got != tt.goInit {
				t.Errorf("init has %s threads: Go init %v, want %v", threads, got, tt.goInit)
			}
			if got := field(string(status), "Name:"); got != "ocikit:init" {
				t.Errorf("init's name %q, want ocikit:init", got)
			}
			e.must("start", id)
			waitGone(t, pid)
			e.must("delete", id)
			data, err := os.ReadFile(out.Name())
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Fields(string(data))
			wantHost, wantTTL, wantShm, wantPid := "ocikit", "64", "", "1"
			switch tt.name {
			case "hostname and sysctl":
				wantHost, wantTTL, wantShm = "cinit", "42", "12345678"
			case "joined pid, network and uts namespaces":
				wantHost, wantPid = "sandbox", "2" // the sandbox's init is 1
			}
			if len(lines) != 5 || lines[0] != wantHost || lines[1] != wantTTL || (wantShm != "" && lines[2] != wantShm) ||
				lines[3] != "8" || lines[4] != wantPid {
				t.Errorf("program's output %q: want hostname %s, ip_default_ttl %s, shmmax %q, the rootfs's 8 entries in /, pid %s",
					lines, wantHost, wantTTL, wantShm, wantPid)
			}
			if tt.name == "createRuntime hook" {
				data, err := os.ReadFile(hookOut)
				if err != nil {
					t.Fatal(err)
				}
				if got := memoryCgroup(string(data)); !strings.HasSuffix(got, "/"+id) {
					t.Errorf("the init's cgroup during createRuntime hooks: %q, want the container's: %s", got, data)
				}
			}
			if strings.HasSuffix(tt.name, "Container hook") {
				file := hookOut
				if tt.name == "startContainer hook" {
					file = filepath.Join(e.rootfs, "tmp", "hook")
					defer os.Remove(file)
				}
				data, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				f := strings.Fields(string(data))
				pid := -1
				if len(f) == 2 {
					pid, _ = strconv.Atoi(f[1])
				}
				if len(f) != 2 || f[0] != "ocikit" || pid < 1 || pid > 10 {
					t.Errorf("%s saw hostname and pid %q, want ocikit and a pid of the container's namespace", tt.name, f)
				}
			}
		})
	}
}

// field returns the value of the /proc/PID/status line starting with key.
func field(status, key string) string {
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, key); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
