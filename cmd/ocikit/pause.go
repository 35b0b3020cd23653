package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newPauseCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "pause ID...",
		Short: "Freeze every process of running containers",
		Long: `Freeze every process of running containers through their cgroup freezer
(cgroup v1 freezer, v2 cgroup.freeze). Their status is "paused" until
resume; kill with SIGKILL and delete --force still work. With --vm the
guest's cgroup is frozen and the VM's vCPUs stopped.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := g.containers()
			if err != nil {
				return err
			}
			for _, id := range args {
				if err := rt.Pause(cmd.Context(), id); err != nil {
					return fmt.Errorf("pause %s: %w", id, err)
				}
			}
			return nil
		},
	}
}
