// Package seccomp loads the seccomp filter of config-linux.md "Seccomp"
// into the calling process with libseccomp (cgo), and sends the user
// notification fd to a seccomp agent (listenerPath).
//
// Load applies to every thread of the process (the filter is installed with
// SECCOMP_FILTER_FLAG_TSYNC), which a Go container init needs since its
// goroutines run on several threads. Syscall names unknown to libseccomp
// are skipped with a debug log, as runc does, so one profile serves several
// kernels; an unknown action, architecture, operator or flag is an error
// naming it.
//
// Builds without cgo, or for other operating systems, have a Load that
// returns ErrNotSupported (and Features reports seccomp as disabled).
package seccomp
