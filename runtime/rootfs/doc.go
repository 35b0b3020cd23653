// Package rootfs sets up a container's root filesystem from inside the
// container's init process, which is already in its new mount namespace
// (and possibly a new user namespace): the bind of root.path onto itself,
// the spec's mounts in order, the default and configured devices, the /dev
// symbolic links, pivot_root (or MS_MOVE + chroot), rootfsPropagation,
// maskedPaths, readonlyPaths and the read-only root.
//
// Prepare does everything before pivot_root and leaves the working
// directory at the root filesystem; Finish, called by the same process
// after the createContainer hooks, pivots there and finishes.
// OpenMountSource is for the runtime's own process: on the init's request
// it opens the bind sources and makes the idmapped mounts a container in a
// user namespace cannot reach or make itself, one at a time, in order.
// ProcessCgroups tells what a cgroup mount binds for a process.
// MountOptions lists the option strings understood, for `features`.
//
// It promises that no path taken from the container's filesystem can
// redirect a mount outside the root filesystem: every destination is
// resolved inside the root (openat2 RESOLVE_IN_ROOT, or pathrs-lite's
// emulation) into an O_PATH handle, checked to be inside the root, and the
// mount is made through that handle (/proc/self/fd/N or move_mount), never
// through a path that could be swapped for a symbolic link between the
// check and the mount. Nothing propagates back to the host: the tree is
// made rslave (or rprivate) before anything is mounted.
//
// Errors are one line naming the mount and the problem
// ("mount proc on /proc: operation not permitted"); the *os.PathError of the
// failing system call is kept in the chain (errors.As, errors.Is(err,
// unix.EPERM)).
package rootfs
