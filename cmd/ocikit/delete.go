package main

import (
	"errors"
	"fmt"

	"github.com/ocikit/ocikit/runtime"
	"github.com/spf13/cobra"
)

func newDeleteCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "delete [flags] ID...",
		Aliases: []string{"rm"},
		Short:   "Delete stopped containers (with --force, in any state)",
		Long: `Delete containers: remove their cgroup and state and run their poststop
hooks. runtime-spec allows deleting only a stopped container; --force kills
a created or running one first (also one whose create was interrupted).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := g.containers()
			if err != nil {
				return err
			}
			var errs []error
			for _, id := range args {
				err := rt.Delete(cmd.Context(), id, force)
				if force && errors.Is(err, runtime.ErrNotFound) {
					continue // runc: delete --force of a missing container succeeds
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("delete %s: %w", id, err))
				}
			}
			if len(errs) == 1 {
				return errs[0]
			}
			if len(errs) > 1 {
				return fmt.Errorf("%w (and %d more)", errs[0], len(errs)-1)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill the container first if it is not stopped")
	return cmd
}
