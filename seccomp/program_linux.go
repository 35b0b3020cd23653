package seccomp

import (
	"fmt"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

var flagBits = map[specs.LinuxSeccompFlag]uint{
	"SECCOMP_FILTER_FLAG_TSYNC":            unix.SECCOMP_FILTER_FLAG_TSYNC,
	specs.LinuxSeccompFlagLog:              unix.SECCOMP_FILTER_FLAG_LOG,
	specs.LinuxSeccompFlagSpecAllow:        unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW,
	specs.LinuxSeccompFlagWaitKillableRecv: unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
}

// kernelFlags returns the seccomp(2) flags for cfg. TSYNC is always set:
// the filter must reach every thread of a Go process. A NOTIFY rule adds
// NEW_LISTENER, which the kernel only combines with TSYNC when TSYNC_ESRCH
// is set too. WAIT_KILLABLE_RECV only means something with a listener and
// is dropped without one (the kernel would refuse it).
func kernelFlags(cfg *specs.LinuxSeccomp) (uint, error) {
	flags := uint(unix.SECCOMP_FILTER_FLAG_TSYNC)
	for _, f := range cfg.Flags {
		b, ok := flagBits[f]
		if !ok {
			return 0, invalid("unknown flag %q", f)
		}
		flags |= b
	}
	notify := false
	for _, sc := range cfg.Syscalls {
		notify = notify || sc.Action == specs.ActNotify
	}
	if notify {
		flags |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH
	} else {
		flags &^= unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
	}
	return flags, nil
}

// flagKnown asks the kernel whether it knows one filter flag: with a NULL
// program a known flag fails with EFAULT, an unknown one with EINVAL.
func flagKnown(bit uint) bool {
	if bit == unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV {
		bit |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
	}
	_, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(bit), 0)
	return e == unix.EFAULT
}

// SupportedFlags returns the flags of config-linux.md this kernel accepts.
func SupportedFlags() []string {
	var out []string
	for _, f := range Flags {
		if flagKnown(flagBits[specs.LinuxSeccompFlag(f)]) {
			out = append(out, f)
		}
	}
	return out
}

// Load installs the program as the seccomp filter of every thread of the
// calling process and returns the user notification fd (close-on-exec)
// when the program has a listener, otherwise -1.
func (p *Program) Load() (notifyFd int, err error) {
	if p == nil {
		return -1, nil
	}
	n := len(p.BPF) / int(unsafe.Sizeof(unix.SockFilter{}))
	if n == 0 || n > 0xffff || len(p.BPF)%int(unsafe.Sizeof(unix.SockFilter{})) != 0 {
		return -1, fmt.Errorf("seccomp: load filter: %d bytes is not a BPF program", len(p.BPF))
	}
	// A copy with the alignment of struct sock_filter.
	prog := make([]unix.SockFilter, n)
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&prog[0])), len(p.BPF)), p.BPF)
	fprog := unix.SockFprog{Len: uint16(n), Filter: &prog[0]}
	r, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(p.Flags), uintptr(unsafe.Pointer(&fprog)))
	if e != 0 {
		if e == unix.EINVAL {
			for name, bit := range flagBits {
				if p.Flags&bit != 0 && !flagKnown(bit) {
					return -1, fmt.Errorf("seccomp: flag %s is not supported by this kernel", name)
				}
			}
		}
		if e == unix.EACCES {
			return -1, fmt.Errorf("seccomp: load filter: %w (without no_new_privs loading needs CAP_SYS_ADMIN)", e)
		}
		return -1, fmt.Errorf("seccomp: load filter: %w", e)
	}
	if p.Flags&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
		return int(r), nil // the kernel creates it close-on-exec
	}
	if r != 0 {
		// TSYNC without a listener returns the id of a thread that could
		// not be synchronized (it has a conflicting filter).
		return -1, fmt.Errorf("seccomp: load filter: thread %d could not be synchronized", r)
	}
	return -1, nil
}
