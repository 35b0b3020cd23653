package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ocikit/ocikit/layer"
	"github.com/ocikit/ocikit/layout"
	"github.com/ocikit/ocikit/repack"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func newImageRepackCmd(g *globals) *cobra.Command {
	var (
		compress, comment string
		rootless          bool
	)
	cmd := &cobra.Command{
		Use:   "repack BUNDLE [DIR[:TAG]]",
		Short: "Store the changes made to an unpacked bundle's rootfs as a new layer",
		Long: `Find what changed in BUNDLE/rootfs since "image unpack" made it (added,
modified and deleted paths, mode, owner, xattr and type changes), write it as
ONE new layer (deletions as whiteouts, a directory removed and recreated as an
opaque whiteout), append it to the image the bundle was unpacked from with a
new config (diff_id and history entry) and manifest, and move TAG to it.

DIR defaults to the layout the bundle came from and TAG to the tag it was
unpacked from (also when DIR is given without ":TAG"). The image the bundle was unpacked from must still be in DIR.
Changes are found from the snapshot "image unpack" left in
BUNDLE/ocikit-snapshot (lstat of every path, no content hashing), which is
then updated, so the next repack records only later changes.

--compress chooses gzip (default, parallel), zstd or none. With
SOURCE_DATE_EPOCH set, mtimes are clamped to it and it dates the config and
history: the same rootfs then gives the same digests.

--rootless (the default when not run as root) is for bundles unpacked
rootless: owners are taken from the user.rootlesscontainers xattrs, files
without one belong to root.`,
		Args: cobra.RangeArgs(1, 2),
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
			bundle := args[0]
			var l *layout.Layout
			tag := ""
			if len(args) == 2 {
				if l, tag, err = openTag(ctx, args[1]); err != nil {
					return err
				}
				if !strings.Contains(args[1], ":") {
					tag = "" // DIR alone: the tag the bundle came from
				}
			} else {
				snap, err := repack.Load(bundle)
				if err != nil {
					return err
				}
				if l, err = layout.Open(ctx, snap.Layout); err != nil {
					return fmt.Errorf("layout of %s: %w", bundle, err)
				}
			}
			opts := []repack.Option{
				repack.WithCompression(c),
				repack.WithHistory(v1.History{CreatedBy: "ocikit image repack", Comment: comment}),
			}
			if epoch != nil {
				opts = append(opts, repack.WithSourceDateEpoch(*epoch))
			}
			if rootlessDefault(cmd, rootless) {
				opts = append(opts, repack.WithRootless())
			}
			res, err := repack.Repack(ctx, bundle, l, tag, opts...)
			if err != nil {
				return err
			}
			g.log().Debug("repacked", "bundle", bundle, "changes", len(res.Changes), "manifest", res.Manifest.Digest)
			printDigest(cmd, res.Manifest.Digest)
			return nil
		},
	}
	addCompressFlag(cmd, &compress)
	cmd.Flags().StringVar(&comment, "history-comment", "", "comment of the new layer's history entry")
	addRootlessFlag(cmd, &rootless)
	return cmd
}
