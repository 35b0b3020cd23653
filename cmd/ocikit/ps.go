package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/ocikit/ocikit/runtime"
	"github.com/spf13/cobra"
)

func newPsCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "ps [--format table|json] ID [-- PS-OPTIONS...]",
		Short: "List the processes of a container",
		Long: `List the processes in a container's cgroup. The table format runs the
host's ps with PS-OPTIONS (default -ef) and keeps the lines of the
container's processes; json prints their host pids as a JSON array (and
ignores PS-OPTIONS, as runc).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, psArgs := args[0], args[1:]
			if len(psArgs) > 0 && psArgs[0] == "--" {
				psArgs = psArgs[1:]
			}
			if format != "table" && format != "json" {
				return fmt.Errorf("ps %s: unknown --format %q: want table or json", id, format)
			}
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			pids, err := rt.Pids(cmd.Context(), id)
			if err != nil {
				return fmt.Errorf("ps %s: %w", id, err)
			}
			if format == "json" {
				return json.NewEncoder(os.Stdout).Encode(pids)
			}
			out, err := runtime.Ps(cmd.Context(), pids, psArgs)
			if err != nil {
				return fmt.Errorf("ps %s: %w", id, err)
			}
			_, err = os.Stdout.Write(out)
			return err
		},
	}
	// Options after the container id belong to ps (runc ps ID -o pid,comm).
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().StringVarP(&format, "format", "f", "table", "output format: table or json")
	return cmd
}
