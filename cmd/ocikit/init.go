package main

import (
	"github.com/ocikit/ocikit/runtime"
	"github.com/spf13/cobra"
)

// newInitCmd is the container init that create re-executes; it is not for
// users (hidden). It reports its errors to the runtime itself.
func newInitCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "init",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			runtime.Init()
			return &exitError{code: 1}
		},
	}
}
