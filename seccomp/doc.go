// Package seccomp installs the seccomp filter of config-linux.md "Seccomp"
// and sends the user notification fd to a seccomp agent (listenerPath).
//
// Compile (cgo, libseccomp) turns a LinuxSeccomp into a Program: the BPF
// libseccomp generates (as a binary tree of syscall numbers) and the
// seccomp(2) flags to install it with. Program.Load installs it with the
// seccomp system call itself, without libseccomp. A runtime compiles in its
// parent process, where WithCacheDir keeps compiled programs by content so
// repeated containers skip libseccomp's tens of milliseconds, and the
// container's init only loads. Load does both in one call.
//
// Filters are always installed with SECCOMP_FILTER_FLAG_TSYNC, so they
// reach every thread of a Go process. Syscall names unknown to libseccomp
// are skipped with a debug log, as runc does, so one profile serves several
// kernels; an unknown action, architecture, operator or flag is an error
// naming it. The filter flags supported are those the running kernel
// accepts (SupportedFlags), independent of the libseccomp version.
//
// Builds without cgo, or for other operating systems, have a Compile and
// Load that return ErrNotSupported (and Features reports seccomp as
// disabled); Program.Load needs no cgo on Linux.
package seccomp
