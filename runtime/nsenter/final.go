package nsenter

import "encoding/binary"

// FinalEnv names the inherited descriptor an exec'd process reads its
// Final plan from: the constructor then carries it out after joining the
// container's namespaces, and executes the program without ever starting
// the Go runtime.
const FinalEnv = "_OCIKIT_FINAL"

// Final is the plan of a container process's final stage, carried out in
// C (final.c): the attributes of config.md's process that belong to the
// process itself, in the order runc applies them, and the execve. Package
// process fills it from the spec (names resolved to numbers, values
// validated); the C side only makes the system calls and reports the
// first failure as one line naming the step.
//
// The encoding is a sequence of records: a 4-byte tag, a 4-byte length,
// and that many bytes, integers in the host's byte order (the plan never
// leaves the host).
type Final struct {
	Args, Env []string
	Cwd       string
	Umask     *uint32
	UID, GID  uint32
	Groups    []uint32
	// Caps are the bounding, effective, permitted, inheritable and
	// ambient sets as bit masks, of capabilities up to LastCap (the
	// running kernel's).
	Caps            [5]uint64
	LastCap         uint32
	NoNewPrivileges bool
	Rlimits         []Rlimit
	// Seccomp is a compiled filter (struct sock_filter array) loaded
	// with SeccompFlags; nil for none.
	Seccomp      []byte
	SeccompFlags uint32
	Sched        *Sched
	IOPriority   *Labeled
	Personality  *Labeled
	MemPolicy    *MemPolicy
	AppArmor     string
	SELinux      string

	// For an exec'd process only (ocikit_final_run).
	Name       string // PR_SET_NAME
	CPUInitial *CPUSet
	CPUFinal   *CPUSet
	Setsid     bool
	// ConsoleFD >= 0 is the terminal to make controlling and stdio, with
	// ConsoleRows x ConsoleCols when ConsoleSize.
	ConsoleFD                int
	ConsoleSize              bool
	ConsoleRows, ConsoleCols uint16
	RootFD                   int    // >= 0: fchdir and chroot there
	Keyring                  string // join a new session keyring of this name
	CgroupSync               bool   // ask the runtime for the move into the cgroup
	// CloseFrom >= 0 (an exec'd process only): descriptors from this one
	// on are marked close-on-exec before the setup and closed right
	// before the execve (but the sync socket). Never in a process whose
	// Go runtime runs: its threads use their own descriptors until the
	// execve.
	CloseFrom int
	// StartFD >= 0 (a container init without Go only): the listening
	// start socket; with it ConsoleFD >= 0 means the terminal comes over
	// the sync socket (its number is then not used).
	StartFD int
	// Hooks (with StartFD) are startContainer hooks the init runs after
	// start, before the execve, each with HookState on stdin.
	Hooks     []Hook
	HookState []byte
}

// Hook is a hook the C stage runs (config.md "POSIX-platform Hooks"): Env
// is its whole environment, Timeout in seconds (0: none).
type Hook struct {
	Path      string
	Args, Env []string
	Timeout   uint32
}

// Rlimit is one of process.rlimits, named for messages.
type Rlimit struct {
	Name       string
	Resource   int
	Soft, Hard uint64
}

// Sched is a struct sched_attr (SCHED_ATTR_SIZE_VER0), named for messages.
type Sched struct {
	Policy                    uint32
	Flags                     uint64
	Nice                      int32
	Priority                  uint32
	Runtime, Deadline, Period uint64
	Label                     string
}

// Labeled is a value with its name for messages.
type Labeled struct {
	Value uint64
	Label string
}

// MemPolicy is set_mempolicy(2)'s mode (with flags) and node mask.
type MemPolicy struct {
	Mode  uint32
	Mask  []uint64
	Label string
}

// CPUSet is a sched_setaffinity(2) mask.
type CPUSet struct {
	Mask  []byte
	Label string
}

// Record tags: keep in step with final.c.
const (
	fArg = iota + 1
	fEnv
	fCwd
	fUmask
	fUser
	fGroups
	fCaps
	fNNP
	fRlimit
	fSeccomp
	fSched
	fIOPrio
	fPersonality
	fMemPolicy
	fAppArmor
	fSELinux
	fName
	fCPUInitial
	fCPUFinal
	fSetsid
	fConsole
	fRootFD
	fKeyring
	fCgroupSync
	fCloseFrom
	fStart
	fHook
	fHookState
)

type planWriter []byte

