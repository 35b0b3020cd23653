package runtime

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ocikit/ocikit/runtime/process"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ExecOptions are the options of exec (runc's flags). Without Process the
// new process is the container's configured process with Args and the
// overrides below applied.
type ExecOptions struct {
	// Process is the complete process to run (runc's --process, the
	// process.json containerd writes); the overrides are then ignored.
	Process *specs.Process

	// Args is the command and its arguments (required without Process).
	Args []string
	// Env is added to the configured environment; a variable already
	// set is replaced.
	Env []string
	// Cwd, when set, replaces the working directory.
	Cwd string
	// User, when set, is "uid[:gid]" (numeric, in the container).
	User string
	// AdditionalGids are added to the configured additional groups.
	AdditionalGids []uint32
	// Caps are added to the bounding, effective and permitted sets (and
	// to the ambient set when the configuration has an inheritable one).
	Caps []string
	// Tty allocates a terminal (process.terminal).
	Tty bool
	// NoNewPrivileges sets process.noNewPrivileges.
	NoNewPrivileges bool
	// ApparmorProfile and ProcessLabel, when set, replace the configured
	// AppArmor profile and SELinux label.
	ApparmorProfile string
	ProcessLabel    string

	// ConsoleSocket receives the pty master (with a terminal).
	ConsoleSocket string
	// PidFile receives the new process's pid once it runs.
	PidFile string
	// PidfdSocket is the path of a unix socket that receives a pidfd of
	// the process once it runs (runc's --pidfd-socket).
	PidfdSocket string
	// Detach returns once the process runs instead of waiting for it.
	Detach bool
	// PreserveFDs passes this many file descriptors after stderr, as
	// CreateOptions.PreserveFDs.
	PreserveFDs int
	// SubCgroups are runc's --cgroup arguments: the process joins these
	// existing sub-cgroups of the container's cgroup instead, as
	// "[controller[,controller...]:]path" (without a controller: the
	// cgroup v2 path, given alone).
	SubCgroups []string
	// IgnorePaused allows exec into a paused container (the process
	// starts frozen, and runs on resume).
	IgnorePaused bool
	// Stdin, Stdout and Stderr are the process's stdio without a
	// terminal (nil: the caller's).
	Stdin, Stdout, Stderr *os.File
}

// execProcess returns the process exec runs: o.Process, or base (the
// container's process.json, modified in place) with o's overrides.
func execProcess(base *specs.Process, o *ExecOptions) (*specs.Process, error) {
	if o.Process != nil {
		p := o.Process
		if len(p.Args) == 0 || p.Args[0] == "" {
			return nil, errorf(ErrInvalidSpec, "--process: args must not be empty")
		}
		if err := checkCwd("--process: cwd", p.Cwd); err != nil {
			return nil, err
		}
		return p, nil
	}
	if len(o.Args) == 0 || o.Args[0] == "" {
		return nil, errorf(ErrInvalidSpec, "exec: a command is required (or --process)")
	}
	p := base
	if p == nil {
		p = &specs.Process{}
	}
	p.Args = o.Args
	p.Terminal = o.Tty
	// A console size is the container's terminal's, not ours.
	p.ConsoleSize = nil
	for _, kv := range o.Env {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, errorf(ErrInvalidSpec, "--env %q: want NAME=VALUE", kv)
		}
	}
	// As runc exec: a variable set again keeps its place with the last
	// value.
	p.Env = process.MergeEnv(append(p.Env, o.Env...))
	if o.Cwd != "" {
		if err := checkCwd("--cwd", o.Cwd); err != nil {
			return nil, err
		}
		p.Cwd = o.Cwd
	}
	if o.User != "" {
		uid, gid, hasGID := strings.Cut(o.User, ":")
		u, err := strconv.ParseUint(uid, 10, 32)
		if err != nil {
			return nil, errorf(ErrInvalidSpec, "--user %q: want uid[:gid] (numbers)", o.User)
		}
		p.User.UID = uint32(u)
		if hasGID {
			g, err := strconv.ParseUint(gid, 10, 32)
			if err != nil {
				return nil, errorf(ErrInvalidSpec, "--user %q: want uid[:gid] (numbers)", o.User)
			}
			p.User.GID = uint32(g)
		}
	}
	p.User.AdditionalGids = append(p.User.AdditionalGids, o.AdditionalGids...)
	if len(o.Caps) > 0 {
		if p.Capabilities == nil {
			p.Capabilities = &specs.LinuxCapabilities{}
		}
		c := p.Capabilities
		for _, name := range o.Caps {
			name = strings.ToUpper(name)
			if !strings.HasPrefix(name, "CAP_") {
				name = "CAP_" + name
			}
			c.Bounding = append(c.Bounding, name)
			c.Effective = append(c.Effective, name)
			c.Permitted = append(c.Permitted, name)
			// An ambient capability needs it inheritable too, which
			// --cap does not add: only with an inheritable set.
			if len(c.Inheritable) > 0 {
				c.Inheritable = append(c.Inheritable, name)
				c.Ambient = append(c.Ambient, name)
			}
		}
	}
	if o.NoNewPrivileges {
		p.NoNewPrivileges = true
	}
	if o.ApparmorProfile != "" {
		p.ApparmorProfile = o.ApparmorProfile
	}
	if o.ProcessLabel != "" {
		p.SelinuxLabel = o.ProcessLabel
	}
	return p, nil
}

// parseSubCgroups parses --cgroup arguments into a map from controller to
// sub-cgroup path ("" for cgroup v2's single path). A path is relative to
// the container's cgroup and never leaves it.
func parseSubCgroups(args []string) (map[string]string, error) {
	if len(args) == 0 {
		return nil, nil
	}
	paths := make(map[string]string, len(args))
	for _, a := range args {
		ctrls, path, ok := strings.Cut(a, ":")
		if !ok {
			if len(args) != 1 {
				return nil, errorf(ErrInvalidSpec, "--cgroup %q: a controller prefix is needed with several --cgroup", a)
			}
			ctrls, path = "", a
		}
		path = filepath.Clean("/" + path)
		for _, c := range strings.Split(ctrls, ",") {
			if c == "" && ok {
				return nil, errorf(ErrInvalidSpec, "--cgroup %q: empty controller", a)
			}
			if _, dup := paths[c]; dup {
				return nil, errorf(ErrInvalidSpec, "--cgroup: controller %s given twice", c)
			}
			paths[c] = path
		}
	}
	return paths, nil
}

// subCgroupPath returns dir with the sub-cgroup of controller, if any (a
// path given without a controller applies to every one, as with runc).
func subCgroupPath(dir, controller string, sub map[string]string) (string, error) {
	p, ok := sub[controller]
	if !ok {
		if p, ok = sub[""]; !ok {
			return dir, nil
		}
	}
	d := filepath.Join(dir, p)
	if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("--cgroup: sub-cgroup %s does not exist", d)
	}
	return d, nil
}

// checkCwd rejects a working directory that is not an absolute path
// (config.md "process": cwd is REQUIRED and MUST be an absolute path), as
// runc does, instead of letting chdir(2) resolve it against wherever the
// process happens to be.
func checkCwd(what, cwd string) error {
	switch {
	case cwd == "":
		return errorf(ErrInvalidSpec, "%s must not be empty (an absolute path)", what)
	case !path.IsAbs(cwd):
		return errorf(ErrInvalidSpec, "%s %q must be an absolute path", what, cwd)
	}
	return nil
}
