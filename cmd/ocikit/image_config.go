package main

import (
	"github.com/spf13/cobra"

	"github.com/ocikit/ocikit/mutate"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func newImageConfigCmd(*globals) *cobra.Command {
	var (
		entrypoint, cmdArgs, env, labels, annotations, ports, volumes   []string
		workdir, user, stopSignal, author, comment, createdBy, platform string
		ch                                                              mutate.ConfigChange
	)
	cmd := &cobra.Command{
		Use:   "config DIR[:TAG] [flags]",
		Short: "Edit an image's configuration (entrypoint, cmd, env, labels, ...)",
		Long: `Change the configuration of the image TAG (default "latest") names: store a new
config (with an empty_layer history entry) and manifest and move TAG to them.
The previous image stays in the layout until "image gc".

List flags, as umoci's --config.*:
  --entrypoint, --cmd   repeat the flag for each element (--cmd sh --cmd -c
                        --cmd 'echo hi'), or give one JSON array
                        (--cmd '["sh","-c","echo hi"]'); '[]' or --clear-* empties
  --env KEY=VALUE       set KEY (replacing its value) or add it; repeatable
  --label, --annotation KEY=VALUE; repeatable (annotations go on the manifest)
  --exposed-port PORT[/tcp|udp|sctp], --volume PATH; repeatable
--clear-env, --clear-labels, --clear-annotations, --clear-exposed-ports and
--clear-volumes empty the field before the additions apply.

With SOURCE_DATE_EPOCH set it dates the config and history entry.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			f := cmd.Flags()
			var err error
			if f.Changed("entrypoint") {
				ep, err := mutate.ParseArgList(entrypoint)
				if err != nil {
					return err
				}
				ch.Entrypoint = &ep
			}
			if v, _ := f.GetBool("clear-entrypoint"); v && ch.Entrypoint == nil {
				ch.Entrypoint = &[]string{}
			}
			if f.Changed("cmd") {
				c, err := mutate.ParseArgList(cmdArgs)
				if err != nil {
					return err
				}
				ch.Cmd = &c
			}
			if v, _ := f.GetBool("clear-cmd"); v && ch.Cmd == nil {
				ch.Cmd = &[]string{}
			}
			for name, p := range map[string]**string{"workdir": &ch.WorkingDir, "user": &ch.User, "stop-signal": &ch.StopSignal, "author": &ch.Author} {
				if f.Changed(name) {
					v, _ := f.GetString(name)
					*p = &v
				}
			}
			ch.Env, ch.ExposedPorts, ch.Volumes = env, ports, volumes
			if ch.Labels, err = mutate.ParseKeyValues("label", labels); err != nil {
				return err
			}
			if ch.Annotations, err = mutate.ParseKeyValues("annotation", annotations); err != nil {
				return err
			}
			epoch, err := sourceDateEpoch()
			if err != nil {
				return err
			}
			l, tag, err := openTag(ctx, args[0])
			if err != nil {
				return err
			}
			img, err := resolveBase(ctx, l, tag, platform)
			if err != nil {
				return err
			}
			if createdBy == "" {
				createdBy = commandLine()
			}
			opts := append(createdOptions(epoch), mutate.WithHistory(v1.History{CreatedBy: createdBy, Comment: comment}))
			desc, err := mutate.EditConfig(ctx, l, tag, img.Manifest, img.Config, ch, opts...)
			if err != nil {
				return err
			}
			printDigest(cmd, desc.Digest)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&entrypoint, "entrypoint", nil, "entrypoint: one element per flag, or a JSON array")
	f.StringArrayVar(&cmdArgs, "cmd", nil, "default arguments: one element per flag, or a JSON array")
	f.StringArrayVar(&env, "env", nil, "set an environment variable KEY=VALUE (repeatable)")
	f.StringArrayVar(&labels, "label", nil, "set a config label KEY=VALUE (repeatable)")
	f.StringArrayVar(&annotations, "annotation", nil, "set a manifest annotation KEY=VALUE (repeatable)")
	f.StringArrayVar(&ports, "exposed-port", nil, "add an exposed port PORT[/tcp|udp|sctp] (repeatable)")
	f.StringArrayVar(&volumes, "volume", nil, "add a volume PATH (repeatable)")
	f.StringVar(&workdir, "workdir", "", "working directory")
	f.StringVar(&user, "user", "", "user: user, uid, user:group or uid:gid")
	f.StringVar(&stopSignal, "stop-signal", "", "stop signal, e.g. SIGTERM")
	f.StringVar(&author, "author", "", "image author")
	f.StringVar(&comment, "history-comment", "", "comment of the history entry")
	f.StringVar(&createdBy, "history-created-by", "", "created_by of the history entry (default: this command line)")
	addPlatformFlag(cmd, &platform)
	f.Bool("clear-entrypoint", false, "empty the entrypoint")
	f.Bool("clear-cmd", false, "empty the default arguments")
	f.BoolVar(&ch.ClearEnv, "clear-env", false, "empty the environment before --env applies")
	f.BoolVar(&ch.ClearLabels, "clear-labels", false, "remove all labels before --label applies")
	f.BoolVar(&ch.ClearAnnotations, "clear-annotations", false, "remove all manifest annotations before --annotation applies")
	f.BoolVar(&ch.ClearExposedPorts, "clear-exposed-ports", false, "remove all exposed ports before --exposed-port applies")
	f.BoolVar(&ch.ClearVolumes, "clear-volumes", false, "remove all volumes before --volume applies")
	return cmd
}
