// Package osthread runs a function on an OS thread of its own, for code
// that changes what belongs to a thread for good (its namespaces, its
// fs_struct after unshare(CLONE_FS)): the thread is never handed back to
// the Go scheduler and is never the process's main thread.
package osthread
