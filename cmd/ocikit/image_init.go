package main

import (
	"github.com/spf13/cobra"

	"github.com/ocikit/ocikit/layout"
)

func newImageInitCmd(*globals) *cobra.Command {
	return &cobra.Command{
		Use:   "init DIR",
		Short: "Create an empty OCI image layout",
		Long: `Create an empty OCI image layout in DIR (created if missing): oci-layout,
an index.json without manifests and an empty blobs/ directory. Fails if DIR
already holds a layout.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := layout.Init(cmd.Context(), args[0])
			return err
		},
	}
}
