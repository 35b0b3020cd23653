package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/ocikit/ocikit/layout"
)

func newImageTagCmd(*globals) *cobra.Command {
	return &cobra.Command{
		Use:   "tag DIR:SRC|DIR@DIGEST [DIR:]DST...",
		Short: "Give an image in a layout another tag",
		Long: `Add index.json entries named DST pointing where SRC (a tag or a digest)
points, replacing existing entries named DST. Tags follow the ref grammar of
org.opencontainers.image.ref.name. Concurrent tag commands on one layout are
serialized by a file lock; none is lost. DST may repeat the source's DIR
("oci:v1 oci:v2" is the same as "oci:v1 v2").`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ref, err := layout.ParseReference(args[0])
			if err != nil {
				return err
			}
			dsts := make([]string, 0, len(args)-1)
			for _, dst := range args[1:] {
				dst = strings.TrimPrefix(dst, ref.Dir+":")
				if err := layout.ValidateTag(dst); err != nil {
					return err
				}
				dsts = append(dsts, dst)
			}
			l, err := layout.Open(ctx, ref.Dir)
			if err != nil {
				return err
			}
			desc, err := l.Lookup(ctx, ref.Name())
			if err != nil {
				return err
			}
			for _, dst := range dsts {
				if err := l.Tag(ctx, dst, desc); err != nil {
					return err
				}
			}
			return nil
		},
	}
}
