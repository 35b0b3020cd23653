package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"

	"github.com/ocikit/ocikit/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
)

func newExecCmd(g *globals) *cobra.Command {
	var o runtime.ExecOptions
	var processFile string
	var gids []uint
	cmd := &cobra.Command{
		Use:   "exec [flags] ID [COMMAND ARGS...]",
		Short: "Run a new process in a created or running container",
		Long: `Run a new process in a created or running container: in all the namespaces, the
cgroup and the root of its init, with the container's process attributes
(capabilities, rlimits, seccomp, user, environment) changed by the flags,
or with the process described by --process. In the foreground ocikit
forwards signals to it and exits with its status (128+N when killed by
signal N); with --detach it returns once the program runs.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("exec: a container id is required")
			}
			return nil
		},
		// Once the arguments are parsed, a failure of exec itself exits
		// 255, as runc's: never a status the program could have had.
		RunE: func(cmd *cobra.Command, args []string) error {
			code, err := runExec(cmd, g, &o, processFile, gids, args)
			if err != nil {
				return &exitError{code: 255, err: err}
			}
			if code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
	f := cmd.Flags()
	// Flags after the container id belong to the command (exec ID sh -c).
	f.SetInterspersed(false)
	f.StringVarP(&processFile, "process", "p", "", "JSON file of the process to run (runtime-spec process); flags below are ignored")
	f.BoolVarP(&o.Tty, "tty", "t", false, "allocate a pseudo-terminal")
	f.StringVar(&o.ConsoleSocket, "console-socket", "", "unix socket receiving the pty master (with --tty)")
	f.StringVar(&o.Cwd, "cwd", "", "working directory in the container")
	f.StringArrayVarP(&o.Env, "env", "e", nil, "set an environment variable NAME=VALUE (repeatable)")
	f.StringVarP(&o.User, "user", "u", "", "user in the container: uid[:gid]")
	f.UintSliceVarP(&gids, "additional-gids", "g", nil, "additional group ids (repeatable)")
	f.StringArrayVarP(&o.Caps, "cap", "c", nil, "add a capability, e.g. CAP_NET_ADMIN (repeatable)")
	f.BoolVar(&o.NoNewPrivileges, "no-new-privs", false, "set no_new_privs for the process")
	f.StringVar(&o.ApparmorProfile, "apparmor", "", "AppArmor profile of the process")
	f.StringVar(&o.ProcessLabel, "process-label", "", "SELinux label of the process")
	f.StringVar(&o.PidFile, "pid-file", "", "write the process's pid to this file")
	f.BoolVarP(&o.Detach, "detach", "d", false, "return once the program runs; do not wait for it")
	f.IntVar(&o.PreserveFDs, "preserve-fds", 0, "pass this many extra file descriptors (3 and up) to the process")
	f.StringVar(&o.PidfdSocket, "pidfd-socket", "", "unix socket receiving a pidfd of the process")
	f.StringArrayVar(&o.SubCgroups, "cgroup", nil, "join this existing sub-cgroup of the container's: [controller[,controller]:]path (repeatable)")
	f.BoolVar(&o.IgnorePaused, "ignore-paused", false, "allow exec in a paused container (the process runs on resume)")
	return cmd
}

// runExec runs exec and returns the program's exit status.
func runExec(cmd *cobra.Command, g *globals, o *runtime.ExecOptions, processFile string, gids []uint, args []string) (int, error) {
	id := args[0]
	o.Args = args[1:]
	if processFile != "" {
		p, err := readProcess(processFile)
		if err != nil {
			return -1, fmt.Errorf("exec %s: %w", id, err)
		}
		o.Process = p
	}
	for _, gid := range gids {
		if gid > math.MaxUint32 {
			return -1, fmt.Errorf("exec %s: --additional-gids %d: out of range", id, gid)
		}
		o.AdditionalGids = append(o.AdditionalGids, uint32(gid))
	}
	rt, err := g.containers()
	if err != nil {
		return -1, err
	}
	code, err := rt.Exec(cmd.Context(), id, *o)
	if err != nil {
		return -1, fmt.Errorf("exec %s: %w", id, err)
	}
	return code, nil
}

// readProcess reads a runtime-spec process object from path.
func readProcess(path string) (*specs.Process, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--process: %w", err)
	}
	var p specs.Process
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("--process %s: %v", path, err)
	}
	return &p, nil
}
