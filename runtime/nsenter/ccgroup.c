//go:build linux && cgo

/* ccgroup.c: the container's cgroup for `ocikit create` without the Go
 * runtime, on cgroup v1 and hybrid hosts with the filesystem driver.
 *
 * It is package cgroups (cgroups/manager_linux.go) over the fs manager of
 * github.com/opencontainers/cgroups for the configurations it does
 * exactly as they do: New (the directory of every mounted subsystem, from
 * linux.cgroupsPath or DefaultPath), Apply(-1) (the directories, with the
 * cpuset ones given cpus and mems), Set (memory, cpu, cpuset, pids and
 * blkio weight in the library's order, then the device rules as
 * setDevicesV1 writes them), Enter, Destroy and State. Anything else (a
 * setting it does not implement, a value Go refuses, an unusual mount
 * table, a pure cgroup v2 host) makes ocikit_cgroup_plan return 1 before
 * anything is touched, and Go does the whole create and reports what it
 * reports. The files are written with open and write, one write per
 * value as the library's WriteFile does; what the library reads (cpuset's
 * parent values, the memory limit before a swap limit, cpu.shares after
 * writing it) is read here too, since its decisions depend on it. */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <linux/magic.h>

#include "ccgroup.h"
#include "fastint.h"

#define CGROOT "/sys/fs/cgroup"
#define HYBRID CGROOT "/unified"
#define CPUSET_MAX 16384

/* The library's subsystems in its order (fs.subsystems): Apply and Set
 * visit them so. The last, the cgroup2 directory, exists on hybrid hosts
 * only. */
enum { SS_CPUSET, SS_DEVICES, SS_MEMORY, SS_CPU, SS_CPUACCT, SS_PIDS, SS_BLKIO, SS_NSUB = 16 };
static const char *const subsystems[] = {
	"cpuset",     "devices", "memory", "cpu",	   "cpuacct", "pids", "blkio", "hugetlb", "net_cls",
	"net_prio",   "perf_event", "freezer", "rdma", "name=systemd", "misc", "",
};
/* The named ones, whose Apply ignores errors (NameGroup with Join). */
#define SS_NAMED(i) ((i) >= 13)

struct devrule {
	char type; /* a, b or c */
	int allow;
	long long major, minor; /* -1: * */
	char access[4];
};

struct ocikit_cgroup {
	char *id, *cgpath;	  /* cgroupsPath as recorded */
	int n;			  /* directories */
	int sub[OCIKIT_CG_MAX];	  /* their subsystem */
	const char *keys[OCIKIT_CG_MAX];
	char *dirs[OCIKIT_CG_MAX];
	size_t mnt[OCIKIT_CG_MAX]; /* length of the mount point prefix of dirs[i] */
	int set;		  /* linux.resources is set: Set runs */
	json_t *res;		  /* the recorded resources (withoutUnset), or NULL */
	struct devrule *rules;
	size_t nrules;
	/* memory (0: unset, as the library's Resources) */
	long long mem, memres, memswap;
	int oomoff, swappiness; /* swappiness -1: unset */
	/* cpu */
	unsigned long long shares, period;
	long long quota;
	char *cpus, *mems; /* "" when unset */
	/* pids */
	int haspids;
	long long pids;
	/* blkio */
	unsigned weight;
};

static const char *controllerpath(struct ocikit_cgroup *cg, int sub)
{
	int i;

	for (i = 0; i < cg->n; i++)
		if (cg->sub[i] == sub)
			return cg->dirs[i];
	return NULL;
}

/* --- reading the configuration ---------------------------------------- */

/* integer reads an integer member within lo..hi: 1 set, 0 absent, -1 not
 * what Go's decoder takes. */
static int integer(json_t *o, const char *k, long long lo, long long hi, long long *out)
{
	json_t *v = fx_member(o, k);

	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return -1;
	*out = json_integer_value(v);
	return 1;
}

/* emptylist reports whether member k is missing, null or an empty array
 * (Go's nil or empty slice, which this code can ignore). */
static int emptylist(json_t *o, const char *k)
{
	json_t *v = fx_member(o, k);
	return !v || (json_is_array(v) && json_array_size(v) == 0);
}

static int emptymap(json_t *o, const char *k)
{
	json_t *v = fx_member(o, k);
	return !v || (json_is_object(v) && json_object_size(v) == 0);
}

/* setint records integer v under k when set. */
static int setint(json_t *o, const char *k, int set, long long v)
{
	return !set || json_object_set_new(o, k, json_integer(v)) == 0;
}

/* devices reads linux.resources.devices as deviceRules does and appends
 * the default rules: 1 when Go refuses an entry. */
static int devices(struct ocikit_cgroup *cg, json_t *list, json_t *rec)
{
	static const char *const names[] = {"allow", "type", "major", "minor", "access", NULL};
	static const struct devrule defaults[] = {
		{'c', 1, -1, -1, "m"},	 {'b', 1, -1, -1, "m"},	  {'c', 1, 1, 3, "rwm"},  {'c', 1, 1, 5, "rwm"},
		{'c', 1, 1, 7, "rwm"},	 {'c', 1, 1, 8, "rwm"},	  {'c', 1, 1, 9, "rwm"},  {'c', 1, 5, 0, "rwm"},
		{'c', 1, 5, 2, "rwm"},	 {'c', 1, 10, 200, "rwm"}, {'c', 1, 136, -1, "rwm"},
	};
	static const char *const perms[] = {"r", "w", "m", "rw", "rm", "wm", "rwm", NULL};
	size_t i, n = list ? json_array_size(list) : 0, nd = sizeof(defaults) / sizeof(defaults[0]);
	const char *type, *access, *const *p;
	json_t *d, *a, *r;
	int hmaj, hmin;

	if (list && !json_is_array(list))
		return 1;
	if (!(cg->rules = calloc(n + nd, sizeof(*cg->rules))))
		return -1;
	for (i = 0; i < n; i++) {
		struct devrule *dr = &cg->rules[i];
		d = json_array_get(list, i);
		if (!json_is_object(d) || !fx_known(d, names))
			return 1;
		a = fx_member(d, "allow");
		if (a && !json_is_boolean(a))
			return 1;
		dr->allow = a && json_is_true(a);
		if (fx_str(d, "type", &type) < 0 || fx_str(d, "access", &access) < 0)
			return 1;
		if (!strcmp(type, "") || !strcmp(type, "a"))
			dr->type = 'a';
		else if (!strcmp(type, "c") || !strcmp(type, "u"))
			dr->type = 'c';
		else if (!strcmp(type, "b"))
			dr->type = 'b';
		else
			return 1;
		dr->major = dr->minor = -1;
		if ((hmaj = integer(d, "major", LLONG_MIN, LLONG_MAX, &dr->major)) < 0 ||
		    (hmin = integer(d, "minor", LLONG_MIN, LLONG_MAX, &dr->minor)) < 0)
			return 1;
		/* No access is all of rwm; otherwise Permissions.IsValid: the
		 * letters in the order r, w, m, each once. */
		if (!*access)
			strcpy(dr->access, "rwm");
		else {
			for (p = perms; *p && strcmp(*p, access); p++)
				;
			if (!*p)
				return 1;
			strcpy(dr->access, access);
		}
		/* The recorded entry: LinuxDeviceCgroup as Go marshals it. */
		if (!(r = json_object()) || json_array_append_new(rec, r) ||
		    json_object_set_new(r, "allow", json_boolean(dr->allow)) ||
		    (*type && json_object_set_new(r, "type", json_string(type))) || !setint(r, "major", hmaj, dr->major) ||
		    !setint(r, "minor", hmin, dr->minor) || (*access && json_object_set_new(r, "access", json_string(access))))
			return -1;
	}
	memcpy(cg->rules + n, defaults, sizeof(defaults));
	cg->nrules = n + nd;
	return 0;
}

