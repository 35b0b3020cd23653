package main

import (
	"fmt"

	"github.com/ocikit/ocikit/runtime"
	"github.com/spf13/cobra"
)

// runtime returns the Runtime the global flags describe; with --vm the
// commands that need the plain runtime (pause, ps, events, update) fail.
func (g *globals) runtime() (*runtime.Runtime, error) {
	if g.vm {
		return nil, errNoVM
	}
	rootless, err := runtime.RootlessCgroups(g.rootless)
	if err != nil {
		return nil, err
	}
	return runtime.New(g.root, runtime.WithLogger(g.log()), runtime.WithSystemdCgroup(g.systemdCgroup),
		runtime.WithRootless(rootless)), nil
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
	f.StringVar(&o.PidfdSocket, "pidfd-socket", "", "unix socket receiving a pidfd of the container's init")
	f.StringVar(&o.Config, "config", "", "configuration file instead of the bundle's config.json (its relative paths stay relative to the bundle)")
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
			rt, err := g.containers()
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
	// Accepted for runc's callers; create never waits for the init, so
	// whether it would be a subreaper does not matter.
	cmd.Flags().Bool("no-subreaper", false, "accepted and ignored: create does not wait for the container")
	return cmd
}
