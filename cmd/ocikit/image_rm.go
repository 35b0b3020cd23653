package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ocikit/ocikit/layout"
)

func newImageRmCmd(*globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rm DIR:TAG...",
		Short: "Remove tags from a layout",
		Long:  `Remove the index.json entries named TAG. Blobs stay until "image gc".`,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			refs := make([]layout.Reference, 0, len(args))
			for _, a := range args {
				ref, err := layout.ParseReference(a)
				if err != nil {
					return err
				}
				if ref.Digest != "" {
					return fmt.Errorf("%s: rm removes tags, not digests", a)
				}
				refs = append(refs, ref)
			}
			for _, ref := range refs {
				l, err := layout.Open(ctx, ref.Dir)
				if err != nil {
					return err
				}
				if err := l.Untag(ctx, ref.Tag); err != nil {
					return err
				}
			}
			return nil
		},
	}
}