/* resources reads linux.resources into cg and builds the recorded copy
 * (withoutUnset: the zero values Docker writes for "unset" dropped), in
 * the field order of specs.LinuxResources: 0, 1 unsupported, -1. */
static int resources(struct ocikit_cgroup *cg, json_t *r)
{
	static const char *const top[] = {"devices", "memory",	 "cpu",	 "pids", "blockIO", "hugepageLimits",
					  "network", "rdma",	 "unified", NULL};
	static const char *const memn[] = {"limit",	 "reservation",	     "swap",	     "kernel", "kernelTCP",
					   "swappiness", "disableOOMKiller", "useHierarchy", "checkBeforeUpdate", NULL};
	static const char *const cpun[] = {"shares",	      "quota", "burst", "period", "realtimeRuntime",
					   "realtimePeriod", "cpus",  "mems",  "idle",	 NULL};
	static const char *const pidn[] = {"limit", NULL};
	static const char *const blkn[] = {"weight",
					   "leafWeight",
					   "weightDevice",
					   "throttleReadBpsDevice",
					   "throttleWriteBpsDevice",
					   "throttleReadIOPSDevice",
					   "throttleWriteIOPSDevice",
					   NULL};
	static const char *const netn[] = {"classID", "priorities", NULL};
	json_t *rec, *o, *v, *sub;
	const char *t, *t2;
	long long x;
	int h, rc;

	if (!json_is_object(r) || !fx_known(r, top))
		return 1;
	if (!emptylist(r, "hugepageLimits") || !emptymap(r, "rdma") || !emptymap(r, "unified"))
		return 1;
	if (!(cg->res = rec = json_object()))
		return -1;
	cg->swappiness = -1;

	if ((o = fx_member(r, "devices")) && (!json_is_array(o) || json_array_size(o))) {
		if (!(sub = json_array()) || json_object_set_new(rec, "devices", sub))
			return -1;
	} else
		sub = NULL;
	if ((rc = devices(cg, sub ? o : NULL, sub)))
		return rc;

	if ((o = fx_member(r, "memory"))) {
		if (!json_is_object(o) || !fx_known(o, memn) || !(sub = json_object()) ||
		    json_object_set_new(rec, "memory", sub))
			return json_is_object(o) && fx_known(o, memn) ? -1 : 1;
		/* limit, reservation, swap: 0 is unset. */
		if ((h = integer(o, "limit", LLONG_MIN, LLONG_MAX, &cg->mem)) < 0 ||
		    !setint(sub, "limit", h && cg->mem, cg->mem))
			return h < 0 ? 1 : -1;
		if ((h = integer(o, "reservation", LLONG_MIN, LLONG_MAX, &cg->memres)) < 0 ||
		    !setint(sub, "reservation", h && cg->memres, cg->memres))
			return h < 0 ? 1 : -1;
		if ((h = integer(o, "swap", LLONG_MIN, LLONG_MAX, &cg->memswap)) < 0 ||
		    !setint(sub, "swap", h && cg->memswap, cg->memswap))
			return h < 0 ? 1 : -1;
		/* kernel (a warning in Go) and kernelTCP only as unset. */
		x = 0;
		if (integer(o, "kernel", LLONG_MIN, LLONG_MAX, &x) < 0 || x)
			return 1;
		if (integer(o, "kernelTCP", LLONG_MIN, LLONG_MAX, &x) < 0 || x)
			return 1;
		if ((h = integer(o, "swappiness", 0, LLONG_MAX, &x)) < 0 || (h && x > 100))
			return 1;
		if (h) {
			cg->swappiness = (int)x;
			if (!setint(sub, "swappiness", 1, x))
				return -1;
		}
		/* disableOOMKiller and checkBeforeUpdate: false is unset; the
		 * latter does nothing on cgroup v1. useHierarchy: not here. */
		if ((v = fx_member(o, "disableOOMKiller"))) {
			if (!json_is_boolean(v))
				return 1;
			cg->oomoff = json_is_true(v);
			if (cg->oomoff && json_object_set_new(sub, "disableOOMKiller", json_true()))
				return -1;
		}
		if (fx_member(o, "useHierarchy"))
			return 1;
		if ((v = fx_member(o, "checkBeforeUpdate"))) {
			if (!json_is_boolean(v))
				return 1;
			if (json_is_true(v) && json_object_set_new(sub, "checkBeforeUpdate", json_true()))
				return -1;
		}
	}

	if ((o = fx_member(r, "cpu"))) {
		if (!json_is_object(o) || !fx_known(o, cpun))
			return 1;
		if (!(sub = json_object()) || json_object_set_new(rec, "cpu", sub))
			return -1;
		/* shares, quota, period, realtime*: 0 is unset; burst and idle
		 * are not done here. */
		x = 0;
		if ((h = integer(o, "shares", 0, LLONG_MAX, &x)) < 0)
			return 1;
		cg->shares = (unsigned long long)x;
		if (!setint(sub, "shares", h && x, x))
			return -1;
		if ((h = integer(o, "quota", LLONG_MIN, LLONG_MAX, &cg->quota)) < 0)
			return 1;
		if (!setint(sub, "quota", h && cg->quota, cg->quota))
			return -1;
		if (fx_member(o, "burst"))
			return 1;
		x = 0;
		if ((h = integer(o, "period", 0, LLONG_MAX, &x)) < 0)
			return 1;
		cg->period = (unsigned long long)x;
		if (!setint(sub, "period", h && x, x))
			return -1;
		x = 0;
		if (integer(o, "realtimeRuntime", LLONG_MIN, LLONG_MAX, &x) < 0 || x)
			return 1;
		if (integer(o, "realtimePeriod", 0, LLONG_MAX, &x) < 0 || x)
			return 1;
		if (fx_member(o, "idle"))
			return 1;
		if (fx_str(o, "cpus", &t) < 0 || fx_str(o, "mems", &t2) < 0)
			return 1;
		if (!(cg->cpus = strdup(t)) || !(cg->mems = strdup(t2)))
			return -1;
		if ((*cg->cpus && json_object_set_new(sub, "cpus", json_string(cg->cpus))) ||
		    (*cg->mems && json_object_set_new(sub, "mems", json_string(cg->mems))))
			return -1;
	}

	if ((o = fx_member(r, "pids"))) {
		if (!json_is_object(o) || !fx_known(o, pidn))
			return 1;
		if (!(sub = json_object()) || json_object_set_new(rec, "pids", sub))
			return -1;
		/* pids.limit 0 is a limit (unset.go). */
		if ((cg->haspids = integer(o, "limit", LLONG_MIN, LLONG_MAX, &cg->pids)) < 0)
			return 1;
		if (!setint(sub, "limit", cg->haspids, cg->pids))
			return -1;
	}

	if ((o = fx_member(r, "blockIO"))) {
		if (!json_is_object(o) || !fx_known(o, blkn))
			return 1;
		if (!(sub = json_object()) || json_object_set_new(rec, "blockIO", sub))
			return -1;
		x = 0;
		if (integer(o, "weight", 0, 65535, &x) < 0)
			return 1;
		cg->weight = (unsigned)x;
		if (!setint(sub, "weight", x != 0, x))
			return -1;
		x = 0;
		if (integer(o, "leafWeight", 0, 65535, &x) < 0 || x)
			return 1;
		if (!emptylist(o, "weightDevice") || !emptylist(o, "throttleReadBpsDevice") ||
		    !emptylist(o, "throttleWriteBpsDevice") || !emptylist(o, "throttleReadIOPSDevice") ||
		    !emptylist(o, "throttleWriteIOPSDevice"))
			return 1;
	}

	if ((o = fx_member(r, "network"))) {
		if (!json_is_object(o) || !fx_known(o, netn))
			return 1;
		x = 0;
		if (integer(o, "classID", 0, UINT32_MAX, &x) < 0 || x || !emptylist(o, "priorities"))
			return 1;
		if (json_object_set_new(rec, "network", json_object()))
			return -1;
	}
	return 0;
}

