package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ocikit/ocikit/runtime"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// globals holds the global flags shared by every command. runc's callers
// (containerd, podman, CRI-O) pass these before the command name.
type globals struct {
	root          string
	logFile       string
	logFormat     string
	debug         bool
	systemdCgroup bool
	rootless      string
	vm            bool

	logger  *slog.Logger
	logSink io.WriteCloser
}

func newRootCmd(g *globals) *cobra.Command {
	var showVersion bool
	root := &cobra.Command{
		Use:   "ocikit",
		Short: "OCI runtime, image-layout store and validator",
		Long: `ocikit implements the Open Container Initiative specifications end to end:
runtime-spec (a runc-compatible runtime), image-spec (an image-layout store,
layer unpack and repack, bundle conversion) and validation of both.`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return g.setup(cmd) },
		PersistentPostRun: func(*cobra.Command, []string) { g.close() },
		// Without a command: the help, as runc. An unknown command exits
		// 3, as runc's (urfave/cli's "No help topic").
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if showVersion {
				_, err := fmt.Fprintln(cmd.OutOrStdout(), versionString())
				return err
			}
			if len(args) > 0 {
				return &exitError{code: 3, err: fmt.Errorf("unknown command %q: see ocikit --help", args[0])}
			}
			return cmd.Help()
		},
	}
	root.SetHelpCommand(newHelpCmd())
	// runc's --version/-v, a flag of the top level only. Not cobra's
	// Version field: that would compute the version lines (a libseccomp
	// call) on every start, the container init's included.
	root.Flags().BoolVarP(&showVersion, "version", "v", false, "print the version")
	f := root.PersistentFlags()
	f.StringVar(&g.root, "root", runtime.DefaultRoot(), "directory for container state (tmpfs recommended)")
	f.StringVar(&g.logFile, "log", "", "write the log to this file instead of stderr")
	f.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	f.BoolVar(&g.debug, "debug", false, "log debug messages")
	f.BoolVar(&g.systemdCgroup, "systemd-cgroup", false, "use systemd for cgroups (cgroupsPath slice:prefix:name)")
	f.StringVar(&g.rootless, "rootless", "auto", "ignore cgroup permission errors: true, false or auto")
	f.BoolVar(&g.vm, "vm", filepath.Base(os.Args[0]) == vmName, "run each container in a virtual machine of its own (qemu; the default when invoked as "+vmName+")")
	// runc's --criu names the criu binary for checkpoint and restore
	// (hidden and ignored since runc 1.2). ocikit has neither yet: the
	// flag is accepted so that callers passing it work, and ignored.
	f.String("criu", "criu", "accepted and ignored (criu is found in PATH)")
	f.MarkHidden("criu")

	if c, rest := commandFor(f, os.Args[1:]); c != nil {
		// Only the command asked for: building the whole tree (every
		// command's flags) costs each start a millisecond of allocations
		// and page faults, and containerd or podman start one process
		// per lifecycle step. Nor cobra's completion command (five
		// commands with their flags): the command line names another.
		root.CompletionOptions.DisableDefaultCmd = true
		root.AddCommand(c.tree(g, rest))
		return root
	}
	if versionOnly(f, os.Args[1:]) {
		// runc's --version: the version alone, without the tree.
		return root
	}
	for _, c := range commands {
		root.AddCommand(c.tree(g, nil))
	}
	return root
}

// command is a command: its name, aliases and constructor.
type command struct {
	names []string
	build func(*globals) *cobra.Command
	// subs are the subcommands, which build does not add: tree adds
	// the one the command line names, or all of them.
	subs []command
}

// tree builds c with the subcommand that args (the words after c's name)
// start with, or with all of its subcommands when they name none (help,
// a flag, an unknown name).
func (c *command) tree(g *globals, args []string) *cobra.Command {
	cmd := c.build(g)
	if len(args) > 0 {
		if s := findCommand(c.subs, args[0]); s != nil {
			cmd.AddCommand(s.tree(g, args[1:]))
			return cmd
		}
	}
	for i := range c.subs {
		cmd.AddCommand(c.subs[i].tree(g, nil))
	}
	return cmd
}

// findCommand is the command of cmds named name (or one of its aliases).
func findCommand(cmds []command, name string) *command {
	for i := range cmds {
		if slices.Contains(cmds[i].names, name) {
			return &cmds[i]
		}
	}
	return nil
}

// commands is every top-level command but help, in the order of the help
// output. names must be each command's name and aliases
// (TestCommandNames).
var commands = []command{
	{[]string{"version"}, func(*globals) *cobra.Command { return newVersionCmd() }, nil},
	{[]string{"image"}, newImageCmd, imageCommands},
	{[]string{"spec"}, func(*globals) *cobra.Command { return newSpecCmd() }, nil},
	{[]string{"features"}, newFeaturesCmd, nil},
	{[]string{"create"}, newCreateCmd, nil}, {[]string{"start"}, newStartCmd, nil}, {[]string{"run"}, newRunCmd, nil},
	{[]string{"state"}, newStateCmd, nil}, {[]string{"kill"}, newKillCmd, nil}, {[]string{"delete", "rm"}, newDeleteCmd, nil},
	{[]string{"list", "ls"}, newListCmd, nil}, {[]string{"init"}, func(*globals) *cobra.Command { return newInitCmd() }, nil},
	{[]string{"exec"}, newExecCmd, nil},
	{[]string{"pause"}, newPauseCmd, nil}, {[]string{"resume"}, newResumeCmd, nil}, {[]string{"checkpoint"}, newCheckpointCmd, nil},
	{[]string{"restore"}, newRestoreCmd, nil}, {[]string{"ps"}, newPsCmd, nil}, {[]string{"events"}, newEventsCmd, nil},
	{[]string{"update"}, newUpdateCmd, nil},
	{[]string{"validate-config"}, func(*globals) *cobra.Command { return newValidateConfigCmd() }, nil},
}

