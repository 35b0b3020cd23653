package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newStartCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "start ID",
		Short: "Run the program of a created container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := g.containers()
			if err != nil {
				return err
			}
			if err := rt.Start(cmd.Context(), args[0]); err != nil {
				return fmt.Errorf("start %s: %w", args[0], err)
			}
			return nil
		},
	}
}
