package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func newStateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "state ID",
		Short: "Print the state of a container as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := g.containers()
			if err != nil {
				return err
			}
			st, err := rt.State(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("state %s: %w", args[0], err)
			}
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(st)
		},
	}
}