/* --- the paths (cgroups.New, fs.initPaths) ------------------------------ */

struct mount {
	char *point, *root, *opts; /* opts: the super options */
	int v1;			   /* fstype "cgroup" */
};

/* readall reads a /proc file whole, NUL-terminated. */
static char *readall(const char *path)
{
	size_t len = 0, cap = 16384;
	char *buf = malloc(cap), *nb;
	ssize_t n;
	int fd;

	if (!buf)
		return NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		free(buf);
		return NULL;
	}
	for (;;) {
		if (cap - len < 4096) {
			if (!(nb = realloc(buf, cap *= 2)))
				break;
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			if (n < 0)
				break;
			buf[len] = 0;
			return buf;
		}
		len += n;
	}
	close(fd);
	free(buf);
	return NULL;
}

/* mounts parses the cgroup and cgroup2 mounts of mountinfo (the buffer is
 * cut in place): their number, -1 when a field is escaped (a name with a
 * space or a backslash, which moby/sys/mountinfo unescapes) or there are
 * too many. */
static int mounts(char *buf, struct mount *m, int max)
{
	char *line, *save, *tok[64], *s;
	int n = 0, nt, sep;

	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* id parent maj:min root point options [optional...] - type source super */
		for (nt = 0, s = line; s && nt < 64;)
			tok[nt++] = strsep(&s, " ");
		if (s)
			return -1; /* more fields than a mount has */
		for (sep = 6; sep < nt && strcmp(tok[sep], "-"); sep++)
			;
		if (sep + 3 >= nt || (strcmp(tok[sep + 1], "cgroup") && strcmp(tok[sep + 1], "cgroup2")))
			continue;
		if (strchr(tok[3], '\\') || strchr(tok[4], '\\') || n == max)
			return -1;
		m[n].root = tok[3];
		m[n].point = tok[4];
		m[n].opts = tok[sep + 3];
		m[n].v1 = !strcmp(tok[sep + 1], "cgroup");
		n++;
	}
	return n;
}

/* hasopt reports whether the comma-separated list opts has o. */
static int hasopt(const char *opts, const char *o)
{
	size_t n = strlen(o);
	const char *p = opts;

	for (;;) {
		if (!strncmp(p, o, n) && (p[n] == ',' || p[n] == 0))
			return 1;
		if (!(p = strchr(p, ',')))
			return 0;
		p++;
	}
}

/* childofroot reports whether point is CGROOT/NAME with one component. */
static int childofroot(const char *point)
{
	const char *b = point + sizeof(CGROOT);

	return !strncmp(point, CGROOT "/", sizeof(CGROOT)) && *b && !strchr(b, '/');
}

/* findmount is FindCgroupMountpointAndRoot: the first v1 mount whose
 * point starts with prefix and whose super options list name. */
static struct mount *findmount(struct mount *m, int n, const char *prefix, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (m[i].v1 && !strncmp(m[i].point, prefix, strlen(prefix)) && hasopt(m[i].opts, name))
			return &m[i];
	return NULL;
}

