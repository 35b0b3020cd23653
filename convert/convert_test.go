package convert

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ocikit/ocikit/runtime/defaults"
)

var update = flag.Bool("update", false, "rewrite the expected config.json of testdata/cases")

// caseOptions are the overrides a case directory may give in options.json.
type caseOptions struct {
	Args       *[]string `json:"args"`
	Entrypoint *[]string `json:"entrypoint"`
	Env        []string  `json:"env"`
	Cwd        string    `json:"cwd"`
	User       *string   `json:"user"`
	Volumes    bool      `json:"volumesAsMounts"`
}

func (c caseOptions) options() []Option {
	var opts []Option
	if c.Args != nil {
		opts = append(opts, WithArgs(*c.Args...))
	}
	if c.Entrypoint != nil {
		opts = append(opts, WithEntrypoint(*c.Entrypoint...))
	}
	if c.Env != nil {
		opts = append(opts, WithEnv(c.Env...))
	}
	if c.Cwd != "" {
		opts = append(opts, WithCwd(c.Cwd))
	}
	if c.User != nil {
		opts = append(opts, WithUser(*c.User))
	}
	if c.Volumes {
		opts = append(opts, WithVolumesAsMounts())
	}
	return opts
}

func readImage(t *testing.T, file string) v1.Image {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var img v1.Image
	if err := json.Unmarshal(data, &img); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return img
}

// TestRuntimeSpecCases converts each testdata/cases/NAME/image.json (with
// the overrides of options.json) against the fixture root filesystem
// testdata/rootfs and compares with NAME/config.json; every result must
// also pass the runtime-spec JSON schema.
func TestRuntimeSpecCases(t *testing.T) {
	dirs, err := filepath.Glob("testdata/cases/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	schema := loadRuntimeSchema(t)
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			img := readImage(t, filepath.Join(dir, "image.json"))
			var co caseOptions
			if data, err := os.ReadFile(filepath.Join(dir, "options.json")); err == nil {
				if err := json.Unmarshal(data, &co); err != nil {
					t.Fatal(err)
				}
			}
			spec, err := RuntimeSpec(img, "testdata/rootfs", co.options()...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(spec, "", "\t")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			validateRuntimeSchema(t, schema, got)
			golden := filepath.Join(dir, "config.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("config.json differs from %s (rerun with -update after checking):\n%s", golden, got)
			}
		})
	}
}

func TestRuntimeSpecFields(t *testing.T) {
	img := readImage(t, "testdata/cases/spec-example/image.json")
	spec, err := RuntimeSpec(img, "testdata/rootfs")
	if err != nil {
		t.Fatal(err)
	}
	p := spec.Process
	if want := []string{"/bin/my-app-binary", "--foreground", "--config", "/etc/my-app.d/default.cfg"}; !slices.Equal(p.Args, want) {
		t.Errorf("args = %q, want %q", p.Args, want)
	}
	if !slices.Equal(p.Env[:3], img.Config.Env) {
		t.Errorf("env = %q: image Env not first and verbatim", p.Env)
	}
	if !slices.Contains(p.Env, "HOME=/home/alice") {
		t.Errorf("env = %q: no HOME from /etc/passwd", p.Env)
	}
	if p.Cwd != "/home/alice" || p.Terminal {
		t.Errorf("cwd = %q terminal = %v", p.Cwd, p.Terminal)
	}
	if p.User.UID != 1000 || p.User.GID != 1000 || !slices.Equal(p.User.AdditionalGids, []uint32{10, 29, 44}) {
		t.Errorf("user = %+v, want 1000:1000 groups 10,29,44", p.User)
	}
	if spec.Root.Path != "rootfs" || spec.Root.Readonly {
		t.Errorf("root = %+v", spec.Root)
	}
	want := map[string]string{
		AnnotationOS:                     "linux",
		AnnotationArchitecture:           "amd64",
		AnnotationAuthor:                 "Alyssa P. Hacker <alyspdev@example.com>",
		AnnotationCreated:                "2015-10-31T22:22:56.015925234Z",
		AnnotationExposedPorts:           "8080/tcp",
		"com.example.project.git.url":    "https://example.com/project.git",
		"com.example.project.git.commit": "45a939b2999782a3f005621a8d0f29aa387e1d6b",
	}
	for k, v := range want {
		if spec.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, spec.Annotations[k], v)
		}
	}
	// Volumes are only converted when asked.
	for _, m := range spec.Mounts {
		if strings.HasPrefix(m.Destination, "/var/") {
			t.Errorf("unrequested volume mount %s", m.Destination)
		}
	}
	// Everything conversion.md does not set comes from defaults.Spec.
	d := defaults.Spec()
	if !slices.Equal(spec.Linux.MaskedPaths, d.Linux.MaskedPaths) || len(spec.Mounts) != len(d.Mounts) ||
		!slices.Equal(p.Capabilities.Bounding, d.Process.Capabilities.Bounding) {
		t.Error("defaults not kept")
	}
}

