package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/ocikit/ocikit/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newUpdateCmd(g *globals) *cobra.Command {
	var resources string
	v := map[string]*string{}
	cmd := &cobra.Command{
		Use:   "update [flags] ID",
		Short: "Change the resource limits of a container",
		Long: `Change the cgroup limits of a created, running or paused container, as
runc update does: the given settings are merged into the current ones.
-r FILE (or - for standard input) gives them as the JSON of
linux.resources instead of flags. Memory sizes take a k, m, g, t or p
suffix (powers of 1024); -1 is unlimited.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			f := cmd.Flags()
			for _, n := range []string{"l3-cache-schema", "mem-bw-schema"} {
				if f.Changed(n) {
					return fmt.Errorf("update %s: --%s: %w (Intel RDT)", id, n, runtime.ErrNotSupported)
				}
			}
			for _, n := range []string{"kernel-memory", "kernel-memory-tcp"} {
				if f.Changed(n) {
					g.log().Warn("--" + n + " is ignored: kernel memory limits are gone from the kernel (as runc)")
				}
			}
			var res *specs.LinuxResources
			var err error
			if resources != "" {
				if n := changedFlags(cmd.Flags()); n != "" {
					return fmt.Errorf("update %s: --%s cannot be combined with --resources", id, n)
				}
				res, err = readResources(resources, cmd.InOrStdin())
			} else {
				res, err = resourcesFromFlags(cmd.Flags(), v)
			}
			if err != nil {
				return fmt.Errorf("update %s: %w", id, err)
			}
			rt, err := g.containers()
			if err != nil {
				return err
			}
			if err := rt.Update(cmd.Context(), id, res); err != nil {
				return fmt.Errorf("update %s: %w", id, err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&resources, "resources", "r", "", "file with the JSON of linux.resources (- for standard input)")
	for _, fl := range updateFlags {
		s := new(string)
		v[fl.name] = s
		f.StringVar(s, fl.name, "", fl.usage)
	}
	// runc's Intel RDT flags: ocikit has no Intel RDT (features says
	// so), so they fail when given. runc's obsolete kernel memory flags
	// are accepted, hidden, and ignored with a warning, as runc does.
	f.String("l3-cache-schema", "", "Intel RDT/CAT L3 cache schema (not supported)")
	f.String("mem-bw-schema", "", "Intel RDT/MBA memory bandwidth schema (not supported)")
	f.String("kernel-memory", "", "obsolete, ignored")
	f.String("kernel-memory-tcp", "", "obsolete, ignored")
	f.MarkHidden("kernel-memory")
	f.MarkHidden("kernel-memory-tcp")
	// Docker's spelling of runc's --cpu-share.
	f.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if name == "cpu-shares" {
			name = "cpu-share"
		}
		return pflag.NormalizedName(name)
	})
	return cmd
}

// updateFlags are runc update's resource flags (without the deprecated
// kernel memory ones and Intel RDT).
var updateFlags = []struct{ name, usage string }{
	{"memory", "memory limit in bytes (-1: unlimited)"},
	{"memory-reservation", "memory soft limit in bytes"},
	{"memory-swap", "memory plus swap limit in bytes (-1: unlimited)"},
	{"cpu-share", "CPU shares (relative weight)"},
	{"cpu-quota", "CPU time in microseconds per --cpu-period (-1: unlimited)"},
	{"cpu-period", "CPU CFS period in microseconds"},
	{"cpu-rt-runtime", "realtime CPU time in microseconds per --cpu-rt-period"},
	{"cpu-rt-period", "realtime CPU period in microseconds"},
	{"cpu-idle", "1: the cgroup runs at SCHED_IDLE priority"},
	{"cpuset-cpus", "CPUs to run on (0-3,5)"},
	{"cpuset-mems", "memory nodes to use (0-1)"},
	{"pids-limit", "maximum number of tasks (-1: unlimited)"},
	{"blkio-weight", "block I/O weight (10 to 1000)"},
}

func changedFlags(f *pflag.FlagSet) string {
	for _, fl := range updateFlags {
		if f.Changed(fl.name) {
			return fl.name
		}
	}
	return ""
}

// readResources reads linux.resources JSON from path, or from stdin for "-".
func readResources(path string, stdin io.Reader) (*specs.LinuxResources, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read resources: %w", err)
	}
	var res specs.LinuxResources
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, fmt.Errorf("resources %s: invalid linux.resources JSON: %w", path, err)
	}
	return &res, nil
}

// resourcesFromFlags builds the partial resources of the flags given.
func resourcesFromFlags(f *pflag.FlagSet, v map[string]*string) (*specs.LinuxResources, error) {
	res := &specs.LinuxResources{}
	mem := func() *specs.LinuxMemory {
		if res.Memory == nil {
			res.Memory = &specs.LinuxMemory{}
		}
		return res.Memory
	}
	cpu := func() *specs.LinuxCPU {
		if res.CPU == nil {
			res.CPU = &specs.LinuxCPU{}
		}
		return res.CPU
	}
	for _, fl := range updateFlags {
		if !f.Changed(fl.name) {
			continue
		}
		s := strings.TrimSpace(*v[fl.name])
		bad := func(want string) error { return fmt.Errorf("invalid --%s %q: want %s", fl.name, s, want) }
		var err error
		switch fl.name {
		case "memory", "memory-reservation", "memory-swap":
			var n int64
			if n, err = parseBytes(s); err != nil {
				return nil, bad("a size in bytes (512m, 1g) or -1")
			}
			switch fl.name {
			case "memory":
				mem().Limit = &n
			case "memory-reservation":
				mem().Reservation = &n
			default:
				mem().Swap = &n
			}
		case "cpu-share", "cpu-period", "cpu-rt-period":
			var n uint64
			if n, err = strconv.ParseUint(s, 10, 64); err != nil {
				return nil, bad("a non-negative integer")
			}
			switch fl.name {
			case "cpu-share":
				cpu().Shares = &n
			case "cpu-period":
				cpu().Period = &n
			default:
				cpu().RealtimePeriod = &n
			}
		case "cpu-quota", "cpu-rt-runtime", "cpu-idle", "pids-limit":
			var n int64
			if n, err = strconv.ParseInt(s, 10, 64); err != nil {
				return nil, bad("an integer")
			}
			switch fl.name {
			case "cpu-quota":
				cpu().Quota = &n
			case "cpu-rt-runtime":
				cpu().RealtimeRuntime = &n
			case "cpu-idle":
				if n != 0 && n != 1 {
					return nil, bad("0 or 1")
				}
				cpu().Idle = &n
			default:
				res.Pids = &specs.LinuxPids{Limit: &n}
			}
		case "cpuset-cpus", "cpuset-mems":
			if !validCPUList(s) {
				return nil, bad("a list of numbers and ranges (0-3,5)")
			}
			if fl.name == "cpuset-cpus" {
				cpu().Cpus = s
			} else {
				cpu().Mems = s
			}
		case "blkio-weight":
			n, err := strconv.ParseUint(s, 10, 16)
			if err != nil || n < 10 || n > 1000 {
				return nil, bad("an integer from 10 to 1000")
			}
			w := uint16(n)
			res.BlockIO = &specs.LinuxBlockIO{Weight: &w}
		}
	}
	return res, nil
}

// parseBytes parses a size as runc does (docker/go-units RAMInBytes): a
// number with an optional k, m, g, t or p suffix, optionally followed by
// b or ib, in powers of 1024; "-1" means unlimited.
func parseBytes(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	l := strings.ToLower(s)
	l = strings.TrimSuffix(l, "b")
	l = strings.TrimSuffix(l, "i")
	mult := 1.0
	if l != "" {
		if i := strings.IndexByte("kmgtp", l[len(l)-1]); i >= 0 {
			mult = math.Pow(1024, float64(i+1))
			l = l[:len(l)-1]
		}
	}
	n, err := strconv.ParseFloat(l, 64)
	if err != nil || n < 0 || math.IsInf(n, 0) || math.IsNaN(n) || l == "" || strings.ContainsAny(l, "eEx+-") {
		return 0, errors.New("invalid size")
	}
	v := n * mult
	if v >= math.MaxInt64 {
		return 0, errors.New("size too large")
	}
	return int64(v), nil
}

// validCPUList reports whether s is a cpuset list such as 0-3,5.
func validCPUList(s string) bool {
	if s == "" {
		return false
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 32)
		if err != nil {
			return false
		}
		if isRange {
			b, err := strconv.ParseUint(hi, 10, 32)
			if err != nil || b < a {
				return false
			}
		}
	}
	return true
}
