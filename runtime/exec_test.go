package runtime

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestExecProcess(t *testing.T) {
	base := func() *specs.Process {
		return &specs.Process{
			Terminal:    true,
			ConsoleSize: &specs.Box{Height: 1, Width: 2},
			Args:        []string{"sleep", "1000"},
			Env:         []string{"PATH=/bin", "A=1"},
			Cwd:         "/srv",
			User:        specs.User{UID: 5, GID: 6, AdditionalGids: []uint32{9}},
		}
	}
	tests := []struct {
		name  string
		base  *specs.Process
		o     ExecOptions
		check func(t *testing.T, p *specs.Process)
		err   string
	}{
		{name: "args and terminal", base: base(), o: ExecOptions{Args: []string{"sh"}}, check: func(t *testing.T, p *specs.Process) {
			if !reflect.DeepEqual(p.Args, []string{"sh"}) || p.Terminal || p.ConsoleSize != nil || p.Cwd != "/srv" || p.User.UID != 5 {
				t.Errorf("got %+v", p)
			}
		}},
		// runc exec: a replaced variable keeps its place, the last -e wins.
		{name: "env replaces and adds", base: base(), o: ExecOptions{Args: []string{"sh"}, Env: []string{"PATH=/usr/bin", "B=3", "AB=4", "B=5"}}, check: func(t *testing.T, p *specs.Process) {
			if want := []string{"PATH=/usr/bin", "A=1", "B=5", "AB=4"}; !reflect.DeepEqual(p.Env, want) {
				t.Errorf("env %q, want %q", p.Env, want)
			}
		}},
		{name: "user and groups", base: base(), o: ExecOptions{Args: []string{"sh"}, User: "10:20", AdditionalGids: []uint32{30}, Cwd: "/tmp", Tty: true}, check: func(t *testing.T, p *specs.Process) {
			if p.User.UID != 10 || p.User.GID != 20 || !reflect.DeepEqual(p.User.AdditionalGids, []uint32{9, 30}) || p.Cwd != "/tmp" || !p.Terminal {
				t.Errorf("got %+v", p)
			}
		}},
		{name: "uid only keeps gid", base: base(), o: ExecOptions{Args: []string{"sh"}, User: "10"}, check: func(t *testing.T, p *specs.Process) {
			if p.User.UID != 10 || p.User.GID != 6 {
				t.Errorf("user %+v", p.User)
			}
		}},
		{name: "caps", base: &specs.Process{}, o: ExecOptions{Args: []string{"sh"}, Caps: []string{"net_admin", "CAP_KILL"}}, check: func(t *testing.T, p *specs.Process) {
			c := p.Capabilities
			want := []string{"CAP_NET_ADMIN", "CAP_KILL"}
			if !reflect.DeepEqual(c.Bounding, want) || !reflect.DeepEqual(c.Effective, want) || !reflect.DeepEqual(c.Permitted, want) || c.Ambient != nil {
				t.Errorf("caps %+v", c)
			}
		}},
		{name: "caps ambient with inheritable", base: &specs.Process{Capabilities: &specs.LinuxCapabilities{Inheritable: []string{"CAP_CHOWN"}}},
			o: ExecOptions{Args: []string{"sh"}, Caps: []string{"CAP_KILL"}}, check: func(t *testing.T, p *specs.Process) {
				if c := p.Capabilities; !reflect.DeepEqual(c.Ambient, []string{"CAP_KILL"}) || !reflect.DeepEqual(c.Inheritable, []string{"CAP_CHOWN", "CAP_KILL"}) {
					t.Errorf("caps %+v", c)
				}
			}},
		{name: "labels and nnp", base: nil, o: ExecOptions{Args: []string{"sh"}, NoNewPrivileges: true, ApparmorProfile: "a", ProcessLabel: "l"}, check: func(t *testing.T, p *specs.Process) {
			if !p.NoNewPrivileges || p.ApparmorProfile != "a" || p.SelinuxLabel != "l" {
				t.Errorf("got %+v", p)
			}
		}},
		{name: "process file wins", base: base(), o: ExecOptions{Process: &specs.Process{Args: []string{"x"}, Cwd: "/x"}, Args: []string{"y"}, User: "bad", Cwd: "rel"}, check: func(t *testing.T, p *specs.Process) {
			if !reflect.DeepEqual(p.Args, []string{"x"}) || p.Cwd != "/x" {
				t.Errorf("got %+v", p)
			}
		}},
		// config.md: cwd is REQUIRED and MUST be absolute (runc refuses both).
		{name: "process without cwd", base: base(), o: ExecOptions{Process: &specs.Process{Args: []string{"x"}}}, err: "--process: cwd must not be empty"},
		{name: "process with relative cwd", base: base(), o: ExecOptions{Process: &specs.Process{Args: []string{"x"}, Cwd: "rel"}}, err: `--process: cwd "rel" must be an absolute path`},
		{name: "relative --cwd", base: base(), o: ExecOptions{Args: []string{"sh"}, Cwd: "tmp"}, err: `--cwd "tmp" must be an absolute path`},
		{name: "no command", base: base(), o: ExecOptions{}, err: "a command is required"},
		{name: "process without args", base: base(), o: ExecOptions{Process: &specs.Process{}}, err: "--process: args must not be empty"},
		{name: "bad user", base: base(), o: ExecOptions{Args: []string{"sh"}, User: "root"}, err: `--user "root": want uid[:gid]`},
		{name: "bad gid", base: base(), o: ExecOptions{Args: []string{"sh"}, User: "1:x"}, err: `--user "1:x": want uid[:gid]`},
		{name: "bad env", base: base(), o: ExecOptions{Args: []string{"sh"}, Env: []string{"=x"}}, err: `--env "=x": want NAME=VALUE`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := execProcess(tc.base, &tc.o)
			if tc.err != "" {
				if err == nil || !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q (ErrInvalidSpec)", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, p)
		})
	}
}
