package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ocikit/ocikit/runtime/defaults"
)

var (
	rtDirOnce sync.Once
	rtDir     string
	rtDirErr  error
)

// runtimeSpecDir returns the directory of the runtime-spec module this
// module builds against.
func runtimeSpecDir(t *testing.T) string {
	t.Helper()
	rtDirOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-json", "github.com/opencontainers/runtime-spec").Output()
		if err != nil {
			rtDirErr = err
			return
		}
		var m struct{ Dir string }
		rtDirErr = json.Unmarshal(out, &m)
		rtDir = m.Dir
	})
	if rtDirErr != nil || rtDir == "" {
		t.Fatalf("locate runtime-spec module: %v", rtDirErr)
	}
	return rtDir
}

func TestEmbeddedRuntimeSchemas(t *testing.T) {
	dir := filepath.Join(runtimeSpecDir(t), "schema")
	want, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := runtimeSchemaFS.ReadDir("runtime-schema")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(want) {
		t.Fatalf("embedded %d schema files, runtime-spec has %d", len(entries), len(want))
	}
	for _, file := range want {
		orig, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		ours, err := runtimeSchemaFS.ReadFile("runtime-schema/" + filepath.Base(file))
		if err != nil || !bytes.Equal(orig, ours) {
			t.Errorf("runtime-schema/%s differs from runtime-spec's (%v)", filepath.Base(file), err)
		}
	}
}

