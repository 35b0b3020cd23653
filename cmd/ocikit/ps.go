package main

import (
	"encoding/json"
	"fmt"
	"os"

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
ignores PS-OPTIONS, as runc). With --vm both are the guest's: ps runs in
the VM and the pids are the guest's.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, psArgs := args[0], args[1:]
			if len(psArgs) > 0 && psArgs[0] == "--" {
				psArgs = psArgs[1:]
			}
			if format != "table" && format != "json" {
				return fmt.Errorf("ps %s: unknown --format %q: want table or json", id, format)
			}
			rt, err := g.containers()
			if err != nil {
				return err
			}
			if format == "json" {
				pids, err := rt.Pids(cmd.Context(), id)
				if err != nil {
					return fmt.Errorf("ps %s: %w", id, err)
				}
				return json.NewEncoder(os.Stdout).Encode(pids)
			}
			out, err := rt.ProcessTable(cmd.Context(), id, psArgs)
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
