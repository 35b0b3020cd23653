package main

import "github.com/spf13/cobra"

// newImageCmd groups the image-spec commands: the image-layout store,
// validation, unpack, repack and config editing.
func newImageCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Manage OCI image layouts: create, tag, copy, inspect, validate, unpack and repack images",
	}
	cmd.AddCommand(
		newImageInitCmd(g), newImageLsCmd(g), newImageInspectCmd(g), newImageTagCmd(g), newImageRmCmd(g), newImageGCCmd(g),
		newImageCopyCmd(g), newImagePullCmd(g), newImagePushCmd(g), newImageServeCmd(g),
		newImageRunCmd(g), newImageRunWaitCmd(g), newImageRunPrepareCmd(g),
		newImageValidateCmd(g),
		newImageUnpackCmd(g),
		newImageRepackCmd(g), newImageNewCmd(g), newImageAddLayerCmd(g), newImageConfigCmd(g),
	)
	return cmd
}
