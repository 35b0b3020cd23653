package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newResumeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "resume ID...",
		Short: "Thaw paused containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := g.containers()
			if err != nil {
				return err
			}
			for _, id := range args {
				if err := rt.Resume(cmd.Context(), id); err != nil {
					return fmt.Errorf("resume %s: %w", id, err)
				}
			}
			return nil
		},
	}
}
