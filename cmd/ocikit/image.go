package main

import "github.com/spf13/cobra"

// newImageCmd groups the image-spec commands: the image-layout store,
// validation, unpack, repack and config editing.
func newImageCmd(*globals) *cobra.Command {
	return &cobra.Command{
		Use:   "image",
		Short: "Manage OCI image layouts: create, tag, copy, inspect, validate, unpack and repack images",
	}
}

// imageCommands are image's subcommands, in the order of its help.
var imageCommands = []command{
	{[]string{"init"}, newImageInitCmd, nil},
	{[]string{"ls"}, newImageLsCmd, nil},
	{[]string{"inspect"}, newImageInspectCmd, nil},
	{[]string{"tag"}, newImageTagCmd, nil},
	{[]string{"rm"}, newImageRmCmd, nil},
	{[]string{"gc"}, newImageGCCmd, nil},
	{[]string{"copy"}, newImageCopyCmd, nil},
	{[]string{"pull"}, newImagePullCmd, nil},
	{[]string{"push"}, newImagePushCmd, nil},
	{[]string{"serve"}, newImageServeCmd, nil},
	{[]string{"run"}, newImageRunCmd, nil},
	{[]string{"run-wait"}, newImageRunWaitCmd, nil},
	{[]string{"run-prepare"}, newImageRunPrepareCmd, nil},
	{[]string{"validate"}, newImageValidateCmd, nil},
	{[]string{"unpack"}, newImageUnpackCmd, nil},
	{[]string{"repack"}, newImageRepackCmd, nil},
	{[]string{"new"}, newImageNewCmd, nil},
	{[]string{"add-layer"}, newImageAddLayerCmd, nil},
	{[]string{"config"}, newImageConfigCmd, nil},
}
