package runtime_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// environ splits /proc/PID/environ content into its entries.
func environ(data string) []string {
	return strings.FieldsFunc(data, func(r rune) bool { return r == 0 })
}

// TestProcessEnvironment checks the program's environment against what
// runc 1.1.5 gives it (measured with runc run and exec on this host):
// duplicate names collapsed (first place, last value) and HOME from the
// container's /etc/passwd for process.user ("/" without an entry) when
// process.env has no HOME, for run, exec and exec --process.
func TestProcessEnvironment(t *testing.T) {
	e := newEnv(t)
	dup := []string{"PATH=/bin", "A=1", "B=2", "A=3"}
	runs := []struct {
		name string
		uid  uint32
		env  []string
		want string
	}{
		{"root", 0, dup, "PATH=/bin A=3 B=2 HOME=/root"},
		{"user", 1000, dup, "PATH=/bin A=3 B=2 HOME=/home/user"},
		{"no passwd entry", 1234, dup, "PATH=/bin A=3 B=2 HOME=/"},
		{"HOME given", 1000, []string{"PATH=/bin", "HOME=/x"}, "PATH=/bin HOME=/x"},
		{"empty HOME", 1000, []string{"HOME=", "PATH=/bin"}, "HOME=/home/user PATH=/bin"},
	}
	runc, _ := exec.LookPath("runc")
	for _, tc := range runs {
		t.Run("run/"+tc.name, func(t *testing.T) {
			e := e.sub(t)
			b := e.bundle([]string{"cat", "/proc/self/environ"}, func(s *specs.Spec) {
				s.Process.Env = tc.env
				s.Process.User = specs.User{UID: tc.uid, GID: tc.uid}
			})
			out := e.must("run", "--bundle", b, e.id("env"))
			if got := strings.Join(environ(out), " "); got != tc.want {
				t.Errorf("environment %q, want %q", got, tc.want)
			}
			if runc == "" {
				return
			}
			cmd := exec.Command(runc, "--root", t.TempDir(), "run", "--bundle", b, e.id("envrunc"))
			rout, err := cmd.Output()
			if err != nil {
				t.Fatalf("runc run: %v", err)
			}
			if got := strings.Join(environ(string(rout)), " "); got != tc.want {
				t.Errorf("runc gives %q, the test wants %q", got, tc.want)
			}
		})
	}

	id, _ := e.running("env", func(s *specs.Spec) { s.Process.Env = dup })
	procFile := filepath.Join(t.TempDir(), "process.json")
	data, err := json.Marshal(specs.Process{
		Args: []string{"cat", "/proc/self/environ"},
		Env:  []string{"Q=1", "Q=2", "PATH=/bin"},
		Cwd:  "/",
		User: specs.User{UID: 1000, GID: 1000},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(procFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	execs := []struct {
		name string
		args []string
		want string
	}{
		{"config", []string{id, "cat", "/proc/self/environ"}, "PATH=/bin A=3 B=2 HOME=/root"},
		{"env flags", []string{"-e", "A=9", "-e", "X=1", "-e", "X=2", id, "cat", "/proc/self/environ"}, "PATH=/bin A=9 B=2 X=2 HOME=/root"},
		{"user", []string{"-u", "1000", id, "cat", "/proc/self/environ"}, "PATH=/bin A=3 B=2 HOME=/home/user"},
		{"HOME flag", []string{"-e", "HOME=/h", id, "cat", "/proc/self/environ"}, "PATH=/bin A=3 B=2 HOME=/h"},
		{"process file", []string{"--process", procFile, id}, "Q=2 PATH=/bin HOME=/home/user"},
	}
	for _, tc := range execs {
		t.Run("exec/"+tc.name, func(t *testing.T) {
			e := e.sub(t)
			out := e.must(append([]string{"exec"}, tc.args...)...)
			if got := strings.Join(environ(out), " "); got != tc.want {
				t.Errorf("environment %q, want %q", got, tc.want)
			}
		})
	}
}

// TestAmbientNotInheritable runs the capabilities `runc spec` 1.1 writes:
// ambient ones that are not inheritable, which the kernel cannot raise.
// runc goes on; so does ocikit, with one warning naming them in its log.
func TestAmbientNotInheritable(t *testing.T) {
	e := newEnv(t)
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	b := e.bundle([]string{"sh", "-c", "grep -E '^Cap(Prm|Amb)' /proc/self/status"}, func(s *specs.Spec) {
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps, Ambient: caps}
	})
	log := filepath.Join(t.TempDir(), "log")
	check := func(t *testing.T, what, out string) {
		t.Helper()
		// CAP_KILL=5, CAP_NET_BIND_SERVICE=10, CAP_AUDIT_WRITE=29.
		if got := strings.Join(strings.Fields(out), " "); got != "CapPrm: 0000000020000420 CapAmb: 0000000000000000" {
			t.Errorf("%s: capabilities %q", what, got)
		}
		data, _ := os.ReadFile(log)
		want := `msg="cannot raise ambient capabilities (each must be permitted and inheritable)" container=`
		if !strings.Contains(string(data), want) || !strings.Contains(string(data), "capabilities=CAP_KILL,CAP_NET_BIND_SERVICE,CAP_AUDIT_WRITE") {
			t.Errorf("%s: no warning about the ambient capabilities in the log: %q", what, data)
		}
	}
	out := e.must("--log", log, "run", "--bundle", b, e.id("ambient"))
	check(t, "run", out)
	os.Remove(log)
	id, _ := e.running("ambient", func(s *specs.Spec) {
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps, Ambient: caps}
	})
	os.Remove(log)
	out = e.must("--log", log, "exec", id, "sh", "-c", "grep -E '^Cap(Prm|Amb)' /proc/self/status")
	check(t, "exec", out)
}

// TestHookEnvironment checks, for each kind of hook, the environment a
// hook without env inherits and its working directory, against what runc
// 1.1.5 does (measured here): the runtime's environment and the bundle
// for the runtime's hooks; the process's environment (collapsed, before
// HOME is added) and the container's root for createContainer; the
// process's environment and working directory for startContainer. A hook
// with env, even an empty one, gets exactly that.
func TestHookEnvironment(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	realRootfs, err := filepath.EvalSymlinks(e.rootfs)
	if err != nil {
		t.Fatal(err)
	}
	// args: name; writes its working directory and environment to
	// dir/name (what cat inherits from the shell: the shell's own PWD
	// and SHLVL are left out below, and the order is the shell's).
	script := filepath.Join(dir, "hook.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\npwd -P > "+dir+"/$1; exec cat /proc/self/environ >> "+dir+"/$1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	hook := func(name string, env []string) specs.Hook {
		return specs.Hook{Path: script, Args: []string{"hook.sh", name}, Env: env}
	}
	inContainer := func(name string) specs.Hook {
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "pwd -P > /hooks/" + name + "; exec cat /proc/self/environ >> /hooks/" + name}}
	}
	b := e.bundle([]string{"true"}, func(s *specs.Spec) {
		s.Process.Env = []string{"PATH=/bin", "C=1", "C=2"}
		s.Process.Cwd = "/tmp"
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/hooks", Type: "bind", Source: dir, Options: []string{"bind"}})
		s.Hooks = &specs.Hooks{
			Prestart:        []specs.Hook{hook("prestart", nil)},
			CreateRuntime:   []specs.Hook{hook("createRuntime", nil), hook("createRuntime-env", []string{"ONLY=1"})},
			CreateContainer: []specs.Hook{hook("createContainer", nil), hook("createContainer-empty", []string{})},
			StartContainer:  []specs.Hook{inContainer("startContainer")},
			Poststart:       []specs.Hook{hook("poststart", nil)},
			Poststop:        []specs.Hook{hook("poststop", nil)},
		}
	})
	// specs.Hook drops an empty env when encoded (omitempty): write it.
	var raw map[string]any
	data, err := os.ReadFile(filepath.Join(b, "config.json"))
	if err == nil {
		err = json.Unmarshal(data, &raw)
	}
	if err != nil {
		t.Fatal(err)
	}
	raw["hooks"].(map[string]any)["createContainer"].([]any)[1].(map[string]any)["env"] = []string{}
	if data, err = json.Marshal(raw); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(e.bin, "--root", e.root, "run", "--bundle", b, e.id("hookenv"))
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "OCIKIT_HOOKTEST=runtime"}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("run: %v: %s", err, out)
	}
	runtimeEnv := "PATH=/usr/sbin:/usr/bin:/sbin:/bin OCIKIT_HOOKTEST=runtime"
	for _, tc := range []struct {
		name, dir, env string
	}{
		{"prestart", b, runtimeEnv},
		{"createRuntime", b, runtimeEnv},
		{"createRuntime-env", b, "ONLY=1"},
		{"createContainer", realRootfs, "PATH=/bin C=2"},
		{"createContainer-empty", realRootfs, ""},
		{"startContainer", "/tmp", "PATH=/bin C=2 HOME=/root"},
		{"poststart", b, runtimeEnv},
		{"poststop", b, runtimeEnv},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, tc.name))
			if err != nil {
				t.Fatalf("hook did not run: %v", err)
			}
			wd, env, _ := strings.Cut(string(data), "\n")
			if want, _ := filepath.EvalSymlinks(tc.dir); wd != want && wd != tc.dir {
				t.Errorf("working directory %q, want %q", wd, tc.dir)
			}
			var kept []string
			for _, kv := range environ(env) {
				if !strings.HasPrefix(kv, "PWD=") && !strings.HasPrefix(kv, "SHLVL=") && !strings.HasPrefix(kv, "OLDPWD=") {
					kept = append(kept, kv)
				}
			}
			slices.Sort(kept)
			want := strings.Fields(tc.env)
			slices.Sort(want)
			if got := strings.Join(kept, " "); got != strings.Join(want, " ") {
				t.Errorf("environment %q, want %q", got, tc.env)
			}
		})
	}
}

// TestOOMScoreAdjRefused: an oomScoreAdj the kernel refuses (a score below
// the current one without CAP_SYS_RESOURCE) fails create with the write's
// error (config.md: the runtime MUST set it), as runc, instead of leaving
// the process at its old score.
func TestOOMScoreAdjRefused(t *testing.T) {
	e := newEnv(t)
	setpriv := testutil.RequireTool(t, "setpriv")
	adj := -500
	b := e.bundle([]string{"cat", "/proc/self/oom_score_adj"}, func(s *specs.Spec) { s.Process.OOMScoreAdj = &adj })
	id := e.id("oom-refused")
	cmd := exec.Command(setpriv, "--bounding-set", "-sys_resource", e.bin, "--root", e.root, "run", "--bundle", b, id)
	out, err := cmd.CombinedOutput()
	want := "oomScoreAdj: set -500: write /proc/self/oom_score_adj: permission denied"
	if err == nil || !strings.Contains(string(out), want) {
		t.Errorf("run without CAP_SYS_RESOURCE: %v: %q, want an error containing %q", err, out, want)
	}
	if ents, _ := os.ReadDir(e.root); len(ents) != 0 {
		t.Errorf("state root holds %v after the failed run", ents)
	}
}
