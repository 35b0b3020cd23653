// Package process applies the attributes of a container process described
// by config.md "Process" and the Linux parts of config-linux.md: resource
// limits, user and groups, capabilities, no_new_privs, oom_score_adj,
// scheduler, I/O priority, personality, AppArmor and SELinux labels,
// sysctls and the NUMA memory policy. Each function takes the spec's own
// types and acts on the calling process, so the container's init calls
// them in order just before execve:
//
//	SetRlimits, SetPersonality, SetMemoryPolicy, WriteSysctls (needs /proc/sys),
//	SetOOMScoreAdj, SetScheduler, SetIOPriority, SetUser, ApplyCapabilities,
//	SetNoNewPrivileges, ApplyAppArmor/SetSELinuxLabel (on the execve thread).
//
// ValidateProcess and ValidateLinux check a configuration without changing
// anything, so `create` can reject a bad config.json before it starts a
// process. Their errors name the offending field and value.
package process
