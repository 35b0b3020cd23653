package main

import (
	"encoding/json"
	"fmt"

	"github.com/ocikit/ocikit/seccomp"
	"github.com/ocikit/ocikit/version"
	"github.com/spf13/cobra"
)

// versionString is --version: runc's lines in runc's order (callers read
// the first line and "spec:"), then the image-spec version.
func versionString() string {
	v := version.Get()
	s := "ocikit version " + v.Version
	if v.Commit != "" {
		s += "\ncommit: " + v.Commit
	}
	s += "\nspec: " + v.RuntimeSpec + "\ngo: " + v.GoVersion
	if lv := seccomp.LibraryVersion(); lv != "" {
		s += "\nlibseccomp: " + lv
	}
	return s + "\nimage-spec: " + v.ImageSpec
}

func newVersionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and supported specification versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(version.Get())
			}
			_, err := fmt.Fprintln(cmd.OutOrStdout(), versionString())
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
