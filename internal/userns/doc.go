// Package userns makes user namespaces with given id mappings for a
// process that cannot unshare one itself (a Go program has many threads),
// for idmapped mounts (mount_setattr(2) MOUNT_ATTR_IDMAP takes a handle on
// one).
//
// A user namespace lives while a process or a handle holds it, so New
// starts a helper process in it, writes its maps, opens its namespace and
// ends it. A process in a new user namespace is reachable through
// /proc/<pid> (root, cwd, exe, fd, ns) by any process whose uid owns that
// namespace, capabilities or not: the owner has every capability in it.
// When the runtime is root, that is every uid-0 process of the host's pid
// namespace, a container's included. The helper is therefore forked, not
// executed (with cgo): it keeps the runtime's memory map, which stays
// owned by the initial user namespace, and it is made non-dumpable before
// it unshares, so that /proc/<pid> needs CAP_SYS_PTRACE there (ptrace(2)
// "Ptrace access mode checking").
package userns
