package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/ocikit/ocikit/layer"
	"github.com/ocikit/ocikit/mutate"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func newImageAddLayerCmd(*globals) *cobra.Command {
	var (
		compress, comment, createdBy, platform string
		rootless                               bool
	)
	cmd := &cobra.Command{
		Use:   "add-layer DIR[:TAG] PATH",
		Short: "Append a layer made from a directory or a tar archive",
		Long: `Append one layer to the image TAG (default "latest") names and move TAG to the
result (a new config with the layer's diff_id and a history entry, and a new
manifest); the previous image stays in the layout until "image gc".

PATH is either a directory, whose whole content (not PATH itself) becomes the
layer: walked in sorted order, with owners, modes, xattrs (PAX SCHILY.xattr),
hardlinks, symlinks, devices and FIFOs, without user or group names; or a tar
archive, copied entry for entry as it is (a gzip or zstd compressed one is
decompressed first), so its digest is the layer's diff_id.

--compress chooses the stored compression: gzip (default, parallel), zstd or
none. With SOURCE_DATE_EPOCH set, mtimes newer than it are clamped to it and
it dates the config and history, so the same input gives the same digests.

--rootless (the default when not run as root) makes a directory's files
belong to root in the layer, or to the owner in their user.rootlesscontainers
xattr (as a rootless "image unpack" records it).`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := layer.ParseCompression(compress)
			if err != nil {
				return err
			}
			epoch, err := sourceDateEpoch()
			if err != nil {
				return err
			}
			st, err := os.Stat(args[1])
			if err != nil {
				return fmt.Errorf("layer source: %w", err)
			}
			l, tag, err := openTag(ctx, args[0])
			if err != nil {
				return err
			}
			img, err := resolveBase(ctx, l, tag, platform)
			if err != nil {
				return err
			}
			var gen mutate.LayerFunc
			if st.IsDir() {
				var gopts []layer.GenerateOption
				if epoch != nil {
					gopts = append(gopts, layer.WithSourceDateEpoch(*epoch))
				}
				if rootlessDefault(cmd, rootless) {
					gopts = append(gopts, layer.WithRootlessOwners())
				}
				gen = mutate.DirLayer(args[1], gopts...)
			} else {
				gen = mutate.TarLayer(args[1])
			}
			if createdBy == "" {
				createdBy = commandLine()
			}
			opts := append(createdOptions(epoch),
				mutate.WithCompression(c),
				mutate.WithHistory(v1.History{CreatedBy: createdBy, Comment: comment}))
			desc, err := mutate.AppendLayer(ctx, l, tag, img.Manifest, img.Config, gen, opts...)
			if err != nil {
				return err
			}
			printDigest(cmd, desc.Digest)
			return nil
		},
	}
	addCompressFlag(cmd, &compress)
	cmd.Flags().StringVar(&comment, "history-comment", "", "comment of the layer's history entry")
	cmd.Flags().StringVar(&createdBy, "history-created-by", "", "created_by of the layer's history entry (default: this command line)")
	addRootlessFlag(cmd, &rootless)
	addPlatformFlag(cmd, &platform)
	return cmd
}