func TestRuntimeSpecLabelsPrecedence(t *testing.T) {
	img := readImage(t, "testdata/cases/labels-precedence/image.json")
	spec, err := RuntimeSpec(img, "testdata/rootfs")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		AnnotationAuthor:                 "label author",
		AnnotationArchitecture:           "label-arch",
		AnnotationStopSignal:             "SIGTERM",
		AnnotationExposedPorts:           "9999/tcp",
		AnnotationOS:                     "linux",
		AnnotationOSVersion:              "6.1",
		AnnotationOSFeatures:             "feat-a,feat-b",
		AnnotationCreated:                "2024-02-29T12:00:00+02:00",
		"org.opencontainers.image.title": "demo",
	}
	if len(spec.Annotations) != len(want) {
		t.Errorf("annotations = %v", spec.Annotations)
	}
	for k, v := range want {
		if spec.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, spec.Annotations[k], v)
		}
	}
	img.Config.Labels = nil
	spec, err = RuntimeSpec(img, "testdata/rootfs")
	if err != nil {
		t.Fatal(err)
	}
	if got := spec.Annotations[AnnotationExposedPorts]; got != "443,53/udp,8080/tcp" {
		t.Errorf("exposedPorts = %q, want sorted comma-separated keys", got)
	}
	if got := spec.Annotations[AnnotationStopSignal]; got != "SIGRTMIN+3" {
		t.Errorf("stopSignal = %q", got)
	}
}

