// Package nsenter holds the C constructor that ocikit's container init runs
// before the Go runtime starts, and the C final stage of every container
// process. setns(2) and unshare(2) are per thread, and
// joining a mount or user namespace is refused to a multi-threaded process,
// so namespaces given by path (config-linux.md "Namespaces") must be joined
// while the process still has exactly one thread.
//
// Importing the package (for its side effect) links the constructor into the
// binary. The constructor does nothing unless the environment variable
// _OCIKIT_NSENTER names an inherited file descriptor; package runtime writes
// the plan to that descriptor:
//
//	sync <fd>                         socket for messages to the runtime
//	join <type> <path>                setns into the namespace at path
//	unshare <flags>                   unshare(2) these CLONE_NEW* flags
//	timeoffset <clock> <secs> <nsecs> offset for a new time namespace
//	fork                              fork once (pid or time namespace)
//
// Where the final stage follows (it never returns), the fork is a
// clone(2) with CLONE_VM on a stack of its own: nothing is copied, and the
// child waits for its parent's exit before it does anything.
//
// Messages to the runtime are JSON objects, one per SOCK_SEQPACKET packet:
// {"type":"maps","pid":N} (a new user namespace needs its maps written; the
// runtime answers with one packet), {"type":"pid","pid":N} (the process
// forked for the container) and {"type":"error","msg":"..."}.
//
// With _OCIKIT_NODUMP set the constructor makes the process non-dumpable
// before it joins or creates any namespace, so that no process of the
// container (nor one sharing the host uid of a user-namespaced container's
// root) can ptrace it or open /proc/<init>/exe and its descriptors while it
// still runs ocikit's binary (CVE-2019-5736); execve(2) of the user's
// program makes it dumpable again. It is dumpable again only while the
// runtime writes the id maps of a user namespace it unshared. What the
// process must write in its own /proc is written before: _OCIKIT_OOM
// (process.oomScoreAdj, to /proc/self/oom_score_adj; a failure is left in
// OOMErrno for the Go side to report) and the time
// namespace offsets, both through the runtime's /proc, checked to be a
// procfs, never a /proc of a joined mount namespace (CVE-2025-52881).
//
// The final stage (final.c, planned by Final) gives a container process
// the attributes of config.md's process that are its own (scheduler, I/O
// priority, personality, memory policy, AppArmor and SELinux labels,
// seccomp, rlimits, user and groups, capabilities, no_new_privs, cwd) and
// executes the program. An exec'd process gets its plan on the descriptor
// named by _OCIKIT_FINAL and runs the whole stage from the constructor,
// after joining the container's namespaces: it never starts the Go runtime,
// which on a machine where a page fault costs ~12 µs saves ~10 ms per exec
// and keeps the Go runtime's memory out of the container's cgroup. The
// container init calls the two halves through cgo on its locked main
// thread (FinalSetup before it waits for start, FinalExec after), so the
// rules live in one place. Everything is set with raw system calls on the
// calling thread: the execve keeps that thread's credentials,
// capabilities and seccomp filter.
package nsenter