/* cleanpath is filepath.Clean for a path without ".." components (New
 * refuses those): no empty or "." components, no trailing slash. */
static void cleanpath(char *p)
{
	char *r = p, *w = p;
	int abs = *p == '/';

	if (abs)
		*w++ = *r++;
	while (*r) {
		char *e = strchrnul(r, '/');
		size_t len = e - r;
		if (len && !(len == 1 && *r == '.')) {
			if (w > p + abs)
				*w++ = '/';
			memmove(w, r, len);
			w += len;
		}
		r = *e ? e + 1 : e;
	}
	if (w == p)
		*w++ = '.';
	*w = 0;
}

static int add(struct ocikit_cgroup *cg, int sub, const char *a, const char *b, const char *c)
{
	size_t la = strlen(a);
	char *d;

	if (asprintf(&d, "%s%s%s%s%s", a, *b ? "/" : "", b, *c ? "/" : "", c) < 0)
		return -1;
	cg->sub[cg->n] = sub;
	cg->keys[cg->n] = subsystems[sub];
	cg->dirs[cg->n] = d;
	cg->mnt[cg->n] = la;
	cg->n++;
	return 0;
}

/* paths computes the directory of every subsystem as initPaths and
 * subsysPath do, for the inner path (absolute or relative): 0, 1 (a case
 * left to Go), -1. */