// commandFor finds the command args name after the global flags (fs),
// and the arguments after its name; nil when they name none of commands
// (help, an unknown command, shell completion, no command at all): then
// the whole tree is built.
func commandFor(fs *pflag.FlagSet, args []string) (*command, []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || a == "-" || !strings.HasPrefix(a, "-") {
			if a == "--" {
				i++
			}
			if i >= len(args) {
				return nil, nil
			}
			if c := findCommand(commands, args[i]); c != nil {
				return c, args[i+1:]
			}
			return nil, nil
		}
		known, takesNext := globalFlag(fs, a)
		if !known {
			return nil, nil // -v, -h, --help, or unknown: cobra decides
		}
		if takesNext {
			i++ // the flag's value
		}
	}
	return nil, nil
}

// globalFlag reports whether the argument a is a flag of fs and whether
// its value is the next argument.
func globalFlag(fs *pflag.FlagSet, a string) (known, takesNext bool) {
	name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
	var fl *pflag.Flag
	if strings.HasPrefix(a, "--") {
		fl = fs.Lookup(name)
	} else if len(name) == 1 {
		fl = fs.ShorthandLookup(name)
	}
	if fl == nil {
		return false, false
	}
	return true, !hasValue && fl.NoOptDefVal == ""
}

// versionOnly reports whether args are -v or --version among global flags
// (fs) and nothing else, which prints the version (the root command's
// RunE) and needs no command built.
func versionOnly(fs *pflag.FlagSet, args []string) bool {
	version := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-v" || a == "--version" {
			version = true
			continue
		}
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
			return false
		}
		known, takesNext := globalFlag(fs, a)
		if !known {
			return false
		}
		if takesNext {
			i++
		}
	}
	return version
}

// newHelpCmd is `help [COMMAND]` (alias h, as runc's); an unknown topic
// exits 3, as runc's.
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "help [command]",
		Aliases: []string{"h"},
		Short:   "Help about any command",
		RunE: func(cmd *cobra.Command, args []string) error {
			target, rest, err := cmd.Root().Find(args)
			if err != nil || target == nil || len(rest) > 0 {
				return &exitError{code: 3, err: fmt.Errorf("no help topic for %q", strings.Join(args, " "))}
			}
			return target.Help()
		},
	}
}

// setup opens the log sink named by --log and --log-format.
func (g *globals) setup(*cobra.Command) error {
	var w io.Writer = os.Stderr
	if g.logFile != "" {
		f, err := os.OpenFile(g.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("open log: %w", err)
		}
		g.logSink = f
		w = f
	}
	level := slog.LevelWarn
	if g.debug {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: lowerLevel}
	switch strings.ToLower(g.logFormat) {
	case "text", "":
		g.logger = slog.New(slog.NewTextHandler(w, opts))
	case "json":
		g.logger = slog.New(slog.NewJSONHandler(w, opts))
	default:
		return fmt.Errorf("unknown --log-format %q: want text or json", g.logFormat)
	}
	return nil
}

// lowerLevel writes times and levels as runc's logrus does (RFC 3339 to
// the second; "error", "warning"):
// containerd's go-runc takes the runtime's last error from the --log file
// only from records whose level is exactly "error".
func lowerLevel(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 {
		// logrus's default time format.
		return slog.String(a.Key, a.Value.Time().Format(time.RFC3339))
	}
	if a.Key == slog.LevelKey {
		if l, ok := a.Value.Any().(slog.Level); ok {
			switch {
			case l >= slog.LevelError:
				return slog.String(a.Key, "error")
			case l >= slog.LevelWarn:
				return slog.String(a.Key, "warning")
			case l >= slog.LevelInfo:
				return slog.String(a.Key, "info")
			default:
				return slog.String(a.Key, "debug")
			}
		}
	}
	return a
}

func (g *globals) log() *slog.Logger {
	if g.logger == nil {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return g.logger
}

func (g *globals) close() {
	if g.logSink != nil {
		g.logSink.Close()
		g.logSink = nil
	}
}

// reportError prints the one-line error for the user. When a log file was
// requested (as containerd and podman do) the error is also written there,
// since those callers read the runtime's last error from the log; with
// --log-format json and no file, stderr gets the JSON record instead.
func (g *globals) reportError(err error) {
	if g.logFile == "" && strings.EqualFold(g.logFormat, "json") {
		// The log is stderr and JSON: the error is one JSON record
		// there, as runc writes it, for callers that parse stderr.
		if g.logger == nil {
			_ = g.setup(nil)
		}
		if g.logger != nil {
			g.logger.Error(err.Error())
			return
		}
	}
	fmt.Fprintf(os.Stderr, "ocikit: %v\n", err)
	if g.logSink == nil && g.logFile != "" {
		// A flag error stops cobra before setup: open the log now, or
		// containerd's shim sees only "exit status 1".
		_ = g.setup(nil)
	}
	if g.logSink != nil && g.logger != nil {
		g.logger.Error(err.Error())
	}
	g.close()
}
