package main

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// runcFlags are the flags of runc's commands, 1.1 and later (1.2 added
// --pidfd-socket, exec --cgroup; --criu and the kernel memory flags are
// hidden and ignored since then; later create and run gained --config): "name" or "name/shorthand".
var runcFlags = map[string][]string{
	"":       {"debug", "log", "log-format", "root", "criu", "systemd-cgroup", "rootless", "help/h", "version/v"},
	"create": {"bundle/b", "config", "console-socket", "pidfd-socket", "pid-file", "no-pivot", "no-new-keyring", "preserve-fds", "no-subreaper"},
	"run":    {"bundle/b", "config", "console-socket", "pidfd-socket", "detach/d", "keep", "pid-file", "no-subreaper", "no-pivot", "no-new-keyring", "preserve-fds"},
	"delete": {"force/f"},
	"events": {"interval", "stats"},
	"exec": {"console-socket", "pidfd-socket", "cwd", "env/e", "tty/t", "user/u", "additional-gids/g", "process/p", "detach/d",
		"pid-file", "process-label", "apparmor", "no-new-privs", "cap/c", "preserve-fds", "cgroup", "ignore-paused"},
	"kill":     {"all/a"},
	"list":     {"format/f", "quiet/q"},
	"ps":       {"format/f"},
	"spec":     {"bundle/b", "rootless"},
	"update":   {"resources/r", "blkio-weight", "cpu-period", "cpu-quota", "cpu-share", "cpu-rt-period", "cpu-rt-runtime", "cpuset-cpus", "cpuset-mems", "cpu-idle", "memory", "memory-reservation", "memory-swap", "pids-limit", "l3-cache-schema", "mem-bw-schema", "kernel-memory", "kernel-memory-tcp"},
	"start":    nil,
	"state":    nil,
	"pause":    nil,
	"resume":   nil,
	"features": nil,
	"checkpoint": {"image-path", "work-path", "parent-path", "leave-running", "tcp-established", "ext-unix-sk", "shell-job",
		"lazy-pages", "status-fd", "page-server", "file-locks", "pre-dump", "manage-cgroups-mode", "empty-ns", "auto-dedup"},
	"restore": {"console-socket", "image-path", "work-path", "tcp-established", "ext-unix-sk", "shell-job", "file-locks",
		"manage-cgroups-mode", "bundle/b", "detach/d", "pid-file", "no-subreaper", "no-pivot", "empty-ns", "auto-dedup",
		"lazy-pages", "lsm-profile", "lsm-mount-context"},
}

// TestRuncFlags: every command and flag of runc's command line is one of
// ocikit's, with runc's shorthand; where runc is installed, also every one
// its own help lists.
func TestRuncFlags(t *testing.T) {
	want := map[string][]string{}
	for c, fl := range runcFlags {
		want[c] = append(want[c], fl...)
	}
	if runc, err := exec.LookPath("runc"); err == nil {
		for c, fl := range runcHelpFlags(t, runc) {
			want[c] = append(want[c], fl...)
		}
	}
	root := newRootCmd(&globals{})
	root.InitDefaultHelpFlag()
	root.InitDefaultVersionFlag()
	for name, flags := range want {
		t.Run("command "+name, func(t *testing.T) {
			cmd := root
			if name != "" {
				c, _, err := root.Find([]string{name})
				if err != nil || c == root {
					t.Fatalf("ocikit has no %s command", name)
				}
				cmd = c
				cmd.InitDefaultHelpFlag()
			}
			for _, fl := range flags {
				checkFlag(t, cmd, fl)
			}
		})
	}
}

func checkFlag(t *testing.T, cmd *cobra.Command, fl string) {
	t.Helper()
	name, short, _ := strings.Cut(fl, "/")
	f := cmd.Flag(name)
	if f == nil {
		t.Errorf("%s: no --%s", cmd.Name(), name)
		return
	}
	if short != "" && f.Shorthand != short {
		t.Errorf("%s: --%s has shorthand %q, runc's is -%s", cmd.Name(), name, f.Shorthand, short)
	}
}

// runcHelpFlags reads runc's commands and their flags from its help.
func runcHelpFlags(t *testing.T, runc string) map[string][]string {
	t.Helper()
	out, err := exec.Command(runc, "--help").Output()
	if err != nil {
		t.Fatalf("runc --help: %v", err)
	}
	flag := regexp.MustCompile(`^\s+--([a-z0-9-]+)(?: value)?(?:, -([a-z]))?`)
	parse := func(help string) []string {
		var fl []string
		inOpts := false
		for _, l := range strings.Split(help, "\n") {
			if strings.HasSuffix(strings.TrimSpace(l), "OPTIONS:") {
				inOpts = true
				continue
			}
			if m := flag.FindStringSubmatch(l); inOpts && m != nil {
				if m[2] != "" {
					fl = append(fl, m[1]+"/"+m[2])
				} else {
					fl = append(fl, m[1])
				}
			}
		}
		return fl
	}
	got := map[string][]string{"": parse(string(out))}
	cmdLine := regexp.MustCompile(`^   ([a-z]+)(?:, [a-z]+)?\s{2,}`)
	inCmds := false
	for _, l := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(l, "COMMANDS:"):
			inCmds = true
		case inCmds && strings.TrimSpace(l) == "", strings.HasSuffix(l, "OPTIONS:"):
			inCmds = false
		case inCmds:
			m := cmdLine.FindStringSubmatch(l)
			if m == nil || m[1] == "help" {
				continue
			}
			h, err := exec.Command(runc, m[1], "--help").Output()
			if err != nil {
				t.Fatalf("runc %s --help: %v", m[1], err)
			}
			got[m[1]] = parse(string(h))
		}
	}
	if len(got) < 10 {
		t.Fatalf("read only %d commands from runc --help", len(got))
	}
	return got
}