func (w *planWriter) rec(tag uint32, parts ...[]byte) {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	*w = binary.NativeEndian.AppendUint32(*w, tag)
	*w = binary.NativeEndian.AppendUint32(*w, uint32(n))
	for _, p := range parts {
		*w = append(*w, p...)
	}
}

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.NativeEndian.AppendUint64(nil, v) }

// Encode returns the plan's bytes.
func (f *Final) Encode() []byte {
	var w planWriter
	for _, a := range f.Args {
		w.rec(fArg, []byte(a))
	}
	for _, e := range f.Env {
		w.rec(fEnv, []byte(e))
	}
	w.rec(fCwd, []byte(f.Cwd))
	if f.Umask != nil {
		w.rec(fUmask, u32(*f.Umask))
	}
	w.rec(fUser, u32(f.UID), u32(f.GID))
	if len(f.Groups) > 0 {
		var g []byte
		for _, id := range f.Groups {
			g = binary.NativeEndian.AppendUint32(g, id)
		}
		w.rec(fGroups, g)
	}
	var caps []byte
	for _, c := range f.Caps {
		caps = binary.NativeEndian.AppendUint64(caps, c)
	}
	w.rec(fCaps, caps, u32(f.LastCap))
	if f.NoNewPrivileges {
		w.rec(fNNP)
	}
	for _, r := range f.Rlimits {
		w.rec(fRlimit, u32(uint32(r.Resource)), u64(r.Soft), u64(r.Hard), []byte(r.Name))
	}
	if len(f.Seccomp) > 0 {
		w.rec(fSeccomp, u32(f.SeccompFlags), f.Seccomp)
	}
	if s := f.Sched; s != nil {
		// struct sched_attr: size, policy, flags, nice, priority,
		// runtime, deadline, period (the size is set by the C side).
		w.rec(fSched, u32(48), u32(s.Policy), u64(s.Flags), u32(uint32(s.Nice)), u32(s.Priority),
			u64(s.Runtime), u64(s.Deadline), u64(s.Period), []byte(s.Label))
	}
	if p := f.IOPriority; p != nil {
		w.rec(fIOPrio, u64(p.Value), []byte(p.Label))
	}
	if p := f.Personality; p != nil {
		w.rec(fPersonality, u64(p.Value), []byte(p.Label))
	}
	if m := f.MemPolicy; m != nil {
		var mask []byte
		for _, word := range m.Mask {
			mask = binary.NativeEndian.AppendUint64(mask, word)
		}
		w.rec(fMemPolicy, u32(m.Mode), u32(uint32(len(m.Mask))), mask, []byte(m.Label))
	}
	if f.AppArmor != "" {
		w.rec(fAppArmor, []byte(f.AppArmor))
	}
	if f.SELinux != "" {
		w.rec(fSELinux, []byte(f.SELinux))
	}
	if f.Name != "" {
		w.rec(fName, []byte(f.Name))
	}
	for tag, c := range map[uint32]*CPUSet{fCPUInitial: f.CPUInitial, fCPUFinal: f.CPUFinal} {
		if c != nil && len(c.Mask) > 0 {
			w.rec(tag, u32(uint32(len(c.Mask))), c.Mask, []byte(c.Label))
		}
	}
	if f.Setsid {
		w.rec(fSetsid)
	}
	if f.ConsoleFD >= 0 {
		size := byte(0)
		if f.ConsoleSize {
			size = 1
		}
		w.rec(fConsole, u32(uint32(f.ConsoleFD)), binary.NativeEndian.AppendUint16(nil, f.ConsoleRows),
			binary.NativeEndian.AppendUint16(nil, f.ConsoleCols), []byte{size})
	}
	if f.RootFD >= 0 {
		w.rec(fRootFD, u32(uint32(f.RootFD)))
	}
	if f.Keyring != "" {
		w.rec(fKeyring, []byte(f.Keyring))
	}
	if f.CgroupSync {
		w.rec(fCgroupSync)
	}
	if f.CloseFrom >= 0 {
		w.rec(fCloseFrom, u32(uint32(f.CloseFrom)))
	}
	if f.StartFD >= 0 {
		w.rec(fStart, u32(uint32(f.StartFD)))
	}
	for _, h := range f.Hooks {
		// timeout, the number of args and of env entries, then path,
		// args and env, each NUL-terminated.
		var b []byte
		for _, str := range append(append([]string{h.Path}, h.Args...), h.Env...) {
			b = append(append(b, str...), 0)
		}
		w.rec(fHook, u32(h.Timeout), u32(uint32(len(h.Args))), u32(uint32(len(h.Env))), b)
	}
	if len(f.Hooks) > 0 {
		w.rec(fHookState, f.HookState)
	}
	return w
}
