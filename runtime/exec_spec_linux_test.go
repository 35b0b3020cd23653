package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestExecSpec: exec's partial read of the configuration copy gives the
// process and the linux fields an exec'd process uses exactly as a full
// decode does, and nothing else.
func TestExecSpec(t *testing.T) {
	oom, limit, persona := 100, int64(5), &specs.LinuxPersonality{Domain: specs.PerLinux32, Flags: []specs.LinuxPersonalityFlag{"x"}}
	full := &specs.Spec{
		Version:     specs.Version,
		Hostname:    "h",
		Root:        &specs.Root{Path: "rootfs", Readonly: true},
		Mounts:      []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}},
		Hooks:       &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true"}}},
		Annotations: map[string]string{"a": "b"},
		Process: &specs.Process{
			Terminal: true, Args: []string{"sh", "-c", "x"}, Env: []string{"PATH=/bin"}, Cwd: "/srv",
			User:            specs.User{UID: 1, GID: 2, AdditionalGids: []uint32{3}},
			Capabilities:    &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}, Effective: []string{"CAP_KILL"}},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 10, Soft: 10}},
			NoNewPrivileges: true, ApparmorProfile: "p", SelinuxLabel: "l", OOMScoreAdj: &oom,
			ExecCPUAffinity: &specs.CPUAffinity{Initial: "0", Final: "0-1"},
		},
		Linux: &specs.Linux{
			UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}},
			GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 2000, Size: 10}},
			Namespaces:  []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace, Path: "/proc/1/ns/net"}},
			Seccomp: &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, ListenerPath: "/run/l.sock", ListenerMetadata: "m",
				Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActAllow}}},
			Personality: persona,
			Resources:   &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}},
			MaskedPaths: []string{"/proc/kcore"},
			CgroupsPath: "/x",
			MountLabel:  "m",
		},
	}
	want := &specs.Spec{Process: full.Process, Linux: &specs.Linux{
		UIDMappings: full.Linux.UIDMappings, GIDMappings: full.Linux.GIDMappings, Namespaces: full.Linux.Namespaces,
		Seccomp: full.Linux.Seccomp, Personality: full.Linux.Personality,
	}}
	for _, tc := range []struct {
		name string
		in   any
		want *specs.Spec
	}{
		{"full", full, want},
		{"no linux", &specs.Spec{Process: full.Process}, &specs.Spec{Process: full.Process, Linux: &specs.Linux{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			data, err := json.Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, configFile), data, 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := execSpec(dir, "c")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(tc.want)
				t.Errorf("execSpec:\n%s\nwant\n%s", g, w)
			}
		})
	}
	t.Run("corrupt", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, configFile), []byte(`{"process":`), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := execSpec(dir, "c"); err == nil {
			t.Error("corrupt config.json read without error")
		}
	})
}
