package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"

	"github.com/ocikit/ocikit/bundle"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/imagerun"
	"github.com/ocikit/ocikit/layout"
	"github.com/ocikit/ocikit/registry"
	"github.com/ocikit/ocikit/snapshot"
)

// openStore opens the store --store names, or this user's default one.
func openStore(ctx context.Context, g *globals, dir string) (*snapshot.Store, error) {
	if dir == "" {
		d, err := snapshot.DefaultDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	opts := []snapshot.Option{snapshot.WithLogger(g.log())}
	if os.Geteuid() != 0 {
		opts = append(opts, snapshot.WithRootless())
	}
	return snapshot.Open(ctx, dir, append(opts, envStoreOptions()...)...)
}

// envStoreOptions are the store options ocikit's environment asks for:
// OCIKIT_SNAPSHOT_NO_OVERLAY=1 makes snapshots without an overlay mount
// (for tests, and for a filesystem whose overlay misbehaves).
func envStoreOptions() []snapshot.Option {
	if os.Getenv("OCIKIT_SNAPSHOT_NO_OVERLAY") == "1" {
		return []snapshot.Option{snapshot.WithoutOverlay()}
	}
	return nil
}

func newImageRunCmd(g *globals) *cobra.Command {
	var (
		o                    imagerun.Options
		ov                   overrides
		store, platform, net string
		memory, cpus         string
		pids                 int64
		volumes, tmpfs       []string
		vm                   bool
		tlsVerify            bool
	)
	cmd := &cobra.Command{
		Use:   "run [flags] IMAGE [-- ARGS...]",
		Short: "Run an image as a new container, from a shared snapshot store",
		Long: `Run the image IMAGE (any reference "image copy" takes: DIR[:TAG], oci:DIR,
oci-archive:FILE) as a new container. What the store lacks is copied into it
first and each layer chain is unpacked once into a snapshot that every
container of the image shares; the container's root filesystem is an
overlay of the snapshots with a writable layer of its own.

The process is the image's configuration converted as "image unpack" does
(entrypoint, cmd, env, user, workdir), with the overrides given: ARGS replace
the Cmd, --entrypoint the Entrypoint, -e, -u and -w as for unpack.

The container is an ordinary ocikit container under --root: list, state,
exec, kill and delete work on it, and deleting it removes its writable layer.
In the foreground ocikit exits with the program's status; --rm deletes the
container when it exits; -d prints the id and returns once it runs. With -d
and -t the runtime hands the terminal's master to a console socket (runc's
detached terminal) and a background ocikit keeps it, appending the
program's output to console.log in the container's store directory, until
the program exits ("exec -t" into the container gets a terminal of its own).

With --vm (or the global --vm) the container runs in the VM runtime: its
overlay is mounted on the host, in the container's store directory, shared
with the guest, and unmounted when the container is deleted.

Where the kernel refuses the overlay, the root filesystem is a copy of the
snapshots applied in order (reflinked where the filesystem can), said once
per store; OCIKIT_ROOTFS_COPY=1 in the environment asks for the copy.
Snapshots of layers after the first are made through an overlay mount;
where the kernel refuses it (or with OCIKIT_SNAPSHOT_NO_OVERLAY=1) ocikit
writes the overlay diff itself, said once.

Run by another user than root, image run is rootless: the layers are
unpacked as "image unpack --rootless" does (owners in user.rootlesscontainers
xattrs; the store's filesystem must take user xattrs), the user is root of
the container's user namespace, and the root filesystem is the kernel's
unprivileged overlay (Linux 5.11), mounted in the container's namespaces.

The store is /var/lib/ocikit for root, $XDG_DATA_HOME/ocikit otherwise
(--store to choose); "ocikit image gc --store" cleans it.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if vm {
				g.vm = true
			}
			if !tlsVerify {
				o.Registry = append(o.Registry, registry.WithInsecure())
			}
			command := args[1:]
			if len(command) > 0 && command[0] == "--" {
				command = command[1:]
			}
			conv := ov.options(cmd.Flags(), command, len(command) > 0)
			o.Bundle = []bundle.Option{bundle.WithLogger(g.log()), bundle.WithConvertOptions(conv...)}
			if platform != "" {
				p, err := layout.ParsePlatform(platform)
				if err != nil {
					return err
				}
				o.Platform = &p
			}
			switch net {
			case "none":
			case "host":
				o.HostNetwork = true
			default:
				return fmt.Errorf("--net %q: want host or none", net)
			}
			for _, v := range volumes {
				vol, err := parseVolume(v)
				if err != nil {
					return err
				}
				o.Volumes = append(o.Volumes, vol)
			}
			for _, d := range tmpfs {
				if !strings.HasPrefix(d, "/") {
					return fmt.Errorf("--tmpfs %q: want an absolute path", d)
				}
				o.Tmpfs = append(o.Tmpfs, d)
			}
			res, err := runResources(memory, cpus, pids)
			if err != nil {
				return err
			}
			o.Resources = res
			rt, err := g.containers()
			if err != nil {
				return err
			}
			s, err := openStore(ctx, g, store)
			if err != nil {
				return err
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("image run: %w", err)
			}
			o.Reaper = []string{exe, "--root", g.root, "--vm=" + strconv.FormatBool(g.vm), "image", "run-wait"}
			o.SnapshotHelper = []string{exe, "--debug=" + strconv.FormatBool(g.debug), "image", "run-prepare"}
			// For tests, and for a filesystem whose overlay misbehaves.
			o.CopyRootfs = os.Getenv("OCIKIT_ROOTFS_COPY") == "1"
			o.Progress = cmd.ErrOrStderr()
			o.Log = g.log()
			r := &imagerun.Runner{Store: s, Runtime: rt, Root: g.root}
			id, code, err := r.Run(ctx, args[0], o)
			if err != nil {
				return err
			}
			if o.Detach {
				fmt.Fprintln(cmd.OutOrStdout(), id)
				return nil
			}
			if code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false) // flags before IMAGE; what follows is the command
	f.BoolVar(&o.Remove, "rm", false, "delete the container and its writable layer when it exits")
	f.BoolVarP(&o.Detach, "detach", "d", false, "print the container's id and return once its program runs")
	f.StringVar(&o.ID, "name", "", "the container's id (default: random)")
	f.BoolVarP(&o.Terminal, "tty", "t", false, "give the program a terminal")
	ov.addFlags(f, "workdir")
	f.BoolVar(&o.ReadOnly, "read-only", false, "make the root filesystem read-only")
	f.StringArrayVarP(&volumes, "volume", "v", nil, "bind mount SRC:DST[:ro] (repeat for each)")
	f.StringArrayVar(&tmpfs, "tmpfs", nil, "mount a tmpfs at DST (repeat for each)")
	f.StringVar(&memory, "memory", "", "memory limit (bytes, or with k, m, g suffix)")
	f.StringVar(&cpus, "cpus", "", "CPU limit, in CPUs (1.5)")
	f.Int64Var(&pids, "pids-limit", 0, "maximum number of processes")
	f.StringVar(&net, "net", "none", "network: none (a namespace of its own, loopback only) or host")
	f.StringVar(&store, "store", "", "the store directory (default /var/lib/ocikit for root, $XDG_DATA_HOME/ocikit otherwise)")
	f.StringVar(&platform, "platform", "", "platform to choose from an image index: os/arch[/variant] (default: the host's)")
	f.BoolVar(&vm, "vm", false, "run in the VM runtime (as the global --vm)")
	f.BoolVar(&tlsVerify, "tls-verify", true, "verify registry certificates (for registry references)")
	return cmd
}

// parseVolume parses -v SRC:DST[:ro|rw].
func parseVolume(s string) (imagerun.Volume, error) {
	parts := strings.Split(s, ":")
	bad := fmt.Errorf("-v %q: want SRC:DST[:ro] with absolute DST: %w", s, errdefs.ErrInvalid)
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || !strings.HasPrefix(parts[1], "/") {
		return imagerun.Volume{}, bad
	}
	v := imagerun.Volume{Source: parts[0], Destination: parts[1]}
	if len(parts) == 3 {
		switch parts[2] {
		case "ro":
			v.ReadOnly = true
		case "rw":
		default:
			return imagerun.Volume{}, bad
		}
	}
	return v, nil
}

// runResources turns --memory, --cpus and --pids-limit into resources.
func runResources(memory, cpus string, pids int64) (*specs.LinuxResources, error) {
	if memory == "" && cpus == "" && pids == 0 {
		return nil, nil
	}
	res := &specs.LinuxResources{}
	if memory != "" {
		n, err := parseBytes(memory)
		if err != nil {
			return nil, fmt.Errorf("--memory %q: %w", memory, err)
		}
		res.Memory = &specs.LinuxMemory{Limit: &n}
	}
	if cpus != "" {
		c, err := strconv.ParseFloat(cpus, 64)
		if err != nil || c <= 0 {
			return nil, fmt.Errorf("--cpus %q: want a positive number", cpus)
		}
		period := uint64(100000)
		quota := int64(c * float64(period))
		res.CPU = &specs.LinuxCPU{Period: &period, Quota: &quota}
	}
	if pids != 0 {
		res.Pids = &specs.LinuxPids{Limit: &pids}
	}
	return res, nil
}

func newImageRunWaitCmd(g *globals) *cobra.Command {
	var (
		remove     bool
		consoleLog string
	)
	cmd := &cobra.Command{
		Use:    "run-wait [--rm] [--console-log FILE] ID",
		Short:  "Keep the terminal of a container image run -d started, wait for it and with --rm delete it",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := g.containers()
			if err != nil {
				return err
			}
			if consoleLog != "" {
				master, err := imagerun.InheritedConsole(3)
				if err != nil {
					return err
				}
				return imagerun.KeepConsole(cmd.Context(), rt, args[0], master, consoleLog, remove)
			}
			if !remove {
				return nil
			}
			return imagerun.WaitAndDelete(cmd.Context(), rt, args[0])
		},
	}
	cmd.Flags().BoolVar(&remove, "rm", false, "delete the container once its program exits")
	cmd.Flags().StringVar(&consoleLog, "console-log", "", "descriptor 3 is the pty master: append what it reads to FILE")
	return cmd
}

func newImageRunPrepareCmd(g *globals) *cobra.Command {
	var store string
	cmd := &cobra.Command{
		Use:    "run-prepare --store DIR DIGEST",
		Short:  "Make the snapshots of a rootless store's image, in a user namespace image run made",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dgst, err := digest.Parse(args[0])
			if err != nil {
				return fmt.Errorf("image %q: %w", args[0], errdefs.ErrInvalid)
			}
			opts := append([]snapshot.Option{snapshot.WithLogger(g.log()), snapshot.WithRootless()}, envStoreOptions()...)
			s, err := snapshot.Open(cmd.Context(), store, opts...)
			if err != nil {
				return err
			}
			return imagerun.PrepareSnapshots(cmd.Context(), s, dgst, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&store, "store", "", "the store directory")
	cmd.MarkFlagRequired("store")
	return cmd
}
