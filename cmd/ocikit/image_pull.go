package main

import (
	"github.com/spf13/cobra"

	"github.com/ocikit/ocikit/distribution"
)

func newImagePullCmd(*globals) *cobra.Command {
	var f copyFlags
	cmd := &cobra.Command{
		Use:   "pull [flags] [docker://]HOST[:PORT]/REPO[:TAG|@DIGEST] [DIR[:TAG]]",
		Short: "Copy an image from a registry into an OCI layout",
		Long: `Pull is image copy from a registry to a layout. DIR defaults to the last
component of REPO, TAG to the registry reference's tag (else "latest").`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := ""
			if len(args) == 2 {
				dir = args[1]
			}
			src, dst, err := distribution.PullReferences(args[0], dir)
			if err != nil {
				return err
			}
			return f.run(cmd, src, dst)
		},
	}
	f.register(cmd.Flags(), true, false)
	cmd.MarkFlagsMutuallyExclusive("all", "platform")
	return cmd
}
