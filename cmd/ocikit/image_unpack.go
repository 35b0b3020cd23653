package main

import (
	"errors"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ocikit/ocikit/bundle"
	"github.com/ocikit/ocikit/convert"
	"github.com/ocikit/ocikit/layout"
)

func newImageUnpackCmd(g *globals) *cobra.Command {
	var (
		platform        string
		rootless        bool
		rootfsOnly      bool
		argv            []string
		ov              overrides
		volumesAsMounts bool
	)
	cmd := &cobra.Command{
		Use:   "unpack [flags] DIR[:TAG|@DIGEST] BUNDLE [-- ARGS...]",
		Short: "Unpack an image into a runtime bundle (rootfs and config.json)",
		Long: `Unpack the image DIR:TAG (default tag latest) or DIR@DIGEST into the runtime
bundle BUNDLE: BUNDLE/rootfs holds the layers applied in order and
BUNDLE/config.json the image configuration converted as image-spec
conversion.md says, ready for "runc run" or "ocikit run". BUNDLE must not
exist or be empty; on failure it is left as it was.

The image's command is its Entrypoint followed by its Cmd. ARGS after "--"
(or --args, once per argument) replace the Cmd; --entrypoint replaces the
Entrypoint and drops the Cmd. --env KEY=VALUE sets a variable over the
image's (--env KEY takes KEY from this environment). --user takes the
image's syntax (user, uid, user:group, uid:gid, user:gid, uid:group),
resolved through the image's /etc/passwd and /etc/group.

--volumes-as-mounts turns the image's Volumes into tmpfs mounts owned by the
process user, so data written there stays out of the rootfs (and out of a
repacked image); it lasts as long as the container.

--rootless (the default when not run as root) unpacks without chown or
device nodes and writes a configuration with a user namespace.
--rootfs-only makes BUNDLE the root filesystem itself, without config.json.`,
		Args: func(cmd *cobra.Command, args []string) error {
			n := len(args)
			if dash := cmd.ArgsLenAtDash(); dash >= 0 {
				n = dash
			}
			if n != 2 {
				return errors.New("want DIR[:TAG] BUNDLE (and the command after --)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var command []string
			if dash := cmd.ArgsLenAtDash(); dash >= 0 {
				command = args[dash:]
				if cmd.Flags().Changed("args") {
					return errors.New("give the command with --args or after --, not both")
				}
			} else if cmd.Flags().Changed("args") {
				command = argv
			}
			ref, err := layout.ParseReference(args[0])
			if err != nil {
				return err
			}
			target := args[1]
			var resolveOpts []layout.ResolveOption
			if platform != "" {
				p, err := layout.ParsePlatform(platform)
				if err != nil {
					return err
				}
				resolveOpts = append(resolveOpts, layout.WithPlatform(p))
			}

			conv := ov.options(cmd.Flags(), command, len(command) > 0 || cmd.Flags().Changed("args"))
			if volumesAsMounts {
				conv = append(conv, convert.WithVolumesAsMounts())
			}
			opts := []bundle.Option{bundle.WithLogger(g.log()), bundle.WithConvertOptions(conv...), bundle.WithTag(ref.Tag)}
			if !cmd.Flags().Changed("rootless") && os.Geteuid() != 0 {
				rootless = true
			}
			if rootless {
				opts = append(opts, bundle.WithRootless())
			}
			if rootfsOnly {
				opts = append(opts, bundle.WithRootfsOnly())
			}

			l, err := layout.Open(ctx, ref.Dir)
			if err != nil {
				return err
			}
			img, err := l.Resolve(ctx, ref.Name(), resolveOpts...)
			if err != nil {
				return err
			}
			return bundle.Unpack(ctx, l, img, target, opts...)
		},
	}
	f := cmd.Flags()
	f.StringVar(&platform, "platform", "", "platform to choose from an image index: os/arch[/variant] (default: the host's)")
	f.BoolVar(&rootless, "rootless", false, "unpack and configure for an unprivileged user (default: true unless root)")
	f.BoolVar(&rootfsOnly, "rootfs-only", false, "unpack only the root filesystem, into BUNDLE itself")
	f.StringArrayVar(&argv, "args", nil, "an argument replacing the image's Cmd (repeat for each; or give them after --)")
	ov.addFlags(f, "cwd")
	f.BoolVar(&volumesAsMounts, "volumes-as-mounts", false, "mount a tmpfs at each of the image's Volumes")
	return cmd
}

// overrides are the changes to the image's configuration that image
// unpack and image run both take, turned into convert options the same
// way for both.
type overrides struct {
	entrypoint, env []string
	cwd, user       string
}

func (ov *overrides) addFlags(f *pflag.FlagSet, cwdFlag string) {
	f.StringArrayVar(&ov.entrypoint, "entrypoint", nil, `an argument replacing the image's Entrypoint (repeat for each; "" clears it); drops the Cmd`)
	f.StringArrayVarP(&ov.env, "env", "e", nil, "set an environment variable KEY=VALUE (KEY alone: take it from this environment)")
	short := ""
	if cwdFlag == "workdir" {
		short = "w"
	}
	f.StringVarP(&ov.cwd, cwdFlag, short, "", "working directory (absolute) replacing the image's WorkingDir")
	f.StringVarP(&ov.user, "user", "u", "", "user[:group] replacing the image's User")
}

// options are the convert options for the overrides given in f; command
// replaces the Cmd when haveCommand.
func (ov *overrides) options(f *pflag.FlagSet, command []string, haveCommand bool) []convert.Option {
	var conv []convert.Option
	if haveCommand {
		conv = append(conv, convert.WithArgs(command...))
	}
	if f.Changed("entrypoint") {
		ep := ov.entrypoint
		if len(ep) == 1 && ep[0] == "" {
			ep = nil // --entrypoint "" clears it, as with docker
		}
		conv = append(conv, convert.WithEntrypoint(ep...))
	}
	if vars := hostEnv(ov.env); len(vars) > 0 {
		conv = append(conv, convert.WithEnv(vars...))
	}
	if ov.cwd != "" {
		conv = append(conv, convert.WithCwd(ov.cwd))
	}
	if ov.user != "" { // as docker: an empty --user keeps the image's
		conv = append(conv, convert.WithUser(ov.user))
	}
	return conv
}

// hostEnv expands --env KEY (no '=') from this process's environment, as
// `docker run -e KEY` does; an unset KEY is left out.
func hostEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.Contains(kv, "=") && kv != "" {
			if v, ok := os.LookupEnv(kv); ok {
				out = append(out, kv+"="+v)
			}
			continue
		}
		out = append(out, kv)
	}
	return out
}
