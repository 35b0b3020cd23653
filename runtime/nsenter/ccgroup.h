/* ccgroup.h: the container's cgroup (filesystem driver, cgroup v1 and
 * hybrid hosts) without the Go runtime: package cgroups' New, Apply(-1),
 * Set, Enter, Destroy and State in C for the configurations it fully
 * handles. See ccgroup.c. */

#ifndef OCIKIT_CCGROUP_H
#define OCIKIT_CCGROUP_H

#include <stddef.h>
#include <sys/types.h>
#include <jansson.h>

/* The most directories a container's cgroup has: one per subsystem of
 * the library's list (fs.subsystems) and the hybrid cgroup2 one. */
#define OCIKIT_CG_MAX 16

struct ocikit_cgroup;

/* ocikit_cgroup_plan computes the cgroup of config (a parsed config.json)
 * for container id as cgroups.New does, creating nothing: 0 with *out set
 * (free it with ocikit_cgroup_free), 1 when this code does not do all of it
 * exactly as Go would (the caller hands the whole create to Go, which also
 * reports every error of the configuration), -1 with msg on an internal
 * failure (out of memory, /proc unreadable). */
int ocikit_cgroup_plan(json_t *config, const char *id, struct ocikit_cgroup **out, char *msg, size_t msglen);

/* ocikit_cgroup_create is Apply(-1) and, when linux.resources is set,
 * Set(linux.resources): the directories, cpuset.cpus and cpuset.mems
 * copied from the parent as the library does, the limits and the device
 * rules in Go's order. On failure it removes the cgroup (Destroy, as the
 * Go create's abort does) and returns -1 with Go's message ("cgroup:
 * ..."). */
int ocikit_cgroup_create(struct ocikit_cgroup *cg, char *msg, size_t msglen);

/* ocikit_cgroup_enter is Enter(pid): pid written to cgroup.procs of every
 * directory, in sorted order. -1 with Go's message on failure. */
int ocikit_cgroup_enter(struct ocikit_cgroup *cg, pid_t pid, char *msg, size_t msglen);

/* ocikit_cgroup_remove is Destroy: every directory removed (with its
 * sub-cgroups), best effort. */
void ocikit_cgroup_remove(struct ocikit_cgroup *cg);

/* ocikit_cgroup_paths sets *keys and *dirs to the controller names ("" for
 * the hybrid cgroup2 directory, "name=systemd" for the named hierarchy) and
 * their directories, as Manager.Paths() has them; it returns their number.
 * The arrays live as long as cg. */
int ocikit_cgroup_paths(struct ocikit_cgroup *cg, const char *const **keys, const char *const **dirs);

/* ocikit_cgroup_record returns the "cgroup" member of state.json (Go's
 * cgroups.State: id, cgroupsPath, paths, resources without the values that
 * mean "unset") as compact JSON, or NULL when out of memory. The caller
 * frees it. */
char *ocikit_cgroup_record(struct ocikit_cgroup *cg);

void ocikit_cgroup_free(struct ocikit_cgroup *cg);

#endif
