package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/ocikit/ocikit/runtime"
	"github.com/spf13/cobra"
)

func newEventsCmd(g *globals) *cobra.Command {
	var (
		stats    bool
		interval time.Duration
	)
	cmd := &cobra.Command{
		Use:   "events [--stats] [--interval 5s] ID",
		Short: "Print a container's statistics and OOM events as JSON lines",
		Long: `Print a container's events, one JSON object a line as runc does:
{"type":"stats","id":ID,"data":{cpu, memory, pids, blkio, hugetlb}} every
--interval and {"type":"oom","id":ID} when the OOM killer acts in its
memory cgroup, until the container stops. --stats prints the statistics
once and exits.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if interval <= 0 {
				return fmt.Errorf("events %s: --interval %v is not positive", id, interval)
			}
			rt, err := g.containers()
			if err != nil {
				return err
			}
			enc := json.NewEncoder(os.Stdout)
			if stats {
				s, err := rt.Stats(cmd.Context(), id)
				if err != nil {
					return fmt.Errorf("events %s: %w", id, err)
				}
				return enc.Encode(runtime.Event{Type: "stats", ID: id, Data: s})
			}
			err = rt.Events(cmd.Context(), id, interval, func(e runtime.Event) error { return enc.Encode(e) })
			if err != nil && cmd.Context().Err() == nil {
				return fmt.Errorf("events %s: %w", id, err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&stats, "stats", false, "print the statistics once and exit")
	cmd.Flags().DurationVar(&interval, "interval", 5*time.Second, "time between statistics")
	return cmd
}