static int paths(struct ocikit_cgroup *cg, const char *inner, int hybrid)
{
	struct mount m[64], *mt;
	char *info = readall("/proc/self/mountinfo"), *own = NULL, *line, *save, *map[SS_NSUB], *p, *rel;
	int n, i, j, rc = 1, nsub = hybrid ? SS_NSUB : SS_NSUB - 1;

	if (!info)
		return -1;
	memset(map, 0, sizeof(map));
	if ((n = mounts(info, m, 64)) < 0)
		goto out;
	/* rootPath: /sys/fs/cgroup, whether it is found as the tmpfs mount
	 * holding the hierarchies or as the parent of the first one. */
	for (i = 0; i < n && !m[i].v1; i++)
		;
	if (i == n || !childofroot(m[i].point))
		goto out;
	if (*inner != '/') {
		/* The caller's own cgroups (ParseCgroupFile, GetOwnCgroup):
		 * "ID:CONTROLLERS:PATH" lines, v2's with the controller "",
		 * the last line of a controller winning; a subsystem is found
		 * by its name or, without it, as "name=" and its name. */
		char *keys[64], *vals[64];
		int nk = 0;
		if (!(own = readall("/proc/self/cgroup"))) {
			rc = -1;
			goto out;
		}
		for (line = strtok_r(own, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char *ctl = strchr(line, ':'), *path, *c;
			if (!ctl || !(path = strchr(++ctl, ':')))
				goto out;
			*path++ = 0;
			do {
				c = strsep(&ctl, ",");
				if (nk == 64)
					goto out;
				keys[nk] = c;
				vals[nk++] = path;
			} while (ctl);
		}
		for (j = 0; j < nsub; j++) {
			int k, pass;
			for (pass = 0; pass < 2 && !map[j]; pass++)
				for (k = nk - 1; k >= 0 && !map[j]; k--)
					if (pass == 0 ? !strcmp(keys[k], subsystems[j])
						      : !strncmp(keys[k], "name=", 5) && !strcmp(keys[k] + 5, subsystems[j]))
						map[j] = vals[k];
		}
	}
	for (i = 0; i < nsub; i++) {
		const char *name = subsystems[i], *base;
		if (!*name) {
			/* The hybrid cgroup2 directory: always below its mount. */
			if (*inner != '/' && !map[i])
				continue;
			if (add(cg, i, HYBRID, "", inner + (*inner == '/')) < 0) {
				rc = -1;
				goto out;
			}
			continue;
		}
		if (*inner == '/') {
			/* tryDefaultPath: the mount at /sys/fs/cgroup/NAME (the last,
			 * visible one) if it is cgroup v1, else the first v1 mount
			 * below /sys/fs/cgroup listing the subsystem. */
			base = strncmp(name, "name=", 5) ? name : name + 5;
			mt = NULL;
			for (j = n - 1; j >= 0; j--) {
				if (!strncmp(m[j].point, CGROOT "/", sizeof(CGROOT)) &&
				    !strcmp(m[j].point + sizeof(CGROOT), base)) {
					mt = m[j].v1 ? &m[j] : NULL;
					break;
				}
			}
			if (!mt && (mt = findmount(m, n, CGROOT, name)) && !childofroot(mt->point))
				goto out;
			if (!mt) {
				if (i == SS_DEVICES)
					goto out; /* fatal in Go */
				continue;
			}
			if (add(cg, i, mt->point, "", inner + 1) < 0) {
				rc = -1;
				goto out;
			}
			continue;
		}
		/* Relative: below the caller's cgroup (getCgroupPathHelper). */
		if (!map[i] || !(mt = findmount(m, n, "", name))) {
			if (i == SS_DEVICES)
				goto out;
			continue;
		}
		if (!childofroot(mt->point) || *map[i] != '/')
			goto out;
		/* filepath.Rel(root, cgroup), for a cgroup below the root. */
		p = map[i];
		if (!strcmp(mt->root, "/"))
			rel = p + 1;
		else if (!strncmp(p, mt->root, strlen(mt->root)) && (p[strlen(mt->root)] == '/' || !p[strlen(mt->root)]))
			rel = p + strlen(mt->root) + (p[strlen(mt->root)] == '/');
		else
			goto out;
		if (strstr(rel, "/..") || !strncmp(rel, "..", 2) || strstr(rel, "//") || strstr(rel, "/./") ||
		    (*rel && rel[strlen(rel) - 1] == '/'))
			goto out;
		if (add(cg, i, mt->point, rel, inner) < 0) {
			rc = -1;
			goto out;
		}
	}
	rc = 0;
out:
	free(info);
	free(own);
	return rc;
}

int ocikit_cgroup_plan(json_t *config, const char *id, struct ocikit_cgroup **out, char *msg, size_t msglen)
{
	static const char *const rootn[] = {"linux", NULL};
	static const char *const linn[] = {"cgroupsPath", "resources", NULL};
	struct ocikit_cgroup *cg;
	struct statfs sfs;
	struct stat st;
	json_t *lin, *res;
	const char *cgpath, *p;
	char *inner = NULL;
	int rc = 1, hybrid, colons, i;

	*out = NULL;
	if (!json_is_object(config) || !fx_known(config, rootn) || !id || !*id || strchr(id, '/') || !strcmp(id, ".") ||
	    !strcmp(id, ".."))
		return 1;
	if ((lin = fx_member(config, "linux")) && (!json_is_object(lin) || !fx_known(lin, linn)))
		return 1;
	if (fx_str(lin, "cgroupsPath", &cgpath) < 0)
		return 1;
	/* Pure cgroup v2 (the unified hierarchy needs eBPF device rules) is
	 * Go's; /sys/fs/cgroup must be the tmpfs of the v1 hierarchies. */
	if (statfs(CGROOT, &sfs) < 0 || sfs.f_type != TMPFS_MAGIC)
		return 1;
	hybrid = statfs(HYBRID, &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC;

	if (!(cg = calloc(1, sizeof(*cg)))) {
		snprintf(msg, msglen, "cgroup: out of memory");
		return -1;
	}
	cg->swappiness = -1;
	if (*cgpath) {
		/* cgroupConfig: no ".." component; a systemd-like
		 * "slice:prefix:name" is a warning in Go. */
		for (p = cgpath; *p;) {
			const char *e = strchrnul(p, '/');
			if (e - p == 2 && !strncmp(p, "..", 2))
				goto out;
			p = *e ? e + 1 : e;
		}
		for (colons = 0, p = cgpath; *p; p++)
			colons += *p == ':';
		if (colons == 2 && *cgpath != '/')
			goto out;
		if (!(cg->cgpath = strdup(cgpath)) || !(inner = strdup(cgpath)))
			goto oom;
		cleanpath(inner);
		/* A cgroup at a hierarchy's root or the caller's own: Go's. */
		if (!strcmp(inner, "/") || !strcmp(inner, "."))
			goto out;
	} else if (asprintf(&cg->cgpath, "/ocikit/%s", id) < 0 || !(inner = strdup(cg->cgpath))) {
		cg->cgpath = NULL;
		goto oom;
	}
	if (!(cg->id = strdup(id)))
		goto oom;

	if ((res = fx_member(lin, "resources"))) {
		cg->set = 1;
		if ((rc = resources(cg, res)))
			goto fail;
	} else if ((rc = devices(cg, NULL, NULL)))
		goto fail;
	if ((!cg->cpus && !(cg->cpus = strdup(""))) || (!cg->mems && !(cg->mems = strdup(""))))
		goto oom;
	if ((rc = paths(cg, inner, hybrid)))
		goto fail;

	/* checkControllers: a limit whose controller is not mounted is Go's
	 * error (so is blkio weight without a proportional scheduler, which
	 * create checks in the new directory as Set does). */
	if (cg->set && ((!controllerpath(cg, SS_MEMORY) && (cg->mem || cg->memres || cg->memswap || cg->swappiness >= 0 ||
							    cg->oomoff)) ||
			(!controllerpath(cg, SS_CPU) && (cg->shares || cg->quota || cg->period)) ||
			(!controllerpath(cg, SS_CPUSET) && (*cg->cpus || *cg->mems)) ||
			(!controllerpath(cg, SS_PIDS) && cg->haspids) || (!controllerpath(cg, SS_BLKIO) && cg->weight)))
		goto out;
	/* cpuset values that read back empty would be replaced by the
	 * parent's (cpusetCopyIfNeeded): left to Go. */
	for (p = cg->cpus; *p && isspace((unsigned char)*p); p++)
		;
	if (*cg->cpus && !*p)
		goto out;
	for (p = cg->mems; *p && isspace((unsigned char)*p); p++)
		;
	if (*cg->mems && !*p)
		goto out;
	/* An existing devices cgroup may have children, which make the
	 * kernel refuse the clearing deny: setDevicesV1 then uses the
	 * library's emulator, which this code does not have. */
	for (i = 0; i < cg->n; i++)
		if (cg->sub[i] == SS_DEVICES && (stat(cg->dirs[i], &st) == 0 || errno != ENOENT))
			goto out;
	free(inner);
	*out = cg;
	return 0;
oom:
	rc = -1;
fail:
	if (rc < 0)
		snprintf(msg, msglen, "cgroup: %s", errno == ENOMEM ? "out of memory" : "cannot read /proc/self");
out:
	free(inner);
	ocikit_cgroup_free(cg);
	return rc < 0 ? -1 : 1;
}

/* --- writing ------------------------------------------------------------ */

/* errstr is Go's text of an errno: strerror without the capital. */
static const char *errstr(int e, char *buf, size_t len)
{
	snprintf(buf, len, "%s", strerror(e));
	if (*buf >= 'A' && *buf <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		*buf += 'a' - 'A';
	return buf;
}

/* quote is Go's %q for the values written (printable ASCII and \n). */
static const char *quote(const char *s, char *buf, size_t len)
{
	size_t w = 0;

	if (len < 8)
		return "";
	buf[w++] = '"';
	for (; *s && w + 4 < len; s++) {
		if (*s == '\n' || *s == '"' || *s == '\\') {
			buf[w++] = '\\';
			buf[w++] = *s == '\n' ? 'n' : *s;
		} else
			buf[w++] = *s;
	}
	buf[w++] = '"';
	buf[w] = 0;
	return buf;
}

/* writefile is cgroups.WriteFile: one open and one write of data; the
 * errno (0 on success) with err set to Go's text. */
static int writefile(const char *dir, const char *file, const char *data, char *err, size_t errlen)
{
	char path[PATH_MAX], e[128], q[256];
	ssize_t n;
	int fd, en;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0) {
		en = errno;
		snprintf(err, errlen, "openat2 %s: %s", path, errstr(en, e, sizeof(e)));
		return en;
	}
	n = write(fd, data, strlen(data));
	en = n < 0 ? errno : 0;
	close(fd);
	if (n < 0)
		snprintf(err, errlen, "failed to write %s: write %s: %s", quote(data, q, sizeof(q)), path,
			 errstr(en, e, sizeof(e)));
	return en;
}

/* readfile is cgroups.ReadFile into buf: the errno. */
static int readfile(const char *dir, const char *file, char *buf, size_t len, char *err, size_t errlen)
{
	char path[PATH_MAX], e[128];
	size_t got = 0;
	ssize_t n;
	int fd, en;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		en = errno;
		snprintf(err, errlen, "openat2 %s: %s", path, errstr(en, e, sizeof(e)));
		return en;
	}
	while (got < len - 1 && ((n = read(fd, buf + got, len - 1 - got)) > 0 || (n < 0 && errno == EINTR)))
		if (n > 0)
			got += n;
	en = n < 0 ? errno : 0;
	close(fd);
	buf[got] = 0;
	if (en)
		snprintf(err, errlen, "read %s: %s", path, errstr(en, e, sizeof(e)));
	return en;
}

/* readuint is fscommon.GetCgroupParamUint: "max" is the largest value, a
 * negative one 0. */
static int readuint(const char *dir, const char *file, unsigned long long *v, char *err, size_t errlen)
{
	char buf[64], *s, *end;
	size_t n;

	if (readfile(dir, file, buf, sizeof(buf), err, errlen))
		return -1;
	for (s = buf; isspace((unsigned char)*s); s++)
		;
	for (n = strlen(s); n && isspace((unsigned char)s[n - 1]); n--)
		s[n - 1] = 0;
	if (!strcmp(s, "max")) {
		*v = ULLONG_MAX;
		return 0;
	}
	errno = 0;
	if (*s == '-' && isdigit((unsigned char)s[1])) {
		strtoll(s, &end, 10);
		*v = 0;
	} else if (isdigit((unsigned char)*s))
		*v = strtoull(s, &end, 10);
	else
		end = s;
	if (*end || end == s || (errno && *s != '-')) {
		snprintf(err, errlen, "unable to parse %s/%s: %s", dir, file, s);
		return -1;
	}
	return 0;
}

/* mkdirall is os.MkdirAll (0755, as the library's): the errno. */
static int mkdirall(char *path, char *err, size_t errlen)
{
	struct stat st;
	char e[128], *s;
	int en;

	if (mkdir(path, 0755) == 0)
		return 0;
	en = errno;
	if (en == ENOENT && (s = strrchr(path, '/')) && s > path) {
		*s = 0;
		en = mkdirall(path, err, errlen);
		*s = '/';
		if (en)
			return en;
		if (mkdir(path, 0755) == 0)
			return 0;
		en = errno;
	}
	if (en == EEXIST) {
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
		en = ENOTDIR;
	}
	snprintf(err, errlen, "mkdir %s: %s", path, errstr(en, e, sizeof(e)));
	return en;
}

static int isemptyset(const char *s)
{
	return !*s || !strcmp(s, "\n");
}

/* cpusetcopy is cpusetCopyIfNeeded for dir, whose parent's values are
 * pcpus and pmems (read once per level: the library reads them again,
 * with the same result); dir's effective values are left in pcpus and
 * pmems for its child. */
static int cpusetcopy(const char *dir, char *pcpus, char *pmems, size_t len, char *err, size_t errlen)
{
	char cpus[CPUSET_MAX], mems[CPUSET_MAX];

	if (readfile(dir, "cpuset.cpus", cpus, sizeof(cpus), err, errlen) ||
	    readfile(dir, "cpuset.mems", mems, sizeof(mems), err, errlen))
		return -1;
	if (isemptyset(cpus)) {
		if (writefile(dir, "cpuset.cpus", pcpus, err, errlen))
			return -1;
	} else
		snprintf(pcpus, len, "%s", cpus);
	if (isemptyset(mems)) {
		if (writefile(dir, "cpuset.mems", pmems, err, errlen))
			return -1;
	} else
		snprintf(pmems, len, "%s", mems);
	return 0;
}

/* cpusetapply is CpusetGroup.ApplyDir with pid -1: every level below the
 * mount point (cpusetEnsureParent stops where statfs finds no cgroup
 * file system) made and given cpus and mems, then dir itself with the
 * configured values first. */
static int cpusetapply(struct ocikit_cgroup *cg, char *dir, size_t mnt, char *err, size_t errlen)
{
	char pcpus[CPUSET_MAX], pmems[CPUSET_MAX], e[128], *s;

	dir[mnt] = 0;
	if (readfile(dir, "cpuset.cpus", pcpus, sizeof(pcpus), err, errlen) ||
	    readfile(dir, "cpuset.mems", pmems, sizeof(pmems), err, errlen)) {
		dir[mnt] = '/';
		return -1;
	}
	dir[mnt] = '/';
	for (s = dir + mnt + 1;; s++) {
		int last;
		s = strchrnul(s, '/');
		last = !*s;
		*s = 0;
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "mkdir %s: %s", dir, errstr(errno, e, sizeof(e)));
			if (!last)
				*s = '/';
			return -1;
		}
		if (last) {
			/* ensureCpusAndMems: Set, then the copy. */
			if ((*cg->cpus && writefile(dir, "cpuset.cpus", cg->cpus, err, errlen)) ||
			    (*cg->mems && writefile(dir, "cpuset.mems", cg->mems, err, errlen)))
				return -1;
		}
		if (cpusetcopy(dir, pcpus, pmems, sizeof(pcpus), err, errlen) < 0) {
			if (!last)
				*s = '/';
			return -1;
		}
		if (last)
			break;
		*s = '/';
	}
	return 0;
}

