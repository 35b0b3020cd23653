package main

import (
	"encoding/json"

	"github.com/ocikit/ocikit/runtime"
	"github.com/ocikit/ocikit/runtime/vm"
	"github.com/spf13/cobra"
)

func newFeaturesCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "features",
		Short: "Print the features this runtime implements as JSON (features.md); with --vm, VM mode's",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := runtime.Features()
			if err != nil {
				return err
			}
			if g.vm {
				f = vm.Features(f)
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "    ")
			return enc.Encode(f)
		},
	}
}
