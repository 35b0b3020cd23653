package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ocikit/ocikit/layout"
)

// lsEntry is the --json form of one index.json entry.
type lsEntry struct {
	Tag       string   `json:"tag,omitempty"`
	Digest    string   `json:"digest"`
	MediaType string   `json:"mediaType"`
	Size      int64    `json:"size"`
	Platforms []string `json:"platforms"`
	Error     string   `json:"error,omitempty"`
}

func newImageLsCmd(*globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ls DIR",
		Short: "List the images of an OCI image layout",
		Long: `List the entries of DIR's index.json: tag, digest, media type and the
platforms each offers. Entries whose documents are missing or broken are
listed with the problem, and the command then exits 1.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			l, err := layout.Open(ctx, args[0])
			if err != nil {
				return err
			}
			entries, err := l.Entries(ctx)
			if err != nil {
				return err
			}
			rows := make([]lsEntry, 0, len(entries))
			var firstErr error
			broken := 0
			for _, e := range entries {
				r := lsEntry{Tag: e.Tag, Digest: string(e.Descriptor.Digest), MediaType: e.Descriptor.MediaType, Size: e.Descriptor.Size, Platforms: []string{}}
				for _, p := range e.Platforms {
					r.Platforms = append(r.Platforms, layout.FormatPlatform(p))
				}
				if e.Err != nil {
					r.Error = e.Err.Error()
					broken++
					if firstErr == nil {
						firstErr = e.Err
					}
				}
				rows = append(rows, r)
			}
			out := bufio.NewWriter(cmd.OutOrStdout())
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rows); err != nil {
					return err
				}
			} else {
				tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "TAG\tDIGEST\tMEDIA TYPE\tSIZE\tPLATFORMS")
				for _, r := range rows {
					tag := r.Tag
					if tag == "" {
						tag = "<none>"
					}
					plats := strings.Join(r.Platforms, ",")
					if r.Error != "" {
						plats = "ERROR"
					} else if plats == "" {
						plats = "-"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", tag, r.Digest, r.MediaType, r.Size, plats)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			if err := out.Flush(); err != nil {
				return err
			}
			if firstErr != nil {
				if broken > 1 {
					return fmt.Errorf("%w (and %d more broken entries)", firstErr, broken-1)
				}
				return firstErr
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}