/* setmemory is setMemory: a limit the kernel refuses as busy is reported
 * with the usage. */
static int setmemory(const char *dir, long long v, char *err, size_t errlen)
{
	unsigned long long usage, max;
	char val[32];
	int en;

	if (!v)
		return 0;
	snprintf(val, sizeof(val), "%lld", v);
	if ((en = writefile(dir, "memory.limit_in_bytes", val, err, errlen)) != EBUSY)
		return en ? -1 : 0;
	if (readuint(dir, "memory.usage_in_bytes", &usage, err, errlen) ||
	    readuint(dir, "memory.max_usage_in_bytes", &max, err, errlen))
		return -1;
	snprintf(err, errlen, "unable to set memory limit to %lld (current usage: %llu, peak usage: %llu)", v, usage, max);
	return -1;
}

static int setswap(const char *dir, long long v, char *err, size_t errlen)
{
	char val[32];

	if (!v)
		return 0;
	snprintf(val, sizeof(val), "%lld", v);
	return writefile(dir, "memory.memsw.limit_in_bytes", val, err, errlen) ? -1 : 0;
}

/* setmem is MemoryGroup.Set. */
static int setmem(struct ocikit_cgroup *cg, const char *dir, char *err, size_t errlen)
{
	long long mem = cg->mem, swap = cg->memswap;
	unsigned long long cur;
	char path[PATH_MAX], val[32];
	struct stat st;

	if (mem == -1 && swap == 0) {
		snprintf(path, sizeof(path), "%s/memory.memsw.limit_in_bytes", dir);
		if (stat(path, &st) == 0)
			swap = -1;
	}
	if (mem && swap) {
		if (readuint(dir, "memory.limit_in_bytes", &cur, err, errlen))
			return -1;
		if (swap == -1 || cur < (unsigned long long)swap) {
			if (setswap(dir, swap, err, errlen) || setmemory(dir, mem, err, errlen))
				return -1;
			goto rest;
		}
	}
	if (setmemory(dir, mem, err, errlen) || setswap(dir, swap, err, errlen))
		return -1;
rest:
	if (cg->memres) {
		snprintf(val, sizeof(val), "%lld", cg->memres);
		if (writefile(dir, "memory.soft_limit_in_bytes", val, err, errlen))
			return -1;
	}
	if (cg->oomoff && writefile(dir, "memory.oom_control", "1", err, errlen))
		return -1;
	if (cg->swappiness >= 0) {
		snprintf(val, sizeof(val), "%d", cg->swappiness);
		if (writefile(dir, "memory.swappiness", val, err, errlen))
			return -1;
	}
	return 0;
}

