package process

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/runtime/rules"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var (
	// ErrNotSupported is returned on operating systems other than Linux.
	ErrNotSupported = errdefs.New(errdefs.ErrUnsupported, "process: not supported on this operating system")
	// ErrInvalid wraps every validation error.
	ErrInvalid = errdefs.New(errdefs.ErrInvalid, "process: invalid configuration")
	// ErrAppArmorUnavailable is returned when a profile is asked for on a
	// host without AppArmor.
	ErrAppArmorUnavailable = errdefs.New(errdefs.ErrUnsupported, "process: apparmor profile requested but AppArmor is not enabled on this host")
	// ErrSELinuxUnavailable is returned when a label is asked for on a host
	// without SELinux.
	ErrSELinuxUnavailable = errdefs.New(errdefs.ErrUnsupported, "process: selinux label requested but SELinux is not enabled on this host")
)

// Option configures the functions that may log.
type Option func(*options)

type options struct{ log *slog.Logger }

// WithLogger sets the logger for warnings (capabilities that are unknown
// or cannot be granted).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

func newOptions(opts []Option) *options {
	o := &options{}
	for _, f := range opts {
		f(o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	return o
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// ValidateRlimits checks names, duplicates (config.md: duplicated types
// MUST be an error) and soft <= hard.
func ValidateRlimits(rl []specs.POSIXRlimit) error {
	seen := map[string]bool{}
	for _, r := range rl {
		if _, ok := rules.Rlimit(r.Type); !ok {
			return invalid("rlimit %q: unknown type", r.Type)
		}
		if seen[r.Type] {
			return invalid("rlimit %q: duplicated", r.Type)
		}
		seen[r.Type] = true
		if r.Soft > r.Hard {
			return invalid("rlimit %q: soft limit %d exceeds hard limit %d", r.Type, r.Soft, r.Hard)
		}
	}
	return nil
}

// ParseCapability maps a config.md capability name ("CAP_SYS_ADMIN") to the
// library's value. Names are case-sensitive as in capabilities(7); a name
// the library does not know is an error naming it.
func ParseCapability(name string) (capability.Cap, error) {
	if c, ok := rules.Capability(name); ok {
		return c, nil
	}
	return 0, invalid("capability %q: unknown", name)
}

func capName(c capability.Cap) string { return "CAP_" + strings.ToUpper(c.String()) }

// UnknownCapabilities returns the names in c that name no capability this
// package knows, each once, in order. config.md "capabilities" (runtime-spec
// 1.3) makes them a warning, not an error: ValidateProcess logs them and
// ApplyCapabilities leaves them out.
func UnknownCapabilities(c *specs.LinuxCapabilities) []string {
	if c == nil {
		return nil
	}
	var out []string
	for _, set := range [][]string{c.Bounding, c.Effective, c.Inheritable, c.Permitted, c.Ambient} {
		for _, n := range set {
			if _, err := ParseCapability(n); err != nil && !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

var schedPolicies = map[specs.LinuxSchedulerPolicy]uint32{
	specs.SchedOther: 0, specs.SchedFIFO: 1, specs.SchedRR: 2, specs.SchedBatch: 3,
	specs.SchedISO: 4, specs.SchedIdle: 5, specs.SchedDeadline: 6,
}

var schedFlags = map[specs.LinuxSchedulerFlag]uint64{
	specs.SchedFlagResetOnFork: 0x01, specs.SchedFlagReclaim: 0x02, specs.SchedFlagDLOverrun: 0x04,
	specs.SchedFlagKeepPolicy: 0x08, specs.SchedFlagKeepParams: 0x10,
	specs.SchedFlagUtilClampMin: 0x20, specs.SchedFlagUtilClampMax: 0x40,
}

// ValidateScheduler checks the policy, flags and the fields each policy
// needs (config.md "scheduler"; sched_setattr(2)).
func ValidateScheduler(s *specs.Scheduler) error {
	if s == nil {
		return nil
	}
	pol, ok := schedPolicies[s.Policy]
	if !ok {
		return invalid("scheduler policy %q: unknown", s.Policy)
	}
	for _, f := range s.Flags {
		if _, ok := schedFlags[f]; !ok {
			return invalid("scheduler flag %q: unknown", f)
		}
	}
	if s.Nice < -20 || s.Nice > 19 {
		return invalid("scheduler nice %d: want -20 to 19", s.Nice)
	}
	switch pol {
	case 1, 2: // FIFO, RR
		if s.Priority < 1 || s.Priority > 99 {
			return invalid("scheduler priority %d: %s wants 1 to 99", s.Priority, s.Policy)
		}
	default:
		if s.Priority != 0 {
			return invalid("scheduler priority %d: %s wants 0", s.Priority, s.Policy)
		}
	}
	if pol == 6 && (s.Runtime == 0 || s.Deadline == 0) {
		return invalid("scheduler %s needs runtime and deadline", s.Policy)
	}
	if pol != 6 && (s.Runtime != 0 || s.Deadline != 0 || s.Period != 0) {
		return invalid("scheduler runtime/deadline/period are only for SCHED_DEADLINE, not %s", s.Policy)
	}
	return nil
}

var ioprioClasses = map[specs.IOPriorityClass]int{
	specs.IOPRIO_CLASS_RT: 1, specs.IOPRIO_CLASS_BE: 2, specs.IOPRIO_CLASS_IDLE: 3,
}

// ValidateIOPriority checks the class and the 0-7 priority range.
func ValidateIOPriority(p *specs.LinuxIOPriority) error {
	if p == nil {
		return nil
	}
	if _, ok := ioprioClasses[p.Class]; !ok {
		return invalid("ioPriority class %q: unknown", p.Class)
	}
	if p.Priority < 0 || p.Priority > 7 {
		return invalid("ioPriority priority %d: want 0 to 7", p.Priority)
	}
	return nil
}

// ValidateProcess checks everything of process that can be checked
// without starting it: rlimits, capabilities, scheduler, I/O priority,
// oomScoreAdj, and that a requested AppArmor profile or SELinux label can
// be applied on this host. It returns every problem found. Unknown
// capability names are not errors but warnings (WithLogger), as config.md
// "capabilities" requires.
func ValidateProcess(p *specs.Process, opts ...Option) error {
	if p == nil {
		return nil
	}
	o := newOptions(opts)
	for _, n := range UnknownCapabilities(p.Capabilities) {
		o.log.Warn("ignoring unknown capability", "capability", n)
	}
	errs := []error{
		ValidateRlimits(p.Rlimits),
		ValidateScheduler(p.Scheduler),
		ValidateIOPriority(p.IOPriority),
		ValidateCPUAffinity(p.ExecCPUAffinity),
	}
	if p.OOMScoreAdj != nil && (*p.OOMScoreAdj < -1000 || *p.OOMScoreAdj > 1000) {
		errs = append(errs, invalid("oomScoreAdj %d: want -1000 to 1000", *p.OOMScoreAdj))
	}
	if p.ApparmorProfile != "" && !AppArmorEnabled() {
		errs = append(errs, fmt.Errorf("%w: %q", ErrAppArmorUnavailable, p.ApparmorProfile))
	}
	if p.SelinuxLabel != "" && !SELinuxEnabled() {
		errs = append(errs, fmt.Errorf("%w: %q", ErrSELinuxUnavailable, p.SelinuxLabel))
	}
	return errors.Join(errs...)
}

// ValidatePersonality checks linux.personality: domains LINUX and LINUX32,
// no flags (config-linux.md defines none).
func ValidatePersonality(p *specs.LinuxPersonality) error {
	if p == nil {
		return nil
	}
	if _, ok := personalities[p.Domain]; !ok {
		return invalid("personality domain %q: want LINUX or LINUX32", p.Domain)
	}
	if len(p.Flags) > 0 {
		return invalid("personality flag %q: unknown", p.Flags[0])
	}
	return nil
}

var personalities = map[specs.LinuxPersonalityDomain]uintptr{
	specs.PerLinux:   0x0000,
	specs.PerLinux32: 0x0008,
}

// ValidateLinux checks the process-related parts of the linux object:
// sysctl against the namespaces, personality and memory policy.
func ValidateLinux(l *specs.Linux) error {
	if l == nil {
		return nil
	}
	errs := []error{
		ValidateSysctls(l.Sysctl, l.Namespaces),
		ValidatePersonality(l.Personality),
	}
	if l.MemoryPolicy != nil {
		if _, _, err := memoryPolicyArgs(l.MemoryPolicy); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ValidateSpec runs ValidateProcess and ValidateLinux.
func ValidateSpec(s *specs.Spec, opts ...Option) error {
	if s == nil {
		return nil
	}
	return errors.Join(ValidateProcess(s.Process, opts...), ValidateLinux(s.Linux))
}
