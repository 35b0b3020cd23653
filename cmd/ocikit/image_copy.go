package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ocikit/ocikit/distribution"
	"github.com/ocikit/ocikit/internal/progress"
	"github.com/ocikit/ocikit/layer"
	"github.com/ocikit/ocikit/platform"
)

func newImageCopyCmd(*globals) *cobra.Command {
	var (
		all           bool
		plat          string
		quiet         bool
		compressFmt   string
		compressLevel int
		progressMode  string
	)
	cmd := &cobra.Command{
		Use:   "copy [--all] [--platform OS/ARCH[/VARIANT]] [--progress MODE] [-q] SRC DST",
		Short: "Copy an image between OCI layouts, OCI archives and docker archives",
		Long: `Copy the image SRC names to DST. References use skopeo's syntax:
  oci:DIR[:TAG]            an OCI image layout (made if DIR is missing or empty)
  DIR[:TAG]                the same, as the other image commands take it
  oci:DIR@DIGEST           an image by digest (source only)
  oci-archive:FILE[:TAG]   a tar of an OCI image layout (skopeo, podman save)
  docker-archive:FILE[:NAME[:TAG]]
                           a docker save archive (docker/podman load read it);
                           NAME[:TAG] picks the image by its RepoTags (source)
                           or names it (destination); layers are written
                           uncompressed
  docker-archive:FILE:@N   the N-th image of a docker archive, from 0 (source)
Without TAG a source names its only image (else "latest") and a destination
is tagged "latest". An image index is copied for this host's platform, or
--platform's; --all copies every platform and the index itself. Blobs the
destination has are skipped; everything else is verified as it streams. The
destination's tag is set only after every blob is in place, and an archive
is written (atomically, replacing FILE) only once the copy succeeded.
--dest-compress-format recompresses layers (not already in that format)
while they stream, giving new layer and manifest digests; the config and
its diff_ids stay. Without it every digest is kept.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var opts []distribution.Option
			if all {
				opts = append(opts, distribution.WithAll())
			}
			if plat != "" {
				p, err := platform.Parse(plat)
				if err != nil {
					return err
				}
				opts = append(opts, distribution.WithPlatform(p))
			}
			if compressFmt != "" {
				c, err := layer.ParseCompression(compressFmt)
				if err != nil || c == layer.Uncompressed {
					return fmt.Errorf("--dest-compress-format %q: want gzip or zstd", compressFmt)
				}
				if _, err := layer.CompressLevel(io.Discard, c, compressLevel); err != nil {
					return fmt.Errorf("--dest-compress-level: %w", err)
				}
				opts = append(opts, distribution.WithCompression(c, compressLevel))
			} else if compressLevel != 0 {
				return fmt.Errorf("--dest-compress-level needs --dest-compress-format")
			}
			mode := progressMode
			if quiet {
				mode = progress.None
			}
			rep, err := progress.New(mode, cmd.ErrOrStderr())
			if err != nil {
				return fmt.Errorf("--progress: %w", err)
			}
			if rep != nil {
				opts = append(opts, distribution.WithProgress(rep.Event), distribution.WithProgressBytes(rep.Event))
			}
			res, err := distribution.CopyReference(cmd.Context(), args[0], args[1], opts...)
			if rep != nil {
				rep.Close() // the bars end before the summary
			}
			if err != nil {
				return err
			}
			if !quiet {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %d blobs, %d skipped, %d bytes copied\n", res.Descriptor.Digest, res.Blobs, res.Skipped, res.Bytes)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "copy every platform of an image index, and the index")
	cmd.Flags().StringVar(&plat, "platform", "", "copy this platform's manifest out of an index (default: this host's)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print nothing on success (--progress none, no summary)")
	cmd.Flags().StringVar(&progressMode, "progress", progress.Auto, "on stderr: auto (bars on a terminal, else plain), plain (a line per blob), json (an object per event), none")
	cmd.Flags().StringVar(&compressFmt, "dest-compress-format", "", "recompress layers: gzip or zstd (new layer and manifest digests; diff_ids unchanged)")
	cmd.Flags().IntVar(&compressLevel, "dest-compress-level", 0, "compression level (gzip 1-9, zstd 1-22; default: the format's)")
	cmd.MarkFlagsMutuallyExclusive("all", "platform")
	return cmd
}
