package main

import (
	"fmt"

	"github.com/ocikit/ocikit/runtime"
	"github.com/spf13/cobra"
)

func newKillCmd(g *globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "kill [flags] ID [SIGNAL]",
		Short: "Send a signal (default SIGTERM) to a container's process",
		Long: `Send a signal to the container's init process, or with --all to every
process in its cgroup. SIGNAL is a name with or without the SIG prefix
(TERM, SIGKILL, RTMIN+1) or a number; the default is SIGTERM.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := "SIGTERM"
			if len(args) == 2 {
				name = args[1]
			}
			sig, err := runtime.ParseSignal(name)
			if err != nil {
				return fmt.Errorf("kill %s: %w", args[0], err)
			}
			rt, err := g.containers()
			if err != nil {
				return err
			}
			if err := rt.Kill(cmd.Context(), args[0], sig, all); err != nil {
				return fmt.Errorf("kill %s: %w", args[0], err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "signal every process in the container's cgroup")
	return cmd
}
