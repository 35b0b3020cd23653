// Package rules is the one table of runtime-spec facts that every part of
// ocikit checks against: validate-config (package validate), create (the
// runtime and runtime/process) and `features` read the namespace types,
// rlimit types, capability names and the ociVersion rule from here, so the
// three can never disagree. It depends on nothing platform-specific: the
// numbers are Linux's ABI, usable from any GOOS.
package rules

import (
	"slices"
	"strings"
	"sync"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Namespace is one namespace type of config-linux.md "Namespaces".
type Namespace struct {
	Type specs.LinuxNamespaceType
	// CloneFlag is the CLONE_NEW* flag of clone(2), unshare(2), setns(2).
	CloneFlag uintptr
	// ProcName is its entry under /proc/<pid>/ns.
	ProcName string
}

// namespaces in the order `features` lists them.
var namespaces = []Namespace{
	{specs.CgroupNamespace, 0x02000000, "cgroup"},
	{specs.IPCNamespace, 0x08000000, "ipc"},
	{specs.MountNamespace, 0x00020000, "mnt"},
	{specs.NetworkNamespace, 0x40000000, "net"},
	{specs.PIDNamespace, 0x20000000, "pid"},
	{specs.UserNamespace, 0x10000000, "user"},
	{specs.UTSNamespace, 0x04000000, "uts"},
	{specs.TimeNamespace, 0x00000080, "time"},
}

// Namespaces returns every namespace type the runtime knows.
func Namespaces() []Namespace { return slices.Clone(namespaces) }

// LookupNamespace returns the namespace of type t.
func LookupNamespace(t specs.LinuxNamespaceType) (Namespace, bool) {
	for _, ns := range namespaces {
		if ns.Type == t {
			return ns, true
		}
	}
	return Namespace{}, false
}

// NamespaceTypes returns the type names, as `features` lists them.
func NamespaceTypes() []string {
	out := make([]string, len(namespaces))
	for i, ns := range namespaces {
		out[i] = string(ns.Type)
	}
	return out
}

// rlimits maps the getrlimit(2) names config.md accepts on Linux to their
// resource numbers.
var rlimits = map[string]int{
	"RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3,
	"RLIMIT_CORE": 4, "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7,
	"RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9, "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11,
	"RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13, "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}

// Rlimit returns the Linux resource number of an rlimit type.
func Rlimit(name string) (int, bool) {
	n, ok := rlimits[name]
	return n, ok
}

// RlimitNames returns every rlimit type, sorted.
func RlimitNames() []string {
	out := make([]string, 0, len(rlimits))
	for k := range rlimits {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Capabilities returns every capability name of capabilities(7) that the
// capability library knows, in kernel order ("CAP_CHOWN", ...).
func Capabilities() []string {
	known := capability.ListKnown()
	out := make([]string, len(known))
	for i, c := range known {
		out[i] = "CAP_" + strings.ToUpper(c.String())
	}
	return out
}

// capabilities maps each name of Capabilities to its value, built on first
// use (nothing at package initialization).
var capabilities = sync.OnceValue(func() map[string]capability.Cap {
	m := map[string]capability.Cap{}
	for _, c := range capability.ListKnown() {
		m["CAP_"+strings.ToUpper(c.String())] = c
	}
	return m
})

// Capability returns the capability a name stands for (case-sensitive,
// as in capabilities(7): "CAP_SYS_ADMIN").
func Capability(name string) (capability.Cap, bool) {
	c, ok := capabilities()[name]
	return c, ok
}

// IsCapability reports whether name is a capability name.
func IsCapability(name string) bool {
	_, ok := Capability(name)
	return ok
}

// Hooks are the hook kinds of config.md "POSIX-platform Hooks", in
// lifecycle order.
func Hooks() []string {
	return []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}
}

// SemVer reports whether v is a SemVer 2.0.0 version (semver.org: three
// numbers without leading zeros, an optional pre-release of dot-separated
// identifiers, numeric ones without leading zeros, and optional build
// metadata) and returns its major number. config.md "Specification
// version": ociVersion MUST be in SemVer v2.0.0 format.
func SemVer(v string) (major int, ok bool) {
	core, build, hasBuild := strings.Cut(v, "+")
	if hasBuild && !identifiers(build, false) {
		return 0, false
	}
	core, pre, hasPre := strings.Cut(core, "-")
	if hasPre && !identifiers(pre, true) {
		return 0, false
	}
	nums := strings.Split(core, ".")
	if len(nums) != 3 {
		return 0, false
	}
	for i, n := range nums {
		if !numeric(n) {
			return 0, false
		}
		if i == 0 {
			for _, c := range n {
				// Saturated: any major past a million is "not 1".
				major = min(major*10+int(c-'0'), 1<<20)
			}
		}
	}
	return major, true
}

// SupportedVersion reports whether v is a runtime-spec version this runtime
// runs: SemVer 2.0.0 with major version 1.
func SupportedVersion(v string) bool {
	major, ok := SemVer(v)
	return ok && major == 1
}

// numeric: digits, no leading zero unless it is "0".
func numeric(s string) bool {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// identifiers: dot-separated non-empty [0-9A-Za-z-]+; with pre-release
// rules, a numeric identifier has no leading zero.
func identifiers(s string, pre bool) bool {
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return false
		}
		digits := true
		for i := 0; i < len(id); i++ {
			c := id[i]
			switch {
			case '0' <= c && c <= '9':
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '-':
				digits = false
			default:
				return false
			}
		}
		if pre && digits && !numeric(id) {
			return false
		}
	}
	return true
}
