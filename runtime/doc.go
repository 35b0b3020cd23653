// Package runtime runs containers as runtime-spec v1.3.0 describes them
// (runtime.md "Lifecycle"): create, start, state, kill, delete and a
// foreground run, with the state of every container kept in a directory
// under the runtime's root so that it survives the ocikit process.
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
// Every operation on a container holds an flock(2) on its state directory;
// state.json is replaced atomically. The binary is executed from a
// read-only bind mount under the root so that a container can never write
// to it through /proc/<pid>/exe (CVE-2019-5736); the init is non-dumpable
// until execve(2).
package runtime
