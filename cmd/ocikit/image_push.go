package main

import (
	"github.com/spf13/cobra"

	"github.com/ocikit/ocikit/distribution"
)

func newImagePushCmd(*globals) *cobra.Command {
	var f copyFlags
	cmd := &cobra.Command{
		Use:   "push [flags] DIR[:TAG] [docker://]HOST[:PORT]/REPO[:TAG]",
		Short: "Copy an image from an OCI layout to a registry",
		Long: `Push is image copy from a layout to a registry. Without a tag in the
registry reference the image is pushed under DIR's TAG (else "latest").`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, dst, err := distribution.PushReferences(args[0], args[1])
			if err != nil {
				return err
			}
			return f.run(cmd, src, dst)
		},
	}
	f.register(cmd.Flags(), false, true)
	cmd.MarkFlagsMutuallyExclusive("all", "platform")
	return cmd
}
