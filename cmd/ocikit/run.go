package main

import (
	"fmt"

	"github.com/ocikit/ocikit/runtime"
	"github.com/spf13/cobra"
)

func newRunCmd(g *globals) *cobra.Command {
	var bundle string
	var detach bool
	var o runtime.CreateOptions
	cmd := &cobra.Command{
		Use:   "run [flags] ID",
		Short: "Create and start a container; in the foreground, wait and delete it",
		Long: `Create and start a container. Without --detach ocikit stays in the
foreground: it forwards signals to the container's program, wires the
terminal (process.terminal) to its own, deletes the container when the
program exits (unless --keep) and exits with the program's status (128+N
when killed by signal N).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := g.containers()
			if err != nil {
				return err
			}
			o.ListenFDs = runtime.SocketActivation()
			id := args[0]
			if detach {
				if err := rt.RunDetached(cmd.Context(), id, bundle, o); err != nil {
					return fmt.Errorf("run %s: %w", id, err)
				}
				return nil
			}
			code, err := rt.Run(cmd.Context(), id, bundle, o)
			if err != nil {
				return fmt.Errorf("run %s: %w", id, err)
			}
			if code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
	addCreateFlags(cmd, &bundle, &o)
	f := cmd.Flags()
	f.BoolVarP(&detach, "detach", "d", false, "return once the program runs; do not wait for it")
	f.BoolVar(&o.Keep, "keep", false, "do not delete the container after its program exits (delete removes it)")
	f.BoolVar(&o.NoSubreaper, "no-subreaper", false, "do not become a subreaper (the exit status of an init in a new pid namespace is then unknown: 255)")
	return cmd
}
