package main

import (
	"encoding/json"
	"fmt"

	"github.com/ocikit/ocikit/version"
	"github.com/spf13/cobra"
)

func versionString() string {
	v := version.Get()
	s := "ocikit version " + v.Version
	if v.Commit != "" {
		s += "\ncommit: " + v.Commit
	}
	return s + "\nspec: " + v.RuntimeSpec + "\nimage-spec: " + v.ImageSpec + "\ngo: " + v.GoVersion
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