func TestRuntimeSpecOverrides(t *testing.T) {
	img := v1.Image{Platform: v1.Platform{OS: "linux", Architecture: "amd64"}}
	img.Config = v1.ImageConfig{
		Entrypoint: []string{"/entry"},
		Cmd:        []string{"a", "b"},
		Env:        []string{"PATH=/image/bin", "X=1", "X=2"},
		WorkingDir: "/w",
		User:       "alice",
	}
	tests := []struct {
		name  string
		opts  []Option
		check func(t *testing.T, s *specs.Spec)
	}{
		{"none", nil, func(t *testing.T, s *specs.Spec) {
			eq(t, "args", s.Process.Args, []string{"/entry", "a", "b"})
			eq(t, "env", s.Process.Env, []string{"PATH=/image/bin", "X=1", "X=2", "HOME=/home/alice"})
		}},
		{"args", []Option{WithArgs("c")}, func(t *testing.T, s *specs.Spec) {
			eq(t, "args", s.Process.Args, []string{"/entry", "c"})
		}},
		{"empty args keep entrypoint", []Option{WithArgs()}, func(t *testing.T, s *specs.Spec) {
			eq(t, "args", s.Process.Args, []string{"/entry"})
		}},
		{"entrypoint drops cmd", []Option{WithEntrypoint("/other", "-x")}, func(t *testing.T, s *specs.Spec) {
			eq(t, "args", s.Process.Args, []string{"/other", "-x"})
		}},
		{"entrypoint and args", []Option{WithArgs("z"), WithEntrypoint("/other")}, func(t *testing.T, s *specs.Spec) {
			eq(t, "args", s.Process.Args, []string{"/other", "z"})
		}},
		{"empty entrypoint with args", []Option{WithEntrypoint(), WithArgs("/bin/true")}, func(t *testing.T, s *specs.Spec) {
			eq(t, "args", s.Process.Args, []string{"/bin/true"})
		}},
		{"env merge", []Option{WithEnv("X=3", "PATH=/p", "HOME=/h"), WithEnv("Y=")}, func(t *testing.T, s *specs.Spec) {
			eq(t, "env", s.Process.Env, []string{"PATH=/p", "X=3", "HOME=/h", "Y="})
		}},
		{"cwd", []Option{WithCwd("/over")}, func(t *testing.T, s *specs.Spec) {
			if s.Process.Cwd != "/over" {
				t.Errorf("cwd = %q", s.Process.Cwd)
			}
		}},
		{"user", []Option{WithUser("bob:audio")}, func(t *testing.T, s *specs.Spec) {
			if u := s.Process.User; u.UID != 1001 || u.GID != 29 || len(u.AdditionalGids) != 0 {
				t.Errorf("user = %+v", u)
			}
		}},
		{"rootless", []Option{WithRootless(), WithUser("alice")}, func(t *testing.T, s *specs.Spec) {
			if u := s.Process.User; u.UID != 1000 || len(u.AdditionalGids) != 0 {
				t.Errorf("user = %+v, want alice without supplementary groups", u)
			}
			want := *defaults.Spec()
			defaults.ToRootless(&want)
			if len(s.Linux.UIDMappings) != 1 || s.Linux.UIDMappings[0] != want.Linux.UIDMappings[0] || s.Linux.Resources != nil {
				t.Errorf("not rootless: %+v", s.Linux)
			}
			if s.Process.Args[0] != "/entry" || s.Root.Path != "rootfs" {
				t.Error("conversion lost by rootless")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := RuntimeSpec(img, "testdata/rootfs", tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
}

func eq(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

func TestRuntimeSpecErrors(t *testing.T) {
	base := v1.Image{Platform: v1.Platform{OS: "linux", Architecture: "amd64"}}
	with := func(f func(*v1.Image)) v1.Image {
		img := base
		img.Config.Cmd = []string{"sh"}
		f(&img)
		return img
	}
	tests := []struct {
		name   string
		img    v1.Image
		opts   []Option
		rootfs string
		want   error
		msg    string
	}{
		{"no command", base, nil, "testdata/rootfs", ErrNoCommand, "convert: no command: neither Entrypoint nor Cmd is set"},
		{"entrypoint override leaves nothing", with(func(i *v1.Image) {}), []Option{WithEntrypoint()}, "testdata/rootfs", ErrNoCommand, ""},
		{"windows", with(func(i *v1.Image) { i.OS = "windows" }), nil, "", ErrUnsupportedOS, `convert: unsupported image os "windows": want linux`},
		{"unknown user", with(func(i *v1.Image) { i.Config.User = "mallory" }), nil, "testdata/rootfs", ErrUnknownUser, `convert: unknown user "mallory": not in /etc/passwd`},
		{"unknown group", with(func(i *v1.Image) { i.Config.User = "alice:nogroup" }), nil, "testdata/rootfs", ErrUnknownGroup, `convert: unknown group "nogroup": not in /etc/group`},
		{"override user unknown", with(func(i *v1.Image) {}), []Option{WithUser("eve")}, "testdata/rootfs", ErrUnknownUser, ""},
		{"name without rootfs", with(func(i *v1.Image) { i.Config.User = "alice" }), nil, "", ErrUnknownUser, `convert: unknown user "alice": rootfs has no /etc/passwd`},
		{"name with empty rootfs", with(func(i *v1.Image) { i.Config.User = "alice" }), nil, t.TempDir(), ErrUnknownUser, `convert: unknown user "alice": rootfs has no /etc/passwd`},
		{"bad env", with(func(i *v1.Image) {}), []Option{WithEnv("NOEQUALS")}, "", ErrInvalidEnv, `convert: invalid environment variable "NOEQUALS": want KEY=VALUE`},
		{"empty env key", with(func(i *v1.Image) {}), []Option{WithEnv("=v")}, "", ErrInvalidEnv, ""},
		{"relative cwd", with(func(i *v1.Image) {}), []Option{WithCwd("rel")}, "", ErrInvalidCwd, `convert: invalid working directory "rel": must be absolute`},
		{"uid range", with(func(i *v1.Image) { i.Config.User = "4294967296" }), nil, "", ErrInvalidUser, ""},
		{"bad user syntax", with(func(i *v1.Image) { i.Config.User = "a:b:c" }), nil, "testdata/rootfs", ErrInvalidUser, `convert: invalid user "a:b:c": want user[:group]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := RuntimeSpec(tt.img, tt.rootfs, tt.opts...)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.msg != "" && err.Error() != tt.msg {
				t.Errorf("message = %q, want %q", err, tt.msg)
			}
		})
	}
}
