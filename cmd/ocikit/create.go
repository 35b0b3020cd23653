package main

import (
	"bytes"
	"fmt"
	"os"

	"github.com/ocikit/ocikit/runtime"
	"github.com/spf13/cobra"
)

// runtime returns the Runtime the global flags describe.
func (g *globals) runtime() (*runtime.Runtime, error) {
	rootless, err := g.rootlessCgroups()
	if err != nil {
		return nil, err
	}
	return runtime.New(g.root, runtime.WithLogger(g.log()), runtime.WithSystemdCgroup(g.systemdCgroup),
		runtime.WithRootless(rootless)), nil
}

// rootlessCgroups is --rootless: true, false, or auto as runc decides it:
// rootless unless root of the host's user namespace (a rootless podman
// runs the runtime as root of a user namespace of its own).
func (g *globals) rootlessCgroups() (bool, error) {
	switch g.rootless {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "auto", "":
		if os.Geteuid() != 0 {
			return true, nil
		}
		m, err := os.ReadFile("/proc/self/uid_map")
		if err != nil {
			return false, nil
		}
		return !isHostUIDMap(m), nil
	}
	return false, fmt.Errorf("--rootless %q: want true, false or auto", g.rootless)
}

// isHostUIDMap reports whether uid_map is the initial user namespace's
// ("0 0 4294967295").
func isHostUIDMap(m []byte) bool {
	f := bytes.Fields(m)
	return len(f) == 3 && string(f[0]) == "0" && string(f[1]) == "0" && string(f[2]) == "4294967295"
}

// addCreateFlags adds the flags create and run share (runc's).
func addCreateFlags(cmd *cobra.Command, bundle *string, o *runtime.CreateOptions) {
	f := cmd.Flags()
	f.StringVarP(bundle, "bundle", "b", ".", "path to the bundle (the directory holding config.json)")
	f.StringVar(&o.PidFile, "pid-file", "", "write the container init's pid to this file")
	f.StringVar(&o.ConsoleSocket, "console-socket", "", "unix socket receiving the pty master when process.terminal is true")
	f.BoolVar(&o.NoPivot, "no-pivot", false, "use MS_MOVE and chroot instead of pivot_root (rootfs on a ramdisk)")
	f.BoolVar(&o.NoNewKeyring, "no-new-keyring", false, "keep the caller's session keyring")
	f.IntVar(&o.PreserveFDs, "preserve-fds", 0, "pass this many extra file descriptors (3 and up) to the container")
}

func newCreateCmd(g *globals) *cobra.Command {
	var bundle string
	var o runtime.CreateOptions
	cmd := &cobra.Command{
		Use:   "create [flags] ID",
		Short: "Create a container from a bundle; `start` runs its program",
		Long: `Create a container from an OCI bundle: set up its namespaces, cgroup, root
filesystem and process attributes, run its prestart, createRuntime and
createContainer hooks, and leave its init waiting for "start".`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			o.ListenFDs = runtime.SocketActivation()
			if _, err := rt.Create(cmd.Context(), args[0], bundle, o); err != nil {
				return fmt.Errorf("create %s: %w", args[0], err)
			}
			return nil
		},
	}
	addCreateFlags(cmd, &bundle, &o)
	return cmd
}