/* setcpu is CpuGroup.Set: shares read back; a period the kernel refuses
 * (EINVAL) before the quota is written again after it. */
static int setcpu(struct ocikit_cgroup *cg, const char *dir, char *err, size_t errlen)
{
	unsigned long long got;
	char val[32], period[32] = "";
	int en;

	if (cg->shares) {
		snprintf(val, sizeof(val), "%llu", cg->shares);
		if (writefile(dir, "cpu.shares", val, err, errlen) || readuint(dir, "cpu.shares", &got, err, errlen))
			return -1;
		if (cg->shares != got) {
			snprintf(err, errlen, "the %s allowed cpu-shares is %llu", cg->shares > got ? "maximum" : "minimum",
				 got);
			return -1;
		}
	}
	if (cg->period) {
		snprintf(period, sizeof(period), "%llu", cg->period);
		if ((en = writefile(dir, "cpu.cfs_period_us", period, err, errlen))) {
			if (en != EINVAL || !cg->quota)
				return -1;
		} else
			*period = 0;
	}
	if (cg->quota) {
		snprintf(val, sizeof(val), "%lld", cg->quota);
		if (writefile(dir, "cpu.cfs_quota_us", val, err, errlen) ||
		    (*period && writefile(dir, "cpu.cfs_period_us", period, err, errlen)))
			return -1;
	}
	return 0;
}

/* setpids is PidsGroup.Set: 0 is a limit of 1, a negative one none. */
static int setpids(struct ocikit_cgroup *cg, const char *dir, char *err, size_t errlen)
{
	char val[32] = "max";

	if (!cg->haspids)
		return 0;
	if (cg->pids > 0)
		snprintf(val, sizeof(val), "%lld", cg->pids);
	else if (cg->pids == 0)
		strcpy(val, "1");
	return writefile(dir, "pids.max", val, err, errlen) ? -1 : 0;
}

/* devrule is Rule.CgroupString. */
static void devrule(const struct devrule *r, char *buf, size_t len)
{
	char maj[24] = "*", min[24] = "*";

	if (r->major != -1)
		snprintf(maj, sizeof(maj), "%lld", r->major);
	if (r->minor != -1)
		snprintf(min, sizeof(min), "%lld", r->minor);
	snprintf(buf, len, "%c %s:%s %s", r->type, maj, min, r->access);
}

/* fail finishes a failed create: Destroy, as the Go create's abort. */
static int fail(struct ocikit_cgroup *cg, char *msg, size_t msglen, const char *what, const char *err)
{
	snprintf(msg, msglen, "cgroup: cgroups: %s %s: %s", what, cg->cgpath, err);
	ocikit_cgroup_remove(cg);
	return -1;
}

int ocikit_cgroup_create(struct ocikit_cgroup *cg, char *msg, size_t msglen)
{
	char err[PATH_MAX + 512] = "", rule[64], path[PATH_MAX];
	const char *dir, *weightfile = NULL;
	struct stat st;
	size_t i;
	int k;

	/* Apply(-1): the directories, subsystem by subsystem. */
	for (k = 0; k < cg->n; k++) {
		if (cg->sub[k] == SS_CPUSET) {
			if (cpusetapply(cg, cg->dirs[k], cg->mnt[k], err, sizeof(err)) < 0)
				return fail(cg, msg, msglen, "join", err);
		} else if (mkdirall(cg->dirs[k], err, sizeof(err)) && !SS_NAMED(cg->sub[k]))
			return fail(cg, msg, msglen, "join", err);
	}
	if (!cg->set)
		return 0;

	/* Set: checkControllers' scheduler check, the library's Set, then
	 * the device rules (setDevicesV1) at create: not frozen. */
	if (cg->weight) {
		dir = controllerpath(cg, SS_BLKIO);
		snprintf(path, sizeof(path), "%s/blkio.weight", dir);
		if (stat(path, &st) == 0)
			weightfile = "blkio.weight";
		else {
			snprintf(path, sizeof(path), "%s/blkio.bfq.weight", dir);
			if (stat(path, &st) < 0) {
				snprintf(msg, msglen, "cgroup: cgroups: invalid resources: linux.resources.blockIO.weight "
						      "needs a proportional I/O scheduler (CFQ or BFQ), none is available");
				ocikit_cgroup_remove(cg);
				return -1;
			}
			weightfile = "blkio.bfq.weight";
		}
	}
	for (k = 0; k < cg->n; k++) {
		dir = cg->dirs[k];
		switch (cg->sub[k]) {
		case SS_CPUSET:
			if ((*cg->cpus && writefile(dir, "cpuset.cpus", cg->cpus, err, sizeof(err))) ||
			    (*cg->mems && writefile(dir, "cpuset.mems", cg->mems, err, sizeof(err))))
				return fail(cg, msg, msglen, "set resources of", err);
			break;
		case SS_MEMORY:
			if (setmem(cg, dir, err, sizeof(err)))
				return fail(cg, msg, msglen, "set resources of", err);
			break;
		case SS_CPU:
			if (setcpu(cg, dir, err, sizeof(err)))
				return fail(cg, msg, msglen, "set resources of", err);
			break;
		case SS_PIDS:
			if (setpids(cg, dir, err, sizeof(err)))
				return fail(cg, msg, msglen, "set resources of", err);
			break;
		case SS_BLKIO:
			if (cg->weight) {
				char val[16];
				snprintf(val, sizeof(val), "%u", cg->weight);
				if (writefile(dir, weightfile, val, err, sizeof(err)))
					return fail(cg, msg, msglen, "set resources of", err);
			}
			break;
		}
	}
	/* A deny of everything clears the list, then each rule in order. */
	dir = controllerpath(cg, SS_DEVICES);
	if (writefile(dir, "devices.deny", "a *:* rwm", err, sizeof(err)))
		return fail(cg, msg, msglen, "set devices of", err);
	for (i = 0; i < cg->nrules; i++) {
		const char *file = cg->rules[i].allow ? "devices.allow" : "devices.deny";
		char e2[sizeof(err) - 160];
		devrule(&cg->rules[i], rule, sizeof(rule));
		if (writefile(dir, file, rule, e2, sizeof(e2))) {
			snprintf(err, sizeof(err), "device rule %zu (%s to %s): %s", i, rule, file, e2);
			return fail(cg, msg, msglen, "set devices of", err);
		}
	}
	return 0;
}

