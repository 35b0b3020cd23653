package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/ocikit/ocikit/validate"
)

func newValidateConfigCmd() *cobra.Command {
	var jsonOut, strict bool
	cmd := &cobra.Command{
		Use:   "validate-config BUNDLE|CONFIG.JSON...",
		Short: "Validate runtime bundles or config.json files against runtime-spec v1.3.0",
		Long: `Validate each BUNDLE (a directory: its config.json, and that root.path is a
directory) or config.json file against the runtime-spec v1.3.0 JSON schema
and the rules of config.md and config-linux.md the schema cannot express.
Each problem is printed with its location (e.g. "config.json →
process.rlimits[1].type") and the clause it breaks; a summary line follows.

Exit status: 0 valid, 1 invalid (with --strict, also on warnings).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var reports []*validate.Report
			for _, arg := range args {
				st, err := os.Stat(arg)
				if err != nil {
					return err
				}
				if st.IsDir() {
					r, err := validate.Bundle(cmd.Context(), arg)
					if err != nil {
						return err
					}
					reports = append(reports, r)
					continue
				}
				data, err := readDocument(cmd.InOrStdin(), arg)
				if err != nil {
					return err
				}
				r := validate.RuntimeConfig(data)
				r.Target = arg
				reports = append(reports, r)
			}
			if len(reports) == 0 {
				return fmt.Errorf("nothing to validate")
			}
			return writeReports(cmd.OutOrStdout(), reports, jsonOut, strict)
		},
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the report as JSON")
	cmd.Flags().BoolVar(&strict, "strict", false, "exit 1 on warnings too")
	return cmd
}
