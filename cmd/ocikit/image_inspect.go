package main

import (
	"encoding/json"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/ocikit/ocikit/layout"
)

func newImageInspectCmd(*globals) *cobra.Command {
	var platform string
	cmd := &cobra.Command{
		Use:   "inspect DIR[:TAG|@DIGEST]",
		Short: "Print an image's manifest and config as JSON",
		Long: `Resolve DIR:TAG (default tag latest) or DIR@DIGEST to one image manifest,
descending image indexes and choosing the host's platform or --platform,
and print {"descriptor", "manifest", "config"} as JSON. config is null
for an artifact whose config is not an image config.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ref, err := layout.ParseReference(args[0])
			if err != nil {
				return err
			}
			var opts []layout.ResolveOption
			if platform != "" {
				p, err := layout.ParsePlatform(platform)
				if err != nil {
					return err
				}
				opts = append(opts, layout.WithPlatform(p))
			}
			l, err := layout.Open(ctx, ref.Dir)
			if err != nil {
				return err
			}
			img, err := l.Resolve(ctx, ref.Name(), opts...)
			if err != nil {
				return err
			}
			out := struct {
				Descriptor v1.Descriptor `json:"descriptor"`
				Manifest   v1.Manifest   `json:"manifest"`
				Config     *v1.Image     `json:"config"`
			}{Descriptor: img.Descriptor, Manifest: img.Manifest}
			if mt := img.Manifest.Config.MediaType; mt == v1.MediaTypeImageConfig || mt == layout.MediaTypeDockerConfig {
				out.Config = &img.Config
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		},
	}
	cmd.Flags().StringVar(&platform, "platform", "", "platform to choose from an image index: os/arch[/variant] (default: the host's)")
	return cmd
}
