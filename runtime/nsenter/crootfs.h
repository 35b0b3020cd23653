/* crootfs.h: the container's root filesystem prepared in C (crootfs.c),
 * for a create that never starts Go. */
#ifndef OCIKIT_CROOTFS_H
#define OCIKIT_CROOTFS_H

#include <stddef.h>
#include <jansson.h>

/* A plan: what ocikit_rootfs_plan read of a config, all of it copied. */
struct ocikit_rootfs;

/* ocikit_rootfs_plan reads config (the parsed config.json) and bundle (an
 * absolute path). 0 and a plan in *out when every part of root, mounts,
 * maskedPaths, readonlyPaths, linux.devices and linux.rootfsPropagation is
 * one crootfs.c does as package runtime/rootfs does; 1 when something is
 * not (the caller hands the whole create to Go; *out is NULL); -1 with msg
 * on a config of the wrong shape. No side effects. */
int ocikit_rootfs_plan(json_t *config, const char *bundle, struct ocikit_rootfs **out, char *msg, size_t msglen);

void ocikit_rootfs_free(struct ocikit_rootfs *p);

/* ocikit_rootfs_prepare is rootfs.Prepare, from a single-threaded process
 * in the container's mount namespace (unshare CLONE_FS and setns done),
 * root in the initial user namespace. cgkeys/cgdirs are the container's
 * cgroup directories (cgroups.Manager Paths: "cpu", "memory",
 * "name=systemd", ... and "" for the unified hierarchy; ncg of them);
 * cgroupns says the container has a cgroup namespace (joined already);
 * procfs is the init's procfs context (fsopen "proc"), or -1. procfs stays
 * the caller's to close. It leaves the working directory at the root
 * filesystem. -1 with msg ("prepare rootfs: ...") on failure. */
int ocikit_rootfs_prepare(struct ocikit_rootfs *p, const char *const *cgkeys, const char *const *cgdirs, int ncg,
			  int cgroupns, int procfs, char *msg, size_t msglen);

/* ocikit_rootfs_bind_console is rootfs.BindConsole, between prepare and
 * finish (the working directory is the root filesystem): the pty slave
 * (an fd of the container's devpts, the caller's) bound on /dev/console.
 * -1 with msg as BindConsole's error ("console: ..."), which Go's
 * rootThread wraps once more with step("console"). */
int ocikit_rootfs_bind_console(int slave, char *msg, size_t msglen);

/* ocikit_rootfs_finish is rootfs.Finish: pivot_root (or, with nopivot,
 * MS_MOVE and chroot), rootfsPropagation, a read-only /dev, maskedPaths,
 * readonlyPaths, a read-only root. -1 with msg ("finish rootfs: ...") on
 * failure. */
/* ocikit_rootfs_cgroup_wait has prepare call wait(arg) once, right
 * before the first cgroup mount, whose directories must exist by then:
 * the caller creates the cgroup meanwhile (on cgroup v1 its directories
 * may wait for an RCU grace period). wait returns -1 when the cgroup
 * could not be created; prepare then fails. */
void ocikit_rootfs_cgroup_wait(struct ocikit_rootfs *p, int (*wait)(void *arg), void *arg);

int ocikit_rootfs_finish(struct ocikit_rootfs *p, int nopivot, char *msg, size_t msglen);

#endif
