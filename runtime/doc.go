// Package runtime runs containers as runtime-spec v1.3.0 describes them
// (runtime.md "Lifecycle"): create, start, state, kill, delete and a
// foreground run, with the state of every container kept in a directory
// under the runtime's root so that it survives the ocikit process. runc's
// operations beyond runtime.md work on the container's cgroup: Pause and
// Resume (the freezer; status "paused"), Pids and Ps, Stats and Events
// (statistics, OOM notifications) and Update (resources merged into the
// saved ones).
//
// One container costs one re-exec of ocikit's binary: the container init.
// New namespaces come from clone(2) flags; namespaces given by path (and
// time namespaces) are joined or unshared by the C constructor of package
// nsenter before the Go runtime starts. On a cgroup v2 host the init is
// born in its cgroup (CLONE_INTO_CGROUP); elsewhere it is moved there
// before it reads its configuration. The init receives its configuration over an inherited pipe,
// reports progress and errors over a SOCK_SEQPACKET socket (one line per
// error, naming the failing step), and waits for `start` in accept(2) on a
// socket in the container's state directory: nothing polls. `start`
// learns that the program runs when the connection closes on execve(2).
//
// A configuration without a mount namespace inherits the runtime's
// (config-linux.md "Namespaces"), as runc: the init mounts under the root
// filesystem in the host's mount table, leaves the host's propagation
// alone and chroots instead of pivot_root; the state records it, and
// delete (or a failed create) unmounts every mount the container left
// under its root filesystem.
//
// Every operation on a container holds an flock(2) on its state directory;
// state.json is replaced atomically. The binary is executed from a
// detached read-only bind mount of itself (open_tree(2), mount_setattr(2);
// attached nowhere, gone with its last user, so nothing is left under the
// root) or, without the privilege to mount, from the binary itself when
// the (rootless) caller cannot write it, else from a sealed memfd copy, so
// that a container can never write to it through /proc/<pid>/exe
// (CVE-2019-5736); the init is non-dumpable until execve(2).
//
// Exec (`ocikit exec`) re-executes the same protected binary: nsenter
// joins every namespace of the container's init (by descriptors opened
// and checked by the runtime, user namespace first) and forks into its pid
// namespace; the runtime moves the process into the container's cgroup
// (or clones it there on cgroup v2); the process takes the init's root
// (/proc/<pid>/root, right also for a --no-pivot container) and the
// container's process attributes, then executes the program.
//
// The parent does what the init cannot or should not: it compiles the
// seccomp profile (cached under <root>/.seccomp-cache; the init only
// loads the program, after its rlimits, so a low RLIMIT_AS cannot starve
// libseccomp), writes the id maps of a new user namespace (itself, or
// without root through newuidmap and newgidmap within the ranges of
// /etc/subuid and /etc/subgid, checked before anything is created) and
// opens idmapped mounts in its own user namespace. With
// WithRootless (--rootless, auto for a non-root caller) a cgroup that
// cannot be created is tolerated, as runc does.
package runtime
