package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/ocikit/ocikit/layout"
	"github.com/ocikit/ocikit/mutate"
)

func newImageNewCmd(*globals) *cobra.Command {
	var platform string
	cmd := &cobra.Command{
		Use:   "new DIR[:TAG]",
		Short: "Create an empty image (no layers) and tag it",
		Long: `Store an empty image in the layout DIR and point TAG (default "latest") at it:
a config with rootfs type "layers" and no diff_ids for the platform given by
--platform (default: this host's), and a manifest with no layers. Fill it with
"image add-layer" and "image config".

If DIR does not exist, an empty layout is created there first (as "image
init" does); an existing directory must already be a layout. An existing TAG
is moved; the image it named stays in the layout until "image gc".

With SOURCE_DATE_EPOCH set, the config's "created" is that time, so the same
command gives the same digests.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ref, err := layout.ParseReference(args[0])
			if err != nil {
				return err
			}
			if ref.Digest != "" {
				return errors.New("image new: name a tag (DIR:TAG), not a digest")
			}
			p := layout.HostPlatform()
			if platform != "" {
				if p, err = layout.ParsePlatform(platform); err != nil {
					return err
				}
			}
			epoch, err := sourceDateEpoch()
			if err != nil {
				return err
			}
			l, err := layout.Open(ctx, ref.Dir)
			if errors.Is(err, layout.ErrNotFound) {
				l, err = layout.Init(ctx, ref.Dir)
			}
			if err != nil {
				return err
			}
			desc, err := mutate.New(ctx, l, ref.Tag, p, createdOptions(epoch)...)
			if err != nil {
				return err
			}
			printDigest(cmd, desc.Digest)
			return nil
		},
	}
	cmd.Flags().StringVar(&platform, "platform", "", "platform of the image: os/arch[/variant] (default: this host's)")
	return cmd
}
