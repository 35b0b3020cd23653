package main

import (
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/ocikit/ocikit/layout"
)

func newImageGCCmd(g *globals) *cobra.Command {
	var (
		dryRun bool
		grace  time.Duration
		store  string
	)
	cmd := &cobra.Command{
		Use:   "gc DIR | gc --store [DIR]",
		Short: "Remove blobs no image in the layout references",
		Long: `Mark every blob reachable from index.json (nested indexes, manifests,
configs, layers, subjects) and remove the others, plus temporary files left
by interrupted writers. Holds the layout's lock, so it is safe alongside
tag/rm. A referenced manifest that is missing or corrupt stops gc before it
removes anything.

With --store, gc cleans image run's store (DIR, or the default one): the
directories of containers the runtime no longer has, the snapshots no image
in the store and no remaining container uses, leftovers of interrupted
runs, and the store's unreferenced blobs.`,
		Args: cobra.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if cmd.Flags().Changed("store") {
				dir := store
				if dir == storeDefault {
					dir = ""
					if len(args) == 1 {
						dir = args[0]
					}
				} else if len(args) > 0 {
					return errors.New("give the store with --store DIR only")
				}
				return storeGC(cmd, g, dir, dryRun)
			}
			if len(args) != 1 {
				return errors.New("want DIR (or --store)")
			}
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
			return rep.Print(cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&store, "store", "", "clean image run's store (the default one without DIR)")
	cmd.Flags().Lookup("store").NoOptDefVal = storeDefault
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "report what would be removed without removing it")
	cmd.Flags().DurationVar(&grace, "grace-period", 0, "keep unreferenced blobs modified more recently than this (e.g. 10m), for writers still to tag them")
	return cmd
}

// storeDefault is --store given without a value.
const storeDefault = "\x00default"

func storeGC(cmd *cobra.Command, g *globals, dir string, dryRun bool) error {
	s, err := openStore(cmd.Context(), g, dir)
	if err != nil {
		return err
	}
	rep, err := s.GC(cmd.Context(), dryRun)
	if err != nil {
		return err
	}
	return rep.Print(cmd.OutOrStdout())
}
