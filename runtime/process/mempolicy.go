package process

import (
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Modes and flags of set_mempolicy(2) (linux/mempolicy.h).
var mpolModes = map[specs.MemoryPolicyModeType]int{
	specs.MpolDefault: 0, specs.MpolPreferred: 1, specs.MpolBind: 2, specs.MpolInterleave: 3,
	specs.MpolLocal: 4, specs.MpolPreferredMany: 5, specs.MpolWeightedInterleave: 6,
}

var mpolFlags = map[specs.MemoryPolicyFlagType]int{
	specs.MpolFStaticNodes: 1 << 15, specs.MpolFRelativeNodes: 1 << 14, specs.MpolFNumaBalancing: 1 << 13,
}

// MemoryPolicyModes and MemoryPolicyFlags list what SetMemoryPolicy
// recognizes (for `features`).
func MemoryPolicyModes() []string {
	return []string{"MPOL_DEFAULT", "MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_WEIGHTED_INTERLEAVE", "MPOL_PREFERRED", "MPOL_PREFERRED_MANY", "MPOL_LOCAL"}
}

// MemoryPolicyFlags lists the recognized memory policy flags.
func MemoryPolicyFlags() []string {
	return []string{"MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"}
}

// memoryPolicyArgs returns the mode (with flags) and node mask of
// set_mempolicy(2) for p (config-linux.md "Memory policy"): DEFAULT and
// LOCAL take no nodes, the others at least one (PREFERRED may be empty,
// meaning local allocation).
func memoryPolicyArgs(p *specs.LinuxMemoryPolicy) (int, []uint64, error) {
	mode, ok := mpolModes[p.Mode]
	if !ok {
		return 0, nil, invalid("memoryPolicy mode %q: unknown", p.Mode)
	}
	for _, f := range p.Flags {
		v, ok := mpolFlags[f]
		if !ok {
			return 0, nil, invalid("memoryPolicy flag %q: unknown", f)
		}
		mode |= v
	}
	mask, err := parseNodes(p.Nodes)
	if err != nil {
		return 0, nil, err
	}
	switch p.Mode {
	case specs.MpolDefault, specs.MpolLocal:
		if len(mask) > 0 {
			return 0, nil, invalid("memoryPolicy %s takes no nodes, got %q", p.Mode, p.Nodes)
		}
	case specs.MpolPreferred:
	default:
		if len(mask) == 0 {
			return 0, nil, invalid("memoryPolicy %s needs nodes", p.Mode)
		}
	}
	return mode, mask, nil
}

// parseNodes parses a node list such as "0-3,7" into a bit mask.
func parseNodes(s string) ([]uint64, error) { return parseList("memoryPolicy nodes", s, 4096) }

// parseList parses a comma-separated list of numbers and ranges ("0-3,7")
// below limit into a bit mask; field names it in errors.
func parseList(field, s string, limit uint64) ([]uint64, error) {
	var mask []uint64
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil, invalid("%s %q: bad number %q", field, s, lo)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
				return nil, invalid("%s %q: bad range %q", field, s, part)
			}
		}
		if b >= limit {
			return nil, invalid("%s %q: %d out of range", field, s, b)
		}
		for n := a; n <= b; n++ {
			for int(n/64) >= len(mask) {
				mask = append(mask, 0)
			}
			mask[n/64] |= 1 << (n % 64)
		}
	}
	return mask, nil
}

// ValidateCPUAffinity checks process.execCPUAffinity's CPU lists.
func ValidateCPUAffinity(a *specs.CPUAffinity) error {
	if a == nil {
		return nil
	}
	if _, err := parseList("execCPUAffinity.initial", a.Initial, 8192); err != nil {
		return err
	}
	_, err := parseList("execCPUAffinity.final", a.Final, 8192)
	return err
}
