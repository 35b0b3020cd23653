package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func newListCmd(g *globals) *cobra.Command {
	var format string
	var quiet bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List containers",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rt, err := g.containers()
			if err != nil {
				return err
			}
			list, err := rt.List(cmd.Context())
			if err != nil {
				return err
			}
			if quiet {
				for _, s := range list {
					fmt.Println(s.ID)
				}
				return nil
			}
			switch format {
			case "json":
				// As runc: no container is "null".
				return json.NewEncoder(os.Stdout).Encode(list)
			case "table", "":
				w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
				fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
				for _, s := range list {
					fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle,
						s.Created.Format(time.RFC3339Nano), s.Owner)
				}
				return w.Flush()
			default:
				return fmt.Errorf("list: unknown --format %q: want table or json", format)
			}
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "table", "output format: table or json")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the container ids")
	return cmd
}
