package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ocikit/ocikit/layout"
)

func newImageGCCmd(*globals) *cobra.Command {
	var (
		dryRun bool
		grace  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "gc DIR",
		Short: "Remove blobs no image in the layout references",
		Long: `Mark every blob reachable from index.json (nested indexes, manifests,
configs, layers, subjects) and remove the others, plus temporary files left
by interrupted writers. Holds the layout's lock, so it is safe alongside
tag/rm. A referenced manifest that is missing or corrupt stops gc before it
removes anything.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			l, err := layout.Open(ctx, args[0])
			if err != nil {
				return err
			}
			var opts []layout.GCOption
			if dryRun {
				opts = append(opts, layout.GCDryRun())
			}
			if grace > 0 {
				opts = append(opts, layout.GCGracePeriod(grace))
			}
			rep, err := l.GC(ctx, opts...)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			verb := "removed"
			if dryRun {
				verb = "would remove"
				for _, d := range rep.Removed {
					fmt.Fprintf(out, "%s blob %s\n", verb, d)
				}
				for _, f := range rep.TempFiles {
					fmt.Fprintf(out, "%s temporary file %s\n", verb, f)
				}
			}
			fmt.Fprintf(out, "%s %d blobs (%d bytes) and %d temporary files (%d bytes); kept %d blobs\n",
				verb, len(rep.Removed), rep.RemovedBytes, len(rep.TempFiles), rep.TempBytes, rep.Kept)
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "report what would be removed without removing it")
	cmd.Flags().DurationVar(&grace, "grace-period", 0, "keep unreferenced blobs modified more recently than this (e.g. 10m), for writers still to tag them")
	return cmd
}
