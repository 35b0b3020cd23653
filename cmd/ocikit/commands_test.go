package main

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestCommandNames: the names commandFor matches are each command's name
// and aliases, and every command of the tree is in commands.
func TestCommandNames(t *testing.T) {
	g := &globals{}
	var check func(path string, cmds []command)
	check = func(path string, cmds []command) {
		for _, c := range cmds {
			cmd := c.build(g)
			want := append([]string{cmd.Name()}, cmd.Aliases...)
			if !slices.Equal(c.names, want) {
				t.Errorf("%scommands entry %v builds %q with aliases %v", path, c.names, cmd.Name(), cmd.Aliases)
			}
			if len(cmd.Commands()) > 0 {
				t.Errorf("%s%s: build adds subcommands; they belong in subs", path, cmd.Name())
			}
			check(path+cmd.Name()+" ", c.subs)
		}
	}
	check("", commands)
	root := newRootCmd(g)
	for _, cmd := range root.Commands() {
		if cmd.Name() == "help" || cmd.Name() == "completion" {
			continue
		}
		if !slices.ContainsFunc(commands, func(c command) bool { return c.names[0] == cmd.Name() }) {
			t.Errorf("command %q is not in commands", cmd.Name())
		}
	}
}

// TestCommandFor: the command is found after the global flags, whatever
// their spelling; anything else builds the whole tree (nil).
func TestCommandFor(t *testing.T) {
	root := &cobra.Command{Use: "ocikit"}
	g := &globals{}
	f := root.PersistentFlags()
	f.StringVar(&g.root, "root", "", "")
	f.StringVar(&g.logFormat, "log-format", "", "")
	f.BoolVar(&g.debug, "debug", false, "")
	f.BoolVar(&g.systemdCgroup, "systemd-cgroup", false, "")
	f.StringVar(&g.rootless, "rootless", "auto", "")
	tests := []struct {
		args []string
		want string // "" for nil
	}{
		{[]string{"run", "x"}, "run"},
		{[]string{"--root", "/run/x", "state", "x"}, "state"},
		{[]string{"--root=/run/x", "--debug", "start", "x"}, "start"},
		{[]string{"--systemd-cgroup", "--rootless", "false", "rm", "x"}, "delete"},
		{[]string{"--log-format", "json", "--", "ls"}, "list"},
		{[]string{"--debug=true", "image", "ls"}, "image"},
		// The value of a flag is not the command.
		{[]string{"--root", "run"}, ""},
		{[]string{}, ""},
		{[]string{"--help"}, ""},
		{[]string{"-v"}, ""},
		{[]string{"help", "run"}, ""},
		{[]string{"nosuch"}, ""},
		{[]string{"--nosuch", "run"}, ""},
		{[]string{"--debug"}, ""},
	}
	for _, tt := range tests {
		c, rest := commandFor(f, tt.args)
		got := ""
		if c != nil {
			got = c.names[0]
			i := slices.IndexFunc(tt.args, func(a string) bool { return slices.Contains(c.names, a) })
			if i < 0 || !slices.Equal(rest, tt.args[i+1:]) {
				t.Errorf("commandFor(%q): rest %q", tt.args, rest)
			}
		}
		if got != tt.want {
			t.Errorf("commandFor(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

// TestTree: a command with subcommands gets the one its arguments name,
// or all of them when they name none; the full tree has every one.
func TestTree(t *testing.T) {
	image := findCommand(commands, "image")
	tests := []struct {
		args []string
		want int // subcommands built; -1: all
	}{
		{[]string{"copy", "a", "b"}, 1},
		{[]string{"run-wait"}, 1},
		{[]string{"--help"}, -1},
		{[]string{"help", "copy"}, -1},
		{[]string{"nosuch"}, -1},
		{nil, -1},
	}
	for _, tt := range tests {
		cmd := image.tree(&globals{}, tt.args)
		want := tt.want
		if want < 0 {
			want = len(image.subs)
		}
		if got := len(cmd.Commands()); got != want {
			t.Errorf("image %q: %d subcommands built, want %d", tt.args, got, want)
		}
		if tt.want == 1 && cmd.Commands()[0].Name() != tt.args[0] {
			t.Errorf("image %q built %q", tt.args, cmd.Commands()[0].Name())
		}
	}
}

// TestVersionOnly: -v or --version among global flags alone prints the
// version without building the commands; anything more is cobra's.
func TestVersionOnly(t *testing.T) {
	root := &cobra.Command{Use: "ocikit"}
	g := &globals{}
	f := root.PersistentFlags()
	f.StringVar(&g.root, "root", "", "")
	f.BoolVar(&g.debug, "debug", false, "")
	tests := []struct {
		args []string
		want bool
	}{
		{[]string{"--version"}, true},
		{[]string{"-v"}, true},
		{[]string{"--root", "/run/x", "--debug", "-v"}, true},
		{[]string{"--root", "-v"}, false}, // -v is the value of --root
		{[]string{}, false},
		{[]string{"--debug"}, false},
		{[]string{"-v", "state"}, false},
		{[]string{"-v", "--help"}, false},
		{[]string{"--nosuch", "-v"}, false},
	}
	for _, tt := range tests {
		if got := versionOnly(f, tt.args); got != tt.want {
			t.Errorf("versionOnly(%q) = %v, want %v", tt.args, got, tt.want)
		}
	}
}

// TestRootFor: a command line naming a command builds that command alone,
// without cobra's completion command; -v alone builds none; anything else
// (here the completion command itself) builds the whole tree.
func TestRootFor(t *testing.T) {
	defer func(args []string) { os.Args = args }(os.Args)
	tests := []struct {
		args []string
		want []string // the names of the commands built ("" for the help command cobra adds)
	}{
		{[]string{"--root", "/x", "state", "id"}, []string{"state"}},
		{[]string{"--version"}, nil},
		{[]string{"completion", "bash"}, nil}, // nil: every command
	}
	for _, tt := range tests {
		os.Args = append([]string{"ocikit"}, tt.args...)
		root := newRootCmd(&globals{})
		var stdout bytes.Buffer
		root.SetOut(&stdout)
		root.SetArgs(tt.args)
		if err := root.Execute(); err != nil && tt.args[0] != "--root" {
			t.Fatalf("%q: %v", tt.args, err)
		}
		var got []string
		for _, c := range root.Commands() {
			if c.Name() != "help" && c.Name() != "completion" {
				got = append(got, c.Name())
			}
		}
		switch {
		case tt.args[0] == "completion":
			if len(got) != len(commands) || !strings.Contains(stdout.String(), "bash completion") {
				t.Errorf("%q: %d commands built, output %.40q", tt.args, len(got), stdout.String())
			}
		case !slices.Equal(got, tt.want):
			t.Errorf("%q built %q, want %q", tt.args, got, tt.want)
		}
		if tt.args[0] == "--root" && !root.CompletionOptions.DisableDefaultCmd {
			t.Errorf("%q: completion command enabled", tt.args)
		}
	}
}
