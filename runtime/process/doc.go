// Package process applies the attributes of a container process described
// by config.md "Process" and the Linux parts of config-linux.md: resource
// limits, user and groups, capabilities, no_new_privs, oom_score_adj,
// scheduler, I/O priority, personality, AppArmor and SELinux labels,
// sysctls and the NUMA memory policy. Each function takes the spec's own
// types and acts on the calling process, so the container's init calls
// them in order just before execve:
//
//	WriteSysctls (needs /proc/sys writable: before read-only paths are applied),
//	SetPersonality, SetMemoryPolicy, SetOOMScoreAdj, SetScheduler,
//	SetIOPriority, SetCPUAffinity, SetUser, ApplyCapabilities,
//	SetNoNewPrivileges, ApplyAppArmor/SetSELinuxLabel (on the execve thread),
//	SetRlimits last.
//
// Capabilities, no_new_privs, personality, the memory policy and the
// AppArmor/SELinux exec labels are attributes of the calling thread, and
// execve keeps those of the thread that calls it: the init must run on one
// locked OS thread (runtime.LockOSThread) from the first setter to execve.
// Groups, uid/gid, the scheduler, the I/O priority and the CPU affinity
// are applied to every thread.
//
// Rlimits constrain the runtime's own remaining work too: under a 1 GiB
// RLIMIT_AS a Go process (which reserves more address space than that at
// start) cannot even allocate, so libseccomp fails to compile a filter
// (ENOMEM). Set them right before execve, after the seccomp filter is
// loaded, or compile the filter in the parent (seccomp.Compile).
//
// Environ completes process.env as runc does (duplicate names collapsed,
// HOME from HomeDir, the container's /etc/passwd, when it is unset).
//
// ValidateProcess and ValidateLinux check a configuration without changing
// anything, so `create` can reject a bad config.json before it starts a
// process. Their errors name the offending field and value. Capabilities
// are the exception runtime-spec 1.3 makes: unknown names and capabilities
// the runtime cannot grant are warnings (WithLogger), not errors, as are
// ambient capabilities the kernel refuses to raise (not also permitted
// and inheritable).
package process
