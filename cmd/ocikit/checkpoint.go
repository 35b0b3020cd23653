package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/ocikit/ocikit/runtime"
	"github.com/spf13/cobra"
)

// addCRIUFlags adds the flags checkpoint and restore share (runc's).
func addCRIUFlags(cmd *cobra.Command, o *runtime.CRIUOptions) {
	f := cmd.Flags()
	f.StringVar(&o.ImagePath, "image-path", "", "directory of the checkpoint images")
	f.StringVar(&o.WorkPath, "work-path", "", "directory for CRIU's log and work files (default: the image path)")
	f.BoolVar(&o.TCPEstablished, "tcp-established", false, "allow open TCP connections")
	f.BoolVar(&o.ExtUnixSk, "ext-unix-sk", false, "allow external unix sockets")
	f.BoolVar(&o.ShellJob, "shell-job", false, "allow a shell job (a terminal from outside)")
	f.BoolVar(&o.FileLocks, "file-locks", false, "handle file locks")
	f.StringVar((*string)(&o.ManageCgroupsMode), "manage-cgroups-mode", "", "cgroups mode: soft (default), full, strict or ignore")
}

func newCheckpointCmd(g *globals) *cobra.Command {
	var o runtime.CheckpointOptions
	var statusFd int
	cmd := &cobra.Command{
		Use:   "checkpoint [flags] ID",
		Short: "Checkpoint a running container with CRIU",
		Long: `Dump a running container's processes with CRIU (driven over its RPC
interface) into --image-path. Without --leave-running (or --pre-dump) the
container is stopped and deleted afterwards, as with runc; "restore" brings it
back. On a host where CRIU cannot run, nothing is dumped and the error says
why. With --lazy-pages the memory stays behind: the dump serves it at
--page-server to the restore's "criu lazy-pages" daemon and returns once all
of it has gone (--status-fd gets a zero byte when the page server is ready).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			if statusFd >= 0 {
				o.StatusFd = os.NewFile(uintptr(statusFd), strconv.Itoa(statusFd))
			}
			if err := rt.Checkpoint(cmd.Context(), args[0], o); err != nil {
				return fmt.Errorf("checkpoint %s: %w", args[0], err)
			}
			return nil
		},
	}
	addCRIUFlags(cmd, &o.CRIUOptions)
	f := cmd.Flags()
	f.StringVar(&o.ParentPath, "parent-path", "", "previous (pre-)dump, relative to --image-path")
	f.BoolVar(&o.LeaveRunning, "leave-running", false, "leave the container running after the dump")
	f.BoolVar(&o.PreDump, "pre-dump", false, "dump only the memory, leaving the container running")
	f.StringSliceVar(&o.EmptyNs, "empty-ns", nil, "namespace types whose contents are not dumped (network)")
	f.BoolVar(&o.AutoDedup, "auto-dedup", false, "deduplicate the parent's images")
	f.BoolVar(&o.LazyPages, "lazy-pages", false, "leave the memory to be fetched lazily from the page server (--page-server)")
	f.StringVar(&o.PageServer, "page-server", "", "ADDRESS:PORT of a CRIU page server receiving the memory (with --lazy-pages: where the dump serves it)")
	f.IntVar(&statusFd, "status-fd", -1, "with --lazy-pages: descriptor that gets a zero byte when the page server is ready")
	return cmd
}

func newRestoreCmd(g *globals) *cobra.Command {
	var bundle string
	var o runtime.CreateOptions
	var ro runtime.RestoreOptions
	cmd := &cobra.Command{
		Use:   "restore [flags] ID",
		Short: "Restore a container from a CRIU checkpoint",
		Long: `Create container ID from the bundle with its processes restored from
--image-path, through the same path as create (state, cgroup and limits,
prestart and createRuntime hooks, --console-socket, --pid-file). Without
--detach ocikit waits for the restored program as "run" does, deletes the
container when it exits and exits with its status.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			code, err := rt.Restore(cmd.Context(), args[0], bundle, o, ro)
			if err != nil {
				return fmt.Errorf("restore %s: %w", args[0], err)
			}
			if code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
	addCRIUFlags(cmd, &ro.CRIUOptions)
	f := cmd.Flags()
	f.StringVarP(&bundle, "bundle", "b", ".", "path to the bundle (the directory holding config.json)")
	f.StringVar(&o.PidFile, "pid-file", "", "write the restored init's pid to this file")
	f.StringVar(&o.ConsoleSocket, "console-socket", "", "unix socket receiving the new pty master when process.terminal is true")
	f.BoolVar(&o.NoPivot, "no-pivot", false, "accepted for runc's callers (CRIU makes the root)")
	f.BoolVarP(&ro.Detach, "detach", "d", false, "return once the container runs")
	f.BoolVar(&ro.NoSubreaper, "no-subreaper", false, "do not become a subreaper while waiting in the foreground")
	f.BoolVar(&ro.AutoDedup, "auto-dedup", false, "punch restored pages out of the images")
	f.StringSliceVar(&ro.EmptyNs, "empty-ns", nil, "namespace types restored empty, for the caller to set up (network)")
	f.BoolVar(&ro.LazyPages, "lazy-pages", false, "fetch the memory lazily from a running criu lazy-pages daemon")
	f.StringVar(&ro.LsmProfile, "lsm-profile", "", "LSM profile (TYPE:NAME) for the restored processes")
	f.StringVar(&ro.LsmMountContext, "lsm-mount-context", "", "LSM mount context for the restored mounts")
	return cmd
}
