package process

import (
	"fmt"

	"github.com/moby/sys/capability"
	"github.com/ocikit/ocikit/runtime/nsenter"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Final returns the plan of p's final stage (nsenter.Final: the process's
// own attributes and the execve, carried out in C on the thread that
// executes the program) with env as the program's environment
// (Environ's). personality and memPolicy come from the linux object (nil
// for none; exec'd processes get no memory policy). Names are resolved and
// values checked here, so the C side only makes system calls: each
// setting applies as config.md describes it, in the order runc applies
// them. Unknown capability names, and those the running kernel does not
// know, are left out with a warning (config.md "capabilities"); those
// the caller cannot grant are left out with a warning by the C side,
// which alone can tell.
func Final(p *specs.Process, env []string, personality *specs.LinuxPersonality, memPolicy *specs.LinuxMemoryPolicy, opts ...Option) (*nsenter.Final, error) {
	o := newOptions(opts)
	f := &nsenter.Final{Args: p.Args, Env: env, Cwd: p.Cwd, UID: p.User.UID, GID: p.User.GID,
		Umask: p.User.Umask, NoNewPrivileges: p.NoNewPrivileges,
		AppArmor: p.ApparmorProfile, SELinux: p.SelinuxLabel,
		ConsoleFD: -1, RootFD: -1, CloseFrom: -1, StartFD: -1}
	if len(p.Args) == 0 {
		return nil, invalid("process.args is empty")
	}
	f.Groups = append(f.Groups, p.User.AdditionalGids...)
	last, err := capability.LastCap()
	if err != nil {
		return nil, fmt.Errorf("process: capabilities: %w", err)
	}
	f.LastCap = uint32(last)
	if c := p.Capabilities; c != nil {
		warned := map[string]bool{}
		for i, set := range [][]string{c.Bounding, c.Effective, c.Permitted, c.Inheritable, c.Ambient} {
			for _, n := range set {
				cp, err := ParseCapability(n)
				switch {
				case err != nil || cp > last:
					why := "unknown"
					if err == nil {
						why = "unknown to the running kernel"
					}
					if !warned[n] {
						warned[n] = true
						o.log.Warn("ignoring capability: "+why, "capability", n)
					}
				default:
					f.Caps[i] |= 1 << uint(cp)
				}
			}
		}
	}
	if err := ValidateRlimits(p.Rlimits); err != nil {
		return nil, err
	}
	for _, r := range p.Rlimits {
		f.Rlimits = append(f.Rlimits, nsenter.Rlimit{Name: r.Type, Resource: rlimitResource(r.Type), Soft: r.Soft, Hard: r.Hard})
	}
	if s := p.Scheduler; s != nil {
		if err := ValidateScheduler(s); err != nil {
			return nil, err
		}
		sc := &nsenter.Sched{Policy: schedPolicies[s.Policy], Nice: s.Nice, Priority: uint32(s.Priority),
			Runtime: s.Runtime, Deadline: s.Deadline, Period: s.Period, Label: string(s.Policy)}
		for _, fl := range s.Flags {
			sc.Flags |= schedFlags[fl]
		}
		f.Sched = sc
	}
	if io := p.IOPriority; io != nil {
		if err := ValidateIOPriority(io); err != nil {
			return nil, err
		}
		// ioprio_set(2): the class above IOPRIO_CLASS_SHIFT (13).
		f.IOPriority = &nsenter.Labeled{Value: uint64(ioprioClasses[io.Class]<<13 | io.Priority),
			Label: fmt.Sprintf("%s/%d", io.Class, io.Priority)}
	}
	if personality != nil {
		if err := ValidatePersonality(personality); err != nil {
			return nil, err
		}
		f.Personality = &nsenter.Labeled{Value: uint64(personalities[personality.Domain]), Label: string(personality.Domain)}
	}
	if memPolicy != nil {
		mode, mask, err := memoryPolicyArgs(memPolicy)
		if err != nil {
			return nil, err
		}
		f.MemPolicy = &nsenter.MemPolicy{Mode: uint32(mode), Mask: mask, Label: fmt.Sprintf("%s %q", memPolicy.Mode, memPolicy.Nodes)}
	}
	if f.AppArmor != "" && !AppArmorEnabled() {
		return nil, fmt.Errorf("%w: %q", ErrAppArmorUnavailable, f.AppArmor)
	}
	if f.SELinux != "" && !SELinuxEnabled() {
		return nil, fmt.Errorf("%w: %q", ErrSELinuxUnavailable, f.SELinux)
	}
	return f, nil
}

// CPUSet returns the sched_setaffinity(2) mask of a cpu list such as
// "0-3,7" (process.execCPUAffinity), nil for an empty list.
func CPUSet(cpus string) (*nsenter.CPUSet, error) {
	mask, err := parseList("cpu affinity", cpus, 8192)
	if err != nil || len(mask) == 0 {
		return nil, err
	}
	b := make([]byte, 0, len(mask)*8)
	for _, w := range mask {
		for i := 0; i < 8; i++ {
			b = append(b, byte(w>>(8*i)))
		}
	}
	return &nsenter.CPUSet{Mask: b, Label: fmt.Sprintf("%q", cpus)}, nil
}