static int cmpdir(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ocikit_cgroup_enter(struct ocikit_cgroup *cg, pid_t pid, char *msg, size_t msglen)
{
	char *dirs[OCIKIT_CG_MAX], path[PATH_MAX], val[24], e[128];
	struct timespec ts = {0, 30 * 1000 * 1000};
	int i, try, fd, en = 0;
	ssize_t n = 0;

	memcpy(dirs, cg->dirs, cg->n * sizeof(char *));
	qsort(dirs, cg->n, sizeof(char *), cmpdir);
	snprintf(val, sizeof(val), "%d", (int)pid);
	for (i = 0; i < cg->n; i++) {
		if (i > 0 && !strcmp(dirs[i], dirs[i - 1]))
			continue; /* a directory listed for two controllers */
		snprintf(path, sizeof(path), "%s/cgroup.procs", dirs[i]);
		if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0) {
			en = errno;
			snprintf(msg, msglen, "cgroup: cgroups: join %s: failed to write %s: openat2 %s: %s", dirs[i], val,
				 path, errstr(en, e, sizeof(e)));
			return -1;
		}
		/* WriteCgroupProc: EINVAL may be a task still in TASK_NEW. */
		for (try = 0; try < 5; try++) {
			if ((n = write(fd, val, strlen(val))) >= 0)
				break;
			en = errno;
			if (en != EINVAL)
				break;
			nanosleep(&ts, NULL);
		}
		close(fd);
		if (n < 0) {
			snprintf(msg, msglen, "cgroup: cgroups: join %s: failed to write %s: write %s: %s", dirs[i], val,
				 path, errstr(en, e, sizeof(e)));
			return -1;
		}
	}
	return 0;
}

/* removepath is cgroups.RemovePath: rmdir, else the sub-cgroups first
 * and rmdir again, retried while busy. */
static void removepath(const char *path)
{
	struct timespec ts = {0, 1000 * 1000};
	char sub[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int tries;

	if (rmdir(path) == 0 || errno == ENOENT)
		return;
	if (!(d = opendir(path)))
		return;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		removepath(sub);
	}
	closedir(d);
	for (tries = 0; tries <= 10; tries++) {
		if (rmdir(path) == 0 || errno == ENOENT || errno != EBUSY)
			return;
		nanosleep(&ts, NULL);
		ts.tv_nsec *= 2;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec += ts.tv_nsec / 1000000000;
			ts.tv_nsec %= 1000000000;
		}
	}
}

void ocikit_cgroup_remove(struct ocikit_cgroup *cg)
{
	int i;

	for (i = 0; i < cg->n; i++)
		removepath(cg->dirs[i]);
}

int ocikit_cgroup_paths(struct ocikit_cgroup *cg, const char *const **keys, const char *const **dirs)
{
	*keys = (const char *const *)cg->keys;
	*dirs = (const char *const *)cg->dirs;
	return cg->n;
}

char *ocikit_cgroup_record(struct ocikit_cgroup *cg)
{
	json_t *st = json_object(), *paths = json_object();
	const char *keys[OCIKIT_CG_MAX], *t;
	char *out = NULL;
	int i, j;

	if (!st || !paths || json_object_set_new(st, "id", json_string(cg->id)) ||
	    json_object_set_new(st, "cgroupsPath", json_string(cg->cgpath)) || json_object_set(st, "paths", paths))
		goto out;
	/* The map as encoding/json writes it: keys sorted. */
	memcpy(keys, cg->keys, cg->n * sizeof(char *));
	for (i = 1; i < cg->n; i++)
		for (j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
			t = keys[j];
			keys[j] = keys[j - 1];
			keys[j - 1] = t;
		}
	for (i = 0; i < cg->n; i++) {
		for (j = 0; strcmp(cg->keys[j], keys[i]); j++)
			;
		if (json_object_set_new(paths, keys[i], json_string(cg->dirs[j])))
			goto out;
	}
	if (cg->res && json_object_set(st, "resources", cg->res))
		goto out;
	out = json_dumps(st, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
	json_decref(paths);
	json_decref(st);
	return out;
}

void ocikit_cgroup_free(struct ocikit_cgroup *cg)
{
	int i;

	if (!cg)
		return;
	for (i = 0; i < cg->n; i++)
		free(cg->dirs[i]);
	json_decref(cg->res);
	free(cg->rules);
	free(cg->cpus);
	free(cg->mems);
	free(cg->id);
	free(cg->cgpath);
	free(cg);
}