// TestRuntimeSpecFixtures runs runtime-spec's own schema/test/config/good
// and bad documents through RuntimeConfig.
func TestRuntimeSpecFixtures(t *testing.T) {
	base := filepath.Join(runtimeSpecDir(t), "schema", "test", "config")
	n := 0
	for _, sub := range []string{"good", "bad"} {
		files, err := filepath.Glob(filepath.Join(base, sub, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			n++
			t.Run(sub+"/"+filepath.Base(f), func(t *testing.T) {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				r := RuntimeConfig(data)
				for _, p := range r.Problems {
					t.Logf("%s: %v", p.Severity, p)
				}
				if sub == "good" && !r.Valid {
					t.Errorf("want valid: %v", r.Err())
				}
				if sub == "bad" && r.Valid {
					t.Errorf("want invalid, found no error")
				}
			})
		}
	}
	if n < 10 {
		t.Fatalf("only %d runtime-spec fixtures found", n)
	}
}

func TestRuntimeConfigDefaultsValid(t *testing.T) {
	for name, s := range map[string]*specs.Spec{"default": defaults.Spec(), "rootless": defaults.Spec()} {
		if name == "rootless" {
			defaults.ToRootless(s)
		}
		data, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		r := RuntimeConfig(data)
		if len(r.Problems) != 0 {
			t.Errorf("%s spec: %v", name, r.Problems)
		}
	}
}

func TestRuntimeConfigProblems(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(s *specs.Spec)
		want   want
	}{
		{"ociVersion", func(s *specs.Spec) { s.Version = "1.3" }, want{sev: Error, path: "config.json → ociVersion", msg: "not SemVer", clause: "config.md#configSpecificationVersion"}},
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "tmp" }, want{sev: Error, path: "config.json → process.cwd", msg: "MUST be an absolute path"}},
		{"no args", func(s *specs.Spec) { s.Process.Args = nil }, want{sev: Error, path: "config.json → process.args", msg: "at least one entry"}},
		{"env", func(s *specs.Spec) { s.Process.Env = append(s.Process.Env, "JUSTNAME") }, want{sev: Error, path: "config.json → process.env[", msg: `"JUSTNAME" is not NAME=VALUE`}},
		{"duplicate rlimit", func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1, Hard: 2}, {Type: "RLIMIT_NOFILE", Soft: 1, Hard: 2}}
		}, want{sev: Error, path: "config.json → process.rlimits[1].type", msg: "duplicates rlimits[0]"}},
		{"unknown rlimit", func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_FOO", Soft: 1, Hard: 2}}
		}, want{sev: Error, path: "config.json → process.rlimits[0].type", msg: "not a Linux resource"}},
		{"soft above hard", func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 3, Hard: 2}}
		}, want{sev: Error, path: "config.json → process.rlimits[0]", msg: "soft limit 3 exceeds hard limit 2"}},
		{"unknown capability", func(s *specs.Spec) {
			s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_FLY")
		}, want{sev: Warning, path: "config.json → process.capabilities.bounding[", msg: `unknown capability "CAP_FLY"`}},
		{"duplicate namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace})
		}, want{sev: Error, path: "config.json → linux.namespaces[", msg: "namespace pid duplicates", clause: "config-linux.md#configLinuxNamespaces"}},
		{"relative namespace path", func(s *specs.Spec) {
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.NetworkNamespace, Path: "proc/1/ns/net"}}
		}, want{sev: Error, path: "config.json → linux.namespaces[0].path", msg: "MUST be absolute"}},
		{"hook path", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "cleanup.sh"}}}
		}, want{sev: Error, path: "config.json → hooks.poststop[0].path", msg: "MUST be absolute", clause: "config.md#configHooks"}},
		{"hook timeout", func(s *specs.Spec) {
			zero := 0
			s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true", Timeout: &zero}}}
		}, want{sev: Error, path: "config.json → hooks.poststop[0].timeout", msg: "want 1"}},
		{"relative mount", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "data", Type: "tmpfs", Source: "tmpfs"})
		}, want{sev: Warning, path: "config.json → mounts[", msg: "is relative"}},
		{"half idmapping", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/srv", UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}})
		}, want{sev: Error, path: "config.json → mounts[", msg: "uidMappings and gidMappings MUST be specified together"}},
		{"masked path", func(s *specs.Spec) { s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "proc/kcore") }, want{sev: Error, path: "config.json → linux.maskedPaths[", msg: "MUST be absolute"}},
		{"created annotation", func(s *specs.Spec) {
			s.Annotations = map[string]string{"org.opencontainers.image.created": "yesterday"}
		}, want{sev: Error, path: `config.json → annotations["org.opencontainers.image.created"]`, msg: "not an RFC 3339"}},
		{"schema", func(s *specs.Spec) { s.Linux.Namespaces = []specs.LinuxNamespace{{Type: "pidx"}} }, want{sev: Error, path: "config.json → linux.namespaces[0].type", clause: "runtime-spec schema"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := defaults.Spec()
			tt.mutate(s)
			data, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			r := RuntimeConfig(data)
			found := false
			for _, p := range r.Problems {
				t.Logf("%s: %v", p.Severity, p)
				if tt.want.matches(p) {
					found = true
				}
			}
			if !found {
				t.Errorf("missing %+v", tt.want)
			}
			if r.Valid != (tt.want.sev != Error) {
				t.Errorf("Valid = %v", r.Valid)
			}
		})
	}
}

func TestBundle(t *testing.T) {
	dir := t.TempDir()
	data, err := json.Marshal(defaults.Spec())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Bundle(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Valid || len(r.Problems) != 1 || !strings.Contains(r.Problems[0].Message, "root.path rootfs: no such file or directory") {
		t.Fatalf("bundle without rootfs: %v", r.Problems)
	}
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if r, err = Bundle(context.Background(), dir); err != nil || !r.Valid || len(r.Problems) != 0 {
		t.Fatalf("bundle: %v %v", err, r.Problems)
	}
	if _, err := Bundle(context.Background(), filepath.Join(dir, "nope")); !errors.Is(err, ErrNotBundle) {
		t.Fatalf("err = %v, want ErrNotBundle", err)
	}
	os.Remove(filepath.Join(dir, "config.json"))
	if r, _ := Bundle(context.Background(), dir); r.Valid {
		t.Fatal("bundle without config.json is valid")
	}
}
