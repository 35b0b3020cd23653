package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ocikit/ocikit/runtime/defaults"
	"github.com/spf13/cobra"
)

func newSpecCmd() *cobra.Command {
	var bundle string
	var rootless bool
	cmd := &cobra.Command{
		Use:   "spec",
		Short: "Write a default config.json for a bundle",
		Long: `Write a default config.json into the bundle directory (the current directory
unless --bundle is given): a container running "sh" from the "rootfs"
directory with a terminal. An existing config.json is never overwritten.
With --rootless the configuration runs without root: a user namespace mapping
the calling user to root, no cgroup limits, and bind mounts of /sys.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec := defaults.Spec()
			if rootless {
				defaults.ToRootless(spec)
			}
			data, err := json.MarshalIndent(spec, "", "\t")
			if err != nil {
				return err
			}
			path := filepath.Join(bundle, "config.json")
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
			if errors.Is(err, os.ErrExist) {
				return fmt.Errorf("%s exists: remove it first", path)
			}
			if err != nil {
				return err
			}
			if _, err := f.Write(append(data, '\n')); err != nil {
				f.Close()
				os.Remove(path)
				return err
			}
			return f.Close()
		},
	}
	cmd.Flags().StringVarP(&bundle, "bundle", "b", "", "bundle directory to write config.json into")
	cmd.Flags().BoolVar(&rootless, "rootless", false, "write a configuration for a rootless container")
	return cmd
}
