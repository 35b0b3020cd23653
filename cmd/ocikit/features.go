package main

import (
	"encoding/json"

	"github.com/ocikit/ocikit/runtime"
	"github.com/spf13/cobra"
)

func newFeaturesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "features",
		Short: "Print the features this runtime implements as JSON (features.md)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := runtime.Features()
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "    ")
			return enc.Encode(f)
		},
	}
}
