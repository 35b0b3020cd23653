//go:build linux && cgo

/* crootfs.c: the container's root filesystem prepared without Go, for
 * `ocikit create` done in C.
 *
 * It is package runtime/rootfs (Prepare and Finish) as runtime/cinit_linux.go
 * rootThread calls them: from a process that left the runtime's fs_struct
 * and joined the init's mount namespace, with the init's procfs context for
 * the one proc mount and the container's cgroup directories for a cgroup
 * mount. The same system calls in the same order, so the container sees
 * the same mount table, devices and modes; the errors read as Go's do
 * ("prepare rootfs: mount tmpfs on /dev: ..."). ocikit_rootfs_plan accepts
 * only configurations this file does in full (no user namespace, idmapped
 * mounts, tmpcopyup, overlay root, SELinux mount label, remount, other
 * filesystem types or a second proc mount): the rest goes to Go before
 * anything is done.
 *
 * The security of the Go code is kept as it is: every destination is
 * resolved inside the root by handle (openat2 RESOLVE_IN_ROOT, a dangling
 * link followed inside the root and what is missing created there), the
 * mount is made on that handle (/proc/self/fd/N, move_mount), and masked
 * and read-only paths are opened with no symbolic link anywhere on the way
 * (CVE-2025-31133). Kernels without openat2, open_tree, fsopen or
 * mount_setattr (before 5.12) are not handled here: the calls fail and the
 * error says so. */

#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <linux/openat2.h>

#include "kernel.h"

#include "crootfs.h"
#include "fastint.h"

/* Messages and paths are cut at their buffers' size: a path longer than
 * PATH_MAX is one the kernel refuses anyway. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#ifndef MOUNT_ATTR_NOSYMFOLLOW
#define MOUNT_ATTR_NOSYMFOLLOW 0x00200000
#endif
#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif
#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x1000U
#endif
#define ST_NOSYMFOLLOW_ 0x2000 /* statfs(2) f_flags, Linux 5.10 */

/* struct mount_attr of mount_setattr(2), under a name of its own: glibc's
 * <sys/mount.h> has it from 2.36 only. */
struct cr_attr {
	uint64_t set, clr, propagation, userns_fd;
};

/* One error, as Go's would print. bare: msg is one *os.PathError ("op
 * path: inner"), which MountError shows as inner alone. no: the errno
 * behind it, for the errors.Is checks of the Go code (0: none). */
struct cerr {
	char msg[2048];
	char inner[512];
	int no;
	int bare;
};

static const char *reason(int no, char *buf, size_t size)
{
	snprintf(buf, size, "%s", strerror(no));
	/* Go's errno strings are glibc's lower-cased ("no such file or directory"). */
	if (buf[0] && !(buf[1] && isupper((unsigned char)buf[1])))
		buf[0] = (char)tolower((unsigned char)buf[0]);
	return buf;
}

/* perr records the *os.PathError of a failed call: "op path: reason". */
static int perr_text(struct cerr *e, const char *op, const char *path, const char *inner, int no)
{
	snprintf(e->inner, sizeof(e->inner), "%s", inner);
	snprintf(e->msg, sizeof(e->msg), "%s %s: %s", op, path, inner);
	e->no = no;
	e->bare = 1;
	return -1;
}

static int perr(struct cerr *e, const char *op, const char *path, int no)
{
	char buf[128];

	return perr_text(e, op, path, reason(no, buf, sizeof(buf)), no);
}

static int ferr(struct cerr *e, int no, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int ferr(struct cerr *e, int no, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	e->no = no;
	e->bare = 0;
	return -1;
}

/* wrap is fmt.Errorf("prefix: %w", err). */
static int wrap(struct cerr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int wrap(struct cerr *e, const char *fmt, ...)
{
	char pre[1024], old[sizeof(e->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	snprintf(e->msg, sizeof(e->msg), "%s: %s", pre, old);
	e->bare = 0;
	return -1;
}

/* ---- the plan ---- */

struct rmount {
	char *source; /* as configured, "" when none */
	char *rawdest;
	char *dest; /* containerPath(destination) */
	char *type;
	char *data; /* unknown options: filesystem data, joined with "," */
	char **options; /* as configured (a cgroup2 bind takes them) */
	int noptions;
	unsigned long flags, clear;
	unsigned long prop[8];
	int nprop;
	struct cr_attr rec;
};

struct rdevice {
	char *path; /* containerPath */
	mode_t type;
	mode_t perm;
	dev_t rdev;
	uid_t uid;
	gid_t gid;
};

struct ocikit_rootfs {
	char *bundle;
	char *rootpath; /* root.path as configured */
	int readonly;
	unsigned long before, after; /* rootProp */
	int cgroupns;
	int ourdev; /* setupDev: /dev is not a bind */
	struct rmount *mounts;
	int nmounts;
	char **masked;
	int nmasked;
	char **ropaths;
	int nropaths;
	struct rdevice *devs;
	int ndevs;
	/* ocikit_rootfs_cgroup_wait's: called once before the first cgroup
	 * mount; -1 stops the preparation. */
	int (*cgwait)(void *);
	void *cgarg;
};

static char *xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");

	if (!p)
		abort();
	return p;
}

/* path_clean is Go's path.Clean of an absolute path ("/" + p). */
static void path_clean(const char *p, char *out, size_t size)
{
	char buf[PATH_MAX * 2];
	size_t n = 0;
	const char *s = p;

	buf[n++] = '/';
	while (*s) {
		const char *end;
		size_t len;

		while (*s == '/')
			s++;
		if (!*s)
			break;
		end = strchr(s, '/');
		len = end ? (size_t)(end - s) : strlen(s);
		if (len == 1 && s[0] == '.') {
		} else if (len == 2 && s[0] == '.' && s[1] == '.') {
			if (n > 1) {
				while (n > 1 && buf[n - 1] != '/')
					n--;
				if (n > 1)
					n--;
			}
		} else if (n + len + 2 < sizeof(buf)) {
			if (n > 1)
				buf[n++] = '/';
			memcpy(buf + n, s, len);
			n += len;
		}
		s += len;
	}
	buf[n] = 0;
	snprintf(out, size, "%s", buf);
}

/* path_dir and path_base split a clean absolute path. */
static void path_dir(const char *p, char *out, size_t size)
{
	const char *sl = strrchr(p, '/');

	if (!sl || sl == p)
		snprintf(out, size, "/");
	else
		snprintf(out, size, "%.*s", (int)(sl - p), p);
}

static const char *path_base(const char *p)
{
	const char *sl = strrchr(p, '/');

	return sl && sl[1] ? sl + 1 : (sl ? "/" : p);
}

/* The option table of runtime/rootfs/options_linux.go. */
#define ATIME_FLAGS (MS_NOATIME | MS_RELATIME | MS_STRICTATIME)
#define BIND_REMOUNT_FLAGS (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | ATIME_FLAGS | MS_NODIRATIME | MS_NOSYMFOLLOW)
#define LOCKABLE_FLAGS (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | ATIME_FLAGS | MS_NODIRATIME)

static const struct {
	const char *name;
	int clear;
	unsigned long flag;
} flagopts[] = {
	{"async", 1, MS_SYNCHRONOUS},	  {"atime", 1, MS_NOATIME},	    {"bind", 0, MS_BIND},
	{"defaults", 0, 0},		  {"dev", 1, MS_NODEV},		    {"diratime", 1, MS_NODIRATIME},
	{"dirsync", 0, MS_DIRSYNC},	  {"exec", 1, MS_NOEXEC},	    {"iversion", 0, MS_I_VERSION},
	{"lazytime", 0, MS_LAZYTIME},	  {"loud", 1, MS_SILENT},	    {"mand", 0, MS_MANDLOCK},
	{"noatime", 0, MS_NOATIME},	  {"nodev", 0, MS_NODEV},	    {"nodiratime", 0, MS_NODIRATIME},
	{"noexec", 0, MS_NOEXEC},	  {"noiversion", 1, MS_I_VERSION},  {"nolazytime", 1, MS_LAZYTIME},
	{"nomand", 1, MS_MANDLOCK},	  {"norelatime", 1, MS_RELATIME},   {"nostrictatime", 1, MS_STRICTATIME},
	{"nosuid", 0, MS_NOSUID},	  {"nosymfollow", 0, MS_NOSYMFOLLOW}, {"rbind", 0, MS_BIND | MS_REC},
	{"relatime", 0, MS_RELATIME},	  {"remount", 0, MS_REMOUNT},	    {"ro", 0, MS_RDONLY},
	{"rw", 1, MS_RDONLY},		  {"silent", 0, MS_SILENT},	    {"strictatime", 0, MS_STRICTATIME},
	{"suid", 1, MS_NOSUID},		  {"symfollow", 1, MS_NOSYMFOLLOW}, {"sync", 0, MS_SYNCHRONOUS},
};

static const struct {
	const char *name;
	unsigned long flag;
} propopts[] = {
	{"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC}, {"shared", MS_SHARED},
	{"rshared", MS_SHARED | MS_REC}, {"slave", MS_SLAVE},		  {"rslave", MS_SLAVE | MS_REC},
	{"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

/* The r* options: mount_setattr(AT_RECURSIVE). An atime mode is an
 * enumeration there (MOUNT_ATTR__ATIME cleared, the mode set). */
static const struct {
	const char *name;
	int clear;
	uint64_t attr;
	int atime;
} recopts[] = {
	{"rro", 0, MOUNT_ATTR_RDONLY, 0},
	{"rrw", 1, MOUNT_ATTR_RDONLY, 0},
	{"rnosuid", 0, MOUNT_ATTR_NOSUID, 0},
	{"rsuid", 1, MOUNT_ATTR_NOSUID, 0},
	{"rnodev", 0, MOUNT_ATTR_NODEV, 0},
	{"rdev", 1, MOUNT_ATTR_NODEV, 0},
	{"rnoexec", 0, MOUNT_ATTR_NOEXEC, 0},
	{"rexec", 1, MOUNT_ATTR_NOEXEC, 0},
	{"rnodiratime", 0, MOUNT_ATTR_NODIRATIME, 0},
	{"rdiratime", 1, MOUNT_ATTR_NODIRATIME, 0},
	{"rnosymfollow", 0, MOUNT_ATTR_NOSYMFOLLOW, 0},
	{"rsymfollow", 1, MOUNT_ATTR_NOSYMFOLLOW, 0},
	{"rnoatime", 0, MOUNT_ATTR_NOATIME, 1},
	{"ratime", 0, MOUNT_ATTR_RELATIME, 1},
	{"rrelatime", 0, MOUNT_ATTR_RELATIME, 1},
	{"rnorelatime", 0, MOUNT_ATTR_STRICTATIME, 1},
	{"rstrictatime", 0, MOUNT_ATTR_STRICTATIME, 1},
	{"rnostrictatime", 0, MOUNT_ATTR_RELATIME, 1},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* parse_option is one step of Go's parseOptions: 0 done, 1 an option only
 * Go handles (idmap, ridmap, tmpcopyup, "" which Go reports). data
 * collects the unknown ones. */
static int parse_option(struct rmount *m, const char *opt, char **data, size_t *dlen)
{
	size_t i;

	for (i = 0; i < N(flagopts); i++) {
		if (strcmp(opt, flagopts[i].name))
			continue;
		if (flagopts[i].clear) {
			m->flags &= ~flagopts[i].flag;
			m->clear |= flagopts[i].flag;
		} else {
			if (flagopts[i].flag & ATIME_FLAGS)
				m->flags &= ~(unsigned long)ATIME_FLAGS;
			m->flags |= flagopts[i].flag;
			m->clear &= ~flagopts[i].flag;
		}
		return 0;
	}
	for (i = 0; i < N(propopts); i++) {
		if (strcmp(opt, propopts[i].name))
			continue;
		if (m->nprop >= (int)N(m->prop))
			return 1;
		m->prop[m->nprop++] = propopts[i].flag;
		return 0;
	}
	for (i = 0; i < N(recopts); i++) {
		if (strcmp(opt, recopts[i].name))
			continue;
		if (recopts[i].atime) {
			m->rec.clr |= MOUNT_ATTR__ATIME;
			m->rec.set = (m->rec.set & ~(uint64_t)MOUNT_ATTR__ATIME) | recopts[i].attr;
		} else if (recopts[i].clear) {
			m->rec.clr |= recopts[i].attr;
			m->rec.set &= ~recopts[i].attr;
		} else {
			m->rec.set |= recopts[i].attr;
			m->rec.clr &= ~recopts[i].attr;
		}
		return 0;
	}
	if (!*opt || !strcmp(opt, "idmap") || !strcmp(opt, "ridmap") || !strcmp(opt, "tmpcopyup"))
		return 1;
	{
		size_t n = strlen(opt), need = *dlen + n + 2;
		char *d = realloc(*data, need);

		if (!d)
			abort();
		if (*dlen)
			d[(*dlen)++] = ',';
		memcpy(d + *dlen, opt, n + 1);
		*dlen += n;
		*data = d;
	}
	return 0;
}

static int isbind(const struct rmount *m) { return (m->flags & MS_BIND) != 0; }

/* devReadonlyLater: a read-only tmpfs on /dev stays writable until the
 * devices are made; Finish makes it read-only. */
static int dev_ro_later(const struct rmount *m)
{
	return !strcmp(m->dest, "/dev") && !isbind(m) && (m->flags & MS_RDONLY);
}

static void free_mount(struct rmount *m)
{
	int i;

	free(m->source);
	free(m->rawdest);
	free(m->dest);
	free(m->type);
	free(m->data);
	for (i = 0; i < m->noptions; i++)
		free(m->options[i]);
	free(m->options);
}

void ocikit_rootfs_free(struct ocikit_rootfs *p)
{
	int i;

	if (!p)
		return;
	for (i = 0; i < p->nmounts; i++)
		free_mount(&p->mounts[i]);
	free(p->mounts);
	for (i = 0; i < p->nmasked; i++)
		free(p->masked[i]);
	free(p->masked);
	for (i = 0; i < p->nropaths; i++)
		free(p->ropaths[i]);
	free(p->ropaths);
	for (i = 0; i < p->ndevs; i++)
		free(p->devs[i].path);
	free(p->devs);
	free(p->bundle);
	free(p->rootpath);
	free(p);
}

/* strings reads an optional array of strings. */
static int strings(json_t *a, const char *what, char ***out, int *n, char *msg, size_t msglen)
{
	size_t i;
	json_t *v;

	*out = NULL;
	*n = 0;
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a)) {
		snprintf(msg, msglen, "config: %s: not an array", what);
		return -1;
	}
	*out = calloc(json_array_size(a) + 1, sizeof(char *));
	if (!*out)
		abort();
	json_array_foreach(a, i, v) {
		if (!json_is_string(v)) {
			snprintf(msg, msglen, "config: %s: not a string", what);
			return -1;
		}
		(*out)[(*n)++] = xstrdup(json_string_value(v));
	}
	return 0;
}

/* set_integer reads an optional unsigned number into *out (unchanged when absent). */
static int opt_number(json_t *o, const char *key, long long *out)
{
	json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return -1;
	*out = json_integer_value(v);
	return 0;
}

/* rootPropagation: linux.rootfsPropagation as runc reads it. */
static int root_propagation(const char *v, unsigned long *before, unsigned long *after)
{
	const char *t = v[0] == 'r' ? v + 1 : v;

	*after = 0;
	if (!*v) {
		*before = MS_SLAVE | MS_REC;
		return 0;
	}
	if (!strcmp(t, "slave"))
		*before = *after = MS_SLAVE | MS_REC;
	else if (!strcmp(t, "shared"))
		*before = MS_SHARED | MS_REC, *after = MS_SHARED;
	else if (!strcmp(t, "private"))
		*before = *after = MS_PRIVATE | MS_REC;
	else if (!strcmp(t, "unbindable"))
		*before = MS_PRIVATE | MS_REC, *after = MS_UNBINDABLE;
	else
		return -1;
	return 0;
}

static int plan_mount(json_t *j, struct rmount *m, int *procs, char *msg, size_t msglen)
{
	const char *s;
	json_t *opts, *v;
	char path[PATH_MAX], *data = NULL;
	size_t i, dlen = 0;

	if (!json_is_object(j)) {
		snprintf(msg, msglen, "config: mounts: not an object");
		return -1;
	}
	if (fx_str(j, "destination", &s) < 0)
		goto bad;
	m->rawdest = xstrdup(s);
	snprintf(path, sizeof(path), "/%s", s);
	path_clean(path, path, sizeof(path));
	m->dest = xstrdup(path);
	if (fx_str(j, "source", &s) < 0)
		goto bad;
	m->source = xstrdup(s);
	if (fx_str(j, "type", &s) < 0)
		goto bad;
	m->type = xstrdup(s);
	if (json_object_get(j, "uidMappings") || json_object_get(j, "gidMappings"))
		return 1; /* idmapped */
	if (!*m->rawdest)
		return 1; /* Go reports "no destination" */
	opts = json_object_get(j, "options");
	if (opts && !json_is_null(opts)) {
		if (!json_is_array(opts))
			goto bad;
		m->options = calloc(json_array_size(opts) + 1, sizeof(char *));
		if (!m->options)
			abort();
		json_array_foreach(opts, i, v) {
			if (!json_is_string(v))
				goto bad;
			m->options[m->noptions++] = xstrdup(json_string_value(v));
			if (parse_option(m, json_string_value(v), &data, &dlen)) {
				free(data);
				return 1;
			}
		}
	}
	m->data = data ? data : xstrdup("");
	if (!strcmp(m->type, "bind") && !isbind(m))
		m->flags |= MS_BIND | MS_REC; /* as runc and crun */
	if (m->flags & MS_REMOUNT)
		return 1;
	if (!strcmp(m->type, "proc") && ++*procs > 1)
		return 1; /* one procfs context */
	if (isbind(m))
		return 0;
	if (!strcmp(m->type, "proc") || !strcmp(m->type, "tmpfs") || !strcmp(m->type, "devpts") ||
	    !strcmp(m->type, "mqueue") || !strcmp(m->type, "sysfs") || !strcmp(m->type, "cgroup") ||
	    !strcmp(m->type, "cgroup2"))
		return 0;
	return 1;
bad:
	free(data);
	snprintf(msg, msglen, "config: mounts: a field of the wrong type");
	return -1;
}

static int plan_device(json_t *j, struct rdevice *d, char *msg, size_t msglen)
{
	const char *s;
	char path[PATH_MAX];
	long long major = 0, minor = 0, mode = 0666, uid = 0, gid = 0;

	if (!json_is_object(j) || fx_str(j, "path", &s) < 0)
		goto bad;
	snprintf(path, sizeof(path), "/%s", s);
	path_clean(path, path, sizeof(path));
	d->path = xstrdup(path);
	if (!strcmp(path, "/"))
		return 1;
	if (fx_str(j, "type", &s) < 0)
		goto bad;
	if (!strcmp(s, "c") || !strcmp(s, "u"))
		d->type = S_IFCHR;
	else if (!strcmp(s, "b"))
		d->type = S_IFBLK;
	else if (!strcmp(s, "p"))
		d->type = S_IFIFO;
	else
		return 1; /* Go reports it */
	if (opt_number(j, "major", &major) < 0 || opt_number(j, "minor", &minor) < 0 ||
	    opt_number(j, "fileMode", &mode) < 0 || opt_number(j, "uid", &uid) < 0 || opt_number(j, "gid", &gid) < 0)
		goto bad;
	/* os.FileMode.Perm(): the permission bits only. */
	d->perm = (mode_t)(mode & 0777);
	d->rdev = d->type == S_IFIFO ? 0 : makedev((unsigned)major, (unsigned)minor);
	d->uid = (uid_t)uid;
	d->gid = (gid_t)gid;
	return 0;
bad:
	snprintf(msg, msglen, "config: linux.devices: a field of the wrong type");
	return -1;
}

int ocikit_rootfs_plan(json_t *config, const char *bundle, struct ocikit_rootfs **out, char *msg, size_t msglen)
{
	struct ocikit_rootfs *p;
	json_t *root, *lnx, *mounts, *ns, *v, *ann;
	const char *s;
	size_t i;
	int rc = 1, procs = 0, mountns = 0;

	*out = NULL;
	if (msglen)
		msg[0] = 0;
	if (!json_is_object(config) || !bundle || bundle[0] != '/') {
		snprintf(msg, msglen, "config: not an object");
		return -1;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		abort();
	p->bundle = xstrdup(bundle);
	root = json_object_get(config, "root");
	lnx = json_object_get(config, "linux");
	if (!json_is_object(root) || fx_str(root, "path", &s) < 0 || !*s)
		goto out; /* Go: "rootfs: config has no root.path" */
	p->rootpath = xstrdup(s);
	v = json_object_get(root, "readonly");
	if (v && !json_is_null(v) && !json_is_boolean(v))
		goto bad;
	p->readonly = json_is_true(v);
	ann = json_object_get(config, "annotations");
	if (json_is_object(ann) && json_object_get(ann, "org.ocikit.rootfs.overlay"))
		goto out;
	if (!json_is_object(lnx))
		goto out; /* no mount namespace */
	if (fx_str(lnx, "mountLabel", &s) < 0)
		goto bad;
	if (*s)
		goto out;
	if (json_array_size(json_object_get(lnx, "uidMappings")) || json_array_size(json_object_get(lnx, "gidMappings")))
		goto out;
	ns = json_object_get(lnx, "namespaces");
	if (ns && !json_is_array(ns))
		goto bad;
	json_array_foreach(ns, i, v) {
		const char *t;

		if (!json_is_object(v) || fx_str(v, "type", &t) < 0)
			goto bad;
		if (!strcmp(t, "user"))
			goto out;
		if (!strcmp(t, "mount"))
			mountns = 1;
		if (!strcmp(t, "cgroup"))
			p->cgroupns = 1;
	}
	if (!mountns)
		goto out;
	if (fx_str(lnx, "rootfsPropagation", &s) < 0)
		goto bad;
	if (root_propagation(s, &p->before, &p->after) < 0)
		goto out; /* Go reports it */
	mounts = json_object_get(config, "mounts");
	if (mounts && !json_is_null(mounts)) {
		if (!json_is_array(mounts))
			goto bad;
		p->mounts = calloc(json_array_size(mounts) + 1, sizeof(*p->mounts));
		if (!p->mounts)
			abort();
		json_array_foreach(mounts, i, v) {
			int r = plan_mount(v, &p->mounts[p->nmounts++], &procs, msg, msglen);

			if (r) {
				rc = r;
				goto out;
			}
		}
	}
	p->ourdev = 1;
	for (i = 0; i < (size_t)p->nmounts; i++)
		if (!strcmp(p->mounts[i].dest, "/dev") && isbind(&p->mounts[i]))
			p->ourdev = 0;
	if (strings(json_object_get(lnx, "maskedPaths"), "linux.maskedPaths", &p->masked, &p->nmasked, msg, msglen) < 0 ||
	    strings(json_object_get(lnx, "readonlyPaths"), "linux.readonlyPaths", &p->ropaths, &p->nropaths, msg,
		    msglen) < 0) {
		rc = -1;
		goto out;
	}
	v = json_object_get(lnx, "devices");
	if (v && !json_is_null(v)) {
		json_t *d;

		if (!json_is_array(v))
			goto bad;
		p->devs = calloc(json_array_size(v) + 1, sizeof(*p->devs));
		if (!p->devs)
			abort();
		json_array_foreach(v, i, d) {
			int r = plan_device(d, &p->devs[p->ndevs++], msg, msglen);

			if (r) {
				rc = r;
				goto out;
			}
		}
	}
	{
		/* openat2 (Linux 5.6) resolves every destination here. */
		struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT};
		int fd = (int)syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof(how));

		if (fd < 0)
			goto out;
		close(fd);
	}
	*out = p;
	return 0;
bad:
	snprintf(msg, msglen, "config: a field of the wrong type");
	rc = -1;
out:
	ocikit_rootfs_free(p);
	if (rc > 0 && msglen)
		msg[0] = 0;
	return rc;
}

/* ---- system calls on handles ---- */

static void fdpath(int fd, char *buf, size_t size) { snprintf(buf, size, "/proc/self/fd/%d", fd); }

/* xmount is mount(2) with errors on name, the path the user knows. */
static int xmount(struct cerr *e, const char *src, const char *target, const char *fstype, unsigned long flags,
		  const char *data, const char *name)
{
	int rc;

	do
		rc = mount(src, target, fstype, flags, data && *data ? data : NULL);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return perr(e, "mount", name, errno);
	return 0;
}

static int mount_setattr_(int fd, unsigned flags, struct cr_attr *a)
{
	return (int)syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | flags, a, sizeof(*a));
}

static int move_mount_(int from, int to)
{
	return (int)syscall(SYS_move_mount, from, "", to, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
}

static int mount_id(int fd, uint64_t *id)
{
	struct statx stx;

	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx) < 0)
		return -1;
	if (!(stx.stx_mask & STATX_MNT_ID))
		return -1;
	*id = stx.stx_mnt_id;
	return 0;
}

/* openat2 with a retry when a rename or mount raced with the lookup. */
static int openat2_(int dir, const char *p, uint64_t resolve)
{
	struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = resolve};
	int fd = -1, i;

	for (i = 0; i < 16; i++) {
		fd = (int)syscall(SYS_openat2, dir, p, &how, sizeof(how));
		if (fd >= 0 || (errno != EAGAIN && errno != EINTR))
			return fd;
	}
	return fd;
}

/* open_in_root opens p with every link resolved inside the root. */
static int open_in_root(struct cerr *e, int rootfd, const char *p)
{
	int fd = openat2_(rootfd, p, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);

	if (fd < 0)
		return perr(e, "openat2", p, errno);
	return fd;
}

/* statfs_flags: the per-mount flags of a mount as MS_* flags. */
static int statfs_flags(struct cerr *e, const char *path, unsigned long *out)
{
	static const struct {
		unsigned long st, ms;
	} map[] = {
		{ST_RDONLY, MS_RDONLY},		{ST_NOSUID, MS_NOSUID},		{ST_NODEV, MS_NODEV},
		{ST_NOEXEC, MS_NOEXEC},		{ST_NOATIME, MS_NOATIME},	{ST_NODIRATIME, MS_NODIRATIME},
		{ST_RELATIME, MS_RELATIME},	{ST_NOSYMFOLLOW_, MS_NOSYMFOLLOW},
	};
	struct statfs st;
	size_t i;

	if (statfs(path, &st) < 0)
		return perr(e, "statfs", path, errno);
	*out = 0;
	for (i = 0; i < N(map); i++)
		if ((unsigned long)st.f_flags & map[i].st)
			*out |= map[i].ms;
	return 0;
}

/* remount_bind changes a mount's flags relative to its current ones. */
static int remount_bind(struct cerr *e, const char *target, unsigned long set, unsigned long clear, const char *name)
{
	unsigned long cur;

	if (statfs_flags(e, target, &cur) < 0)
		return -1;
	if ((set | clear) & ATIME_FLAGS)
		cur &= ~(unsigned long)ATIME_FLAGS;
	return xmount(e, "", target, "", MS_BIND | MS_REMOUNT | (((cur & ~clear) | set) & BIND_REMOUNT_FLAGS), "", name);
}

/* set_bind_flags gives a new bind exactly the flags its options name, as
 * runc; refused (locked flags), once more keeping the locked ones. */
static int set_bind_flags(struct cerr *e, const char *target, unsigned long set, unsigned long clear, const char *name)
{
	unsigned long flags = set & BIND_REMOUNT_FLAGS, cur, locked;
	struct cerr e2;

	if (!xmount(e, "", target, "", MS_BIND | MS_REMOUNT | flags, "", name))
		return 0;
	if (e->no != EPERM)
		return -1;
	if (statfs_flags(&e2, target, &cur) < 0)
		return -1;
	locked = cur & LOCKABLE_FLAGS;
	if (locked & clear)
		return -1;
	if (flags & ATIME_FLAGS) {
		unsigned long a = cur & ATIME_FLAGS;

		if (!a)
			a = MS_STRICTATIME;
		if ((flags & ATIME_FLAGS) != a)
			return -1;
		locked &= ~(unsigned long)ATIME_FLAGS;
	}
	return xmount(e, "", target, "", MS_BIND | MS_REMOUNT | flags | locked, "", name);
}

/* ---- the root and destinations in it (resolve_linux.go) ---- */

struct root {
	char path[PATH_MAX]; /* host path, links resolved */
	int fd;		     /* O_PATH|O_DIRECTORY */
};

enum { KIND_NONE, KIND_DIR, KIND_FILE };

/* target: a destination resolved inside the root, the handle of the
 * directory holding it and its name there, so that what is mounted on it
 * can be opened again. */
struct target {
	const char *name; /* container path, for messages */
	char real[PATH_MAX];
	int parent;
	char base[NAME_MAX + 1];
	int fd;
	int created;
};

static void target_close(struct target *t)
{
	if (t->parent >= 0)
		close(t->parent);
	if (t->fd >= 0)
		close(t->fd);
	t->parent = t->fd = -1;
}

/* strip_root: p relative to the root ("a/b"), or NULL when outside it. */
static const char *strip_root(const struct root *r, const char *p)
{
	size_t n = strlen(r->path);

	if (n && r->path[n - 1] == '/')
		n--;
	if (strncmp(p, r->path, n) || p[n] != '/' || !p[n + 1])
		return NULL;
	return p + n + 1;
}

/* target_of finds the directory holding the file fd holds (fd is the
 * target's from here on, closed on error). */
static int target_of(struct cerr *e, struct root *r, const char *dest, int fd, struct target *t)
{
	char link[64], real[PATH_MAX], dir[PATH_MAX];
	const char *rel;
	struct stat a, b;
	ssize_t n;

	t->name = dest;
	t->fd = fd;
	t->parent = -1;
	t->created = 0;
	fdpath(fd, link, sizeof(link));
	n = readlink(link, real, sizeof(real) - 1);
	if (n < 0) {
		perr(e, "readlink", link, errno);
		goto fail;
	}
	real[n] = 0;
	rel = strip_root(r, real);
	if (!rel) {
		perr_text(e, "resolve", dest, "rootfs: path resolves outside the root filesystem", 0);
		goto fail;
	}
	snprintf(t->real, sizeof(t->real), "/%s", rel);
	path_dir(t->real, dir, sizeof(dir));
	snprintf(t->base, sizeof(t->base), "%s", path_base(t->real));
	if ((t->parent = open_in_root(e, r->fd, dir)) < 0)
		goto fail;
	/* The handle and parent/base must name the same file. */
	if (fstat(fd, &a) < 0) {
		perr(e, "stat", dest, errno);
		goto fail;
	}
	if (fstatat(t->parent, t->base, &b, AT_SYMLINK_NOFOLLOW) < 0) {
		perr(e, "stat", dest, errno);
		goto fail;
	}
	if (a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
		perr_text(e, "resolve", dest, "changed while resolving", 0);
		goto fail;
	}
	return 0;
fail:
	target_close(t);
	return -1;
}

/* target_top opens what is at the target after a mount on it, checking
 * that it is a mount other than the one the target was on. */
static int target_top(struct cerr *e, struct target *t)
{
	uint64_t before, after;
	int fd = openat(t->parent, t->base, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return perr(e, "open", t->name, errno);
	if (!mount_id(t->fd, &before) && !mount_id(fd, &after) && before == after) {
		close(fd);
		return perr_text(e, "open", t->name, "no new mount there", 0);
	}
	return fd;
}

/* secure_join is filepath-securejoin's SecureJoin: unsafe resolved
 * lexically below root, links followed (read on the host path) and
 * clamped to root, missing components taken as they are. It only chooses
 * what to create; creation and lookup go through handles. */
static int secure_join(const char *root, const char *unsafe, char *out, size_t size)
{
	char cur[PATH_MAX] = "", rem[PATH_MAX * 2], next[PATH_MAX * 2], full[PATH_MAX * 3], target[PATH_MAX];
	int links = 0;

	snprintf(rem, sizeof(rem), "%s", unsafe);
	while (rem[0]) {
		char part[PATH_MAX], *sl = strchr(rem, '/');
		struct stat st;
		ssize_t n;

		if (sl) {
			snprintf(part, sizeof(part), "%.*s", (int)(sl - rem), rem);
			memmove(rem, sl + 1, strlen(sl + 1) + 1);
		} else {
			snprintf(part, sizeof(part), "%s", rem);
			rem[0] = 0;
		}
		snprintf(next, sizeof(next), "/%s/%s", cur, part);
		path_clean(next, next, sizeof(next));
		if (!strcmp(next, "/")) {
			cur[0] = 0;
			continue;
		}
		snprintf(full, sizeof(full), "%s/%s", root, next);
		if (lstat(full, &st) < 0) {
			if (errno != ENOENT && errno != ENOTDIR)
				return -1;
			snprintf(cur, sizeof(cur), "%s", next);
			continue;
		}
		if (!S_ISLNK(st.st_mode)) {
			snprintf(cur, sizeof(cur), "%s", next);
			continue;
		}
		if (++links > 255)
			return -1;
		n = readlink(full, target, sizeof(target) - 1);
		if (n < 0)
			return -1;
		target[n] = 0;
		snprintf(full, sizeof(full), "%s/%s", target, rem);
		snprintf(rem, sizeof(rem), "%s", full);
		if (target[0] == '/')
			cur[0] = 0;
	}
	snprintf(next, sizeof(next), "/%s", cur);
	path_clean(next, next, sizeof(next));
	snprintf(full, sizeof(full), "%s%s", root, next);
	path_clean(full, out, size);
	return 0;
}

static int isdir_fd(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
}

/* mkdir_all returns a handle on directory p inside the root, creating it
 * and its parents (0755) when missing (pathrs-lite MkdirAllHandle): the
 * longest prefix that resolves inside the root, then one mkdirat and one
 * O_NOFOLLOW open per missing component. */
static int mkdir_all(struct cerr *e, struct root *r, const char *p)
{
	char prefix[PATH_MAX];
	const char *rest;
	size_t len;
	int fd = openat2_(r->fd, p, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);

	if (fd >= 0 && isdir_fd(fd))
		return fd;
	if (fd >= 0) {
		close(fd);
		return perr(e, "mkdir", p, ENOTDIR);
	}
	/* The longest existing prefix. */
	len = strlen(p);
	for (;;) {
		while (len > 0 && p[len - 1] != '/')
			len--;
		while (len > 1 && p[len - 1] == '/')
			len--;
		if (len == 0)
			len = 1;
		snprintf(prefix, sizeof(prefix), "%.*s", (int)len, p);
		fd = openat2_(r->fd, prefix, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
		if (fd >= 0)
			break;
		if ((errno != ENOENT) || len == 1)
			return perr(e, "openat2", prefix, errno);
		len--;
	}
	rest = p + len;
	while (*rest) {
		char part[NAME_MAX + 1];
		const char *end;
		size_t n;
		int next;

		while (*rest == '/')
			rest++;
		if (!*rest)
			break;
		end = strchr(rest, '/');
		n = end ? (size_t)(end - rest) : strlen(rest);
		if (n > NAME_MAX) {
			close(fd);
			return perr(e, "mkdirat", p, ENAMETOOLONG);
		}
		snprintf(part, sizeof(part), "%.*s", (int)n, rest);
		rest += n;
		if (!isdir_fd(fd)) {
			close(fd);
			return perr(e, "mkdirat", p, ENOTDIR);
		}
		if (mkdirat(fd, part, 0755) < 0 && errno != EEXIST) {
			int no = errno;

			close(fd);
			return perr(e, "mkdirat", p, no);
		}
		next = openat(fd, part, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		if (next < 0)
			return perr(e, "openat", p, errno);
		fd = next;
	}
	if (!isdir_fd(fd)) {
		close(fd);
		return perr(e, "mkdir", p, ENOTDIR);
	}
	return fd;
}

/* absent_in: the directory holding dest when it exists and holds nothing
 * by dest's name, not even a dangling link (-1 otherwise). */
static int absent_in(struct root *r, const char *dest)
{
	char dir[PATH_MAX];
	struct stat st;
	struct cerr e;
	int fd;

	path_dir(dest, dir, sizeof(dir));
	if ((fd = open_in_root(&e, r->fd, dir)) < 0)
		return -1;
	if (!isdir_fd(fd) || !(fstatat(fd, path_base(dest), &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* resolve finds dest (clean, absolute) inside the root, creating it as k
 * says when missing; links, dangling ones included, lead inside the root. */
static int resolve(struct cerr *e, struct root *r, const char *dest, int k, struct target *t)
{
	char create[PATH_MAX], dir[PATH_MAX];
	int fd, parent, rc = 0;

	t->parent = t->fd = -1;
	if (!strcmp(dest, "/"))
		return ferr(e, 0, "rootfs: destination is the root itself");
	fd = open_in_root(e, r->fd, dest);
	if (fd >= 0)
		return target_of(e, r, dest, fd, t);
	if (e->no != ENOENT || k == KIND_NONE)
		return -1;
	snprintf(create, sizeof(create), "%s", dest);
	parent = absent_in(r, dest);
	if (parent < 0) {
		char joined[PATH_MAX];
		const char *rel;

		if (!secure_join(r->path, dest, joined, sizeof(joined)) && (rel = strip_root(r, joined)))
			snprintf(create, sizeof(create), "/%s", rel);
		path_dir(create, dir, sizeof(dir));
		if ((parent = mkdir_all(e, r, dir)) < 0)
			return -1;
	}
	if (k == KIND_DIR) {
		rc = mkdirat(parent, path_base(create), 0755);
	} else {
		int nfd = openat(parent, path_base(create), O_CREAT | O_EXCL | O_NOFOLLOW | O_RDONLY | O_CLOEXEC, 0644);

		if (nfd >= 0)
			close(nfd);
		rc = nfd < 0 ? -1 : 0;
	}
	if (rc < 0 && errno != EEXIST) {
		int no = errno;

		close(parent);
		return perr(e, "create", dest, no);
	}
	close(parent);
	/* Again: something that appeared meanwhile is followed inside the root. */
	if ((fd = open_in_root(e, r->fd, dest)) < 0)
		return -1;
	if (target_of(e, r, dest, fd, t) < 0)
		return -1;
	t->created = 1;
	return 0;
}

/* ---- mounts (mount_linux.go) ---- */

struct setup {
	struct ocikit_rootfs *p;
	struct root r;
	const char *const *cgkeys, *const *cgdirs;
	int ncg;
	int cgroupns;
	int procfs;
};

/* mount_err is mountErr: "mount SRC on DEST: [step: ]reason". */
static int mount_err(struct cerr *e, const struct rmount *m, const char *step)
{
	char inner[sizeof(e->msg)];
	const char *src = *m->source ? m->source : *m->type ? m->type : "none";

	snprintf(inner, sizeof(inner), "%s", e->bare ? e->inner : e->msg);
	snprintf(e->msg, sizeof(e->msg), "mount %s on %s: %s%s%s", src, m->dest, step, *step ? ": " : "", inner);
	e->bare = 0;
	return -1;
}

static const char *proc_allowed[] = {
	"/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat",	"/proc/swaps",
	"/proc/uptime",	 "/proc/loadavg",   "/proc/slabinfo", "/proc/net/dev", "/proc/sys/kernel/ns_last_pid",
};

/* check_proc_dest refuses a mount over /proc or in it unless procfs or one
 * runc allows (CVE-2019-16884), and a proc mount through a link
 * (CVE-2019-19921); on the resolved path. */
static int check_proc_dest(struct cerr *e, const struct rmount *m, const struct target *t)
{
	struct statfs st;
	int onproc = 0;
	size_t i;

	if (!strcmp(m->type, "proc") && strcmp(m->dest, t->real))
		return ferr(e, 0, "proc mount destination %s goes through a symbolic link (to %s)", m->rawdest, t->real);
	if (t->parent >= 0)
		onproc = fstatfs(t->parent, &st) == 0 && st.f_type == PROC_SUPER_MAGIC;
	if (!onproc && strcmp(t->real, "/proc") && strncmp(t->real, "/proc/", 6))
		return 0;
	for (i = 0; i < N(proc_allowed); i++)
		if (!strcmp(t->real, proc_allowed[i]))
			return 0;
	if (!strncmp(t->real, "/proc/pressure/", 15) || !strcmp(m->type, "proc"))
		return 0;
	if (isbind(m) && statfs(m->source, &st) == 0 && st.f_type == PROC_SUPER_MAGIC)
		return 0;
	return ferr(e, 0, "destination %s is inside /proc and the source is not a procfs", t->real);
}

static int resolve_mount(struct cerr *e, struct setup *s, const struct rmount *m, int k, struct target *t)
{
	if (resolve(e, &s->r, m->dest, k, t) < 0)
		return -1;
	if (check_proc_dest(e, m, t) < 0) {
		target_close(t);
		return -1;
	}
	return 0;
}

/* finish_mount: the propagation options, then the r* attributes. */
static int finish_mount(struct cerr *e, const struct rmount *m, int top)
{
	char fp[64];
	int i;

	fdpath(top, fp, sizeof(fp));
	for (i = 0; i < m->nprop; i++)
		if (xmount(e, "", fp, "", m->prop[i], "", m->dest) < 0)
			return mount_err(e, m, "set propagation");
	if (m->rec.set || m->rec.clr) {
		struct cr_attr a = m->rec;

		if (mount_setattr_(top, AT_RECURSIVE, &a) < 0) {
			perr(e, "mount_setattr", m->dest, errno);
			return mount_err(e, m, "set recursive attributes");
		}
	}
	return 0;
}

static void source_path(struct setup *s, const struct rmount *m, char *out, size_t size)
{
	char buf[PATH_MAX * 2];

	if (m->source[0] == '/') {
		snprintf(out, size, "%s", m->source);
		return;
	}
	snprintf(buf, sizeof(buf), "%s/%s", s->p->bundle, m->source);
	path_clean(buf, out, size);
}

/* mount_bind binds the source on the destination, then gives it exactly
 * the flags its options name. */
static int mount_bind(struct cerr *e, struct setup *s, const struct rmount *m)
{
	char src[PATH_MAX], fp[64];
	struct target t;
	struct stat st;
	int top, rc;

	source_path(s, m, src, sizeof(src));
	if (stat(src, &st) < 0) {
		perr(e, "stat", src, errno);
		return mount_err(e, m, "");
	}
	if (resolve_mount(e, s, m, S_ISDIR(st.st_mode) ? KIND_DIR : KIND_FILE, &t) < 0)
		return mount_err(e, m, "");
	fdpath(t.fd, fp, sizeof(fp));
	if (xmount(e, src, fp, "", MS_BIND | (m->flags & MS_REC), "", t.name) < 0) {
		target_close(&t);
		return mount_err(e, m, "");
	}
	top = target_top(e, &t);
	target_close(&t);
	if (top < 0)
		return mount_err(e, m, "");
	fdpath(top, fp, sizeof(fp));
	rc = 0;
	if ((m->flags & BIND_REMOUNT_FLAGS) || (m->clear & BIND_REMOUNT_FLAGS)) {
		if (set_bind_flags(e, fp, m->flags & BIND_REMOUNT_FLAGS, m->clear & BIND_REMOUNT_FLAGS, m->dest) < 0)
			rc = mount_err(e, m, "remount");
	}
	if (!rc)
		rc = finish_mount(e, m, top);
	close(top);
	return rc;
}

/* keep_dir_mode: a tmpfs over an existing directory gets its mode, unless
 * the options say mode= (as runc). */
static int keep_dir_mode(struct cerr *e, int fd, const char *name, const char *data, char *out, size_t size)
{
	const char *s = data;
	struct stat st;

	while (*s) {
		if (!strncmp(s, "mode=", 5))
			goto keep;
		s = strchr(s, ',');
		if (!s)
			break;
		s++;
	}
	if (fstat(fd, &st) < 0)
		return perr(e, "stat", name, errno);
	if (!S_ISDIR(st.st_mode))
		goto keep;
	snprintf(out, size, "mode=%04o%s%s", (unsigned)(st.st_mode & 07777), *data ? "," : "", data);
	return 0;
keep:
	snprintf(out, size, "%s", data);
	return 0;
}

/* mount_fs mounts a filesystem (tmpfs, sysfs, devpts, mqueue, ...). */
static int mount_fs(struct cerr *e, struct setup *s, const struct rmount *m)
{
	char fp[64], data[4096];
	struct target t;
	unsigned long flags = m->flags;
	int top, rc;

	if (resolve_mount(e, s, m, KIND_DIR, &t) < 0)
		return mount_err(e, m, "");
	if (dev_ro_later(m))
		flags &= ~(unsigned long)MS_RDONLY;
	snprintf(data, sizeof(data), "%s", m->data);
	if (!strcmp(m->type, "tmpfs") && !t.created && keep_dir_mode(e, t.fd, t.name, m->data, data, sizeof(data)) < 0) {
		target_close(&t);
		return mount_err(e, m, "");
	}
	fdpath(t.fd, fp, sizeof(fp));
	if (xmount(e, *m->source ? m->source : m->type, fp, m->type, flags, data, t.name) < 0) {
		target_close(&t);
		return mount_err(e, m, "");
	}
	top = target_top(e, &t);
	target_close(&t);
	if (top < 0)
		return mount_err(e, m, "");
	rc = finish_mount(e, m, top);
	close(top);
	return rc;
}

/* mount_attrs: MOUNT_ATTR_* for fsmount(2) from MS_* flags. */
static unsigned mount_attrs(unsigned long flags)
{
	unsigned a = 0;

	a |= flags & MS_RDONLY ? MOUNT_ATTR_RDONLY : 0;
	a |= flags & MS_NOSUID ? MOUNT_ATTR_NOSUID : 0;
	a |= flags & MS_NODEV ? MOUNT_ATTR_NODEV : 0;
	a |= flags & MS_NOEXEC ? MOUNT_ATTR_NOEXEC : 0;
	a |= flags & MS_NOATIME ? MOUNT_ATTR_NOATIME : 0;
	a |= flags & MS_STRICTATIME ? MOUNT_ATTR_STRICTATIME : 0;
	a |= flags & MS_NODIRATIME ? MOUNT_ATTR_NODIRATIME : 0;
	return a;
}

/* mount_proc mounts the procfs of the init's context (a procfs shows the
 * pid namespace of whoever opened the context): options to fsconfig,
 * flags to fsmount, the detached mount moved onto the handle. */
static int mount_proc(struct cerr *e, struct setup *s, const struct rmount *m)
{
	struct target t;
	char data[4096], *kv, *save = NULL;
	int fs = s->procfs, mfd, top, rc;

	if (resolve_mount(e, s, m, KIND_DIR, &t) < 0)
		return mount_err(e, m, "");
	s->procfs = -1; /* used once */
	if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "source", *m->source ? m->source : m->type, 0) < 0) {
		perr(e, "fsconfig source", t.name, errno);
		goto fail;
	}
	snprintf(data, sizeof(data), "%s", m->data);
	for (kv = strtok_r(data, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *v = strchr(kv, '=');
		char op[512];
		long r;

		if (v) {
			*v++ = 0;
			r = syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, kv, v, 0);
		} else {
			r = syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, kv, NULL, 0);
		}
		if (r < 0) {
			snprintf(op, sizeof(op), "fsconfig %s", kv);
			perr(e, op, t.name, errno);
			goto fail;
		}
	}
	if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		perr(e, "fsconfig", t.name, errno);
		goto fail;
	}
	if ((mfd = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, mount_attrs(m->flags))) < 0) {
		perr(e, "fsmount", t.name, errno);
		goto fail;
	}
	rc = move_mount_(mfd, t.fd);
	if (rc < 0)
		perr(e, "move_mount", t.name, errno);
	close(mfd);
	if (rc < 0)
		goto fail;
	top = target_top(e, &t);
	target_close(&t);
	if (top < 0)
		return mount_err(e, m, "");
	rc = finish_mount(e, m, top);
	close(top);
	return rc;
fail:
	target_close(&t);
	return mount_err(e, m, "");
}

/* ---- cgroup mounts (cgroup_linux.go) ---- */

#define CGROUP_ROOT "/sys/fs/cgroup"
#define MAXHIER 64
#define MAXCTRL 16

struct hier {
	char mountpoint[PATH_MAX];
	char *ctrl[MAXCTRL];
	int nctrl;
	char opts[512]; /* ctrl points into it */
};

/* mountinfo_unescape undoes the octal escapes of a mountinfo field. */
static void mountinfo_unescape(char *s)
{
	char *o = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = 0;
}

/* mountinfo_line splits one line of mountinfo: the mount point, the
 * optional fields, the type and the super options (pointers into line). */
static int mountinfo_line(char *line, char **mp, char **optional, char **fstype, char **superopts)
{
	char *f[6], *save = NULL, *tok, *sep;
	int i;

	line[strcspn(line, "\n")] = 0;
	sep = strstr(line, " - ");
	if (!sep)
		return -1;
	*sep = 0;
	for (i = 0; i < 6; i++) {
		tok = strtok_r(i ? NULL : line, " ", &save);
		if (!tok)
			return -1;
		f[i] = tok;
	}
	*mp = f[4];
	/* f[5] is the mount options; the optional fields follow up to " - ". */
	*optional = save ? save : (char *)"";
	mountinfo_unescape(*mp);
	save = NULL;
	*fstype = strtok_r(sep + 3, " ", &save);
	if (!*fstype || !strtok_r(NULL, " ", &save)) /* source */
		return -1;
	*superopts = strtok_r(NULL, " ", &save);
	if (!*superopts)
		*superopts = (char *)"";
	return 0;
}

/* hierarchies: the cgroup filesystems mounted right under /sys/fs/cgroup
 * in this mount namespace, in mountinfo's order (Hierarchies). */
static int hierarchies(struct cerr *e, struct hier **out, int *n)
{
	FILE *f = fopen("/proc/thread-self/mountinfo", "re");
	char *line = NULL, *mp, *optional, *fstype, *so, dir[PATH_MAX];
	size_t cap = 0;
	struct hier *hs;
	int i;

	*n = 0;
	if (!f)
		return perr(e, "open", "/proc/thread-self/mountinfo", errno);
	hs = calloc(MAXHIER, sizeof(*hs));
	if (!hs)
		abort();
	while (getline(&line, &cap, f) > 0 && *n < MAXHIER) {
		int seen = 0;
		char *save = NULL, *o;
		struct hier *h;

		if (mountinfo_line(line, &mp, &optional, &fstype, &so) < 0)
			continue;
		if (strcmp(fstype, "cgroup") && strcmp(fstype, "cgroup2"))
			continue;
		path_dir(mp, dir, sizeof(dir));
		if (strcmp(dir, CGROUP_ROOT))
			continue;
		for (i = 0; i < *n; i++)
			seen |= !strcmp(hs[i].mountpoint, mp);
		if (seen)
			continue;
		h = &hs[(*n)++];
		snprintf(h->mountpoint, sizeof(h->mountpoint), "%s", mp);
		if (strcmp(fstype, "cgroup"))
			continue;
		snprintf(h->opts, sizeof(h->opts), "%s", so);
		for (o = strtok_r(h->opts, ",", &save); o && h->nctrl < MAXCTRL; o = strtok_r(NULL, ",", &save)) {
			if (!strcmp(o, "rw") || !strcmp(o, "ro") || !strncmp(o, "release_agent=", 14) ||
			    !strcmp(o, "clone_children") || !strcmp(o, "xattr") || !strcmp(o, "noprefix") ||
			    !strcmp(o, "cpuset_v2_mode"))
				continue;
			h->ctrl[h->nctrl++] = o;
		}
	}
	free(line);
	fclose(f);
	*out = hs;
	return 0;
}

static const char *cgpath(struct setup *s, const char *key)
{
	int i;

	for (i = 0; i < s->ncg; i++)
		if (s->cgkeys[i] && s->cgdirs[i] && !strcmp(s->cgkeys[i], key))
			return s->cgdirs[i];
	return "";
}

/* hier_dir is Hierarchy.Dir: the container's directory in h, or "". */
static const char *hier_dir(struct setup *s, const struct hier *h)
{
	int i;

	if (!h->nctrl)
		return cgpath(s, "");
	for (i = 0; i < h->nctrl; i++)
		if (*cgpath(s, h->ctrl[i]))
			return cgpath(s, h->ctrl[i]);
	return "";
}

/* cgroup_links: cpu -> cpu,cpuacct for a co-mounted hierarchy, as on the host. */
static int cgroup_links(struct cerr *e, int dir, const char *name, const struct hier *h)
{
	int i;

	if (h->nctrl < 2)
		return 0;
	for (i = 0; i < h->nctrl; i++) {
		if (!strcmp(h->ctrl[i], name) || !strncmp(h->ctrl[i], "name=", 5))
			continue;
		if (symlinkat(name, dir, h->ctrl[i]) < 0 && errno != EEXIST)
			return perr(e, "symlink", h->ctrl[i], errno);
	}
	return 0;
}

/* bind_cgroup_dir binds dir on NAME, made in the new tmpfs top; anything
 * already there by that name goes the general way (mount_bind). */
static int bind_cgroup_dir(struct cerr *e, struct setup *s, int top, const char *name, const char *dir, const char *dest,
			   const struct rmount *o)
{
	struct rmount b = *o;
	struct target t;
	char fp[64];
	int fd, mt, rc;

	b.source = (char *)dir;
	b.dest = b.rawdest = (char *)dest;
	b.type = (char *)"bind";
	if (!*name || !strcmp(name, ".") || !strcmp(name, "..") || strchr(name, '/'))
		return mount_bind(e, s, &b);
	if (mkdirat(top, name, 0755) < 0) {
		if (errno == EEXIST)
			return mount_bind(e, s, &b);
		perr(e, "mkdir", dest, errno);
		return mount_err(e, &b, "");
	}
	fd = openat(top, name, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		perr(e, "open", dest, errno);
		return mount_err(e, &b, "");
	}
	fdpath(fd, fp, sizeof(fp));
	if (xmount(e, dir, fp, "", MS_BIND | (b.flags & MS_REC), "", dest) < 0) {
		close(fd);
		return mount_err(e, &b, "");
	}
	t.name = dest;
	t.parent = top;
	snprintf(t.base, sizeof(t.base), "%s", name);
	t.fd = fd;
	mt = target_top(e, &t);
	close(fd);
	if (mt < 0)
		return mount_err(e, &b, "");
	fdpath(mt, fp, sizeof(fp));
	rc = 0;
	if ((b.flags & BIND_REMOUNT_FLAGS) || (b.clear & BIND_REMOUNT_FLAGS)) {
		if (set_bind_flags(e, fp, b.flags & BIND_REMOUNT_FLAGS, b.clear & BIND_REMOUNT_FLAGS, dest) < 0)
			rc = mount_err(e, &b, "remount");
	}
	if (!rc)
		rc = finish_mount(e, &b, mt);
	close(mt);
	return rc;
}

/* mount_cgroup1: a tmpfs holding a bind of the container's cgroup in
 * every hierarchy, as runc does; "ro" applies to all of it. */
static int mount_cgroup1(struct cerr *e, struct setup *s, const struct rmount *m)
{
	struct hier *hs = NULL;
	struct target t;
	struct rmount bo;
	char fp[64];
	unsigned long tflags;
	int nh, i, top, rc = -1;

	if (hierarchies(e, &hs, &nh) < 0)
		return mount_err(e, m, "");
	if (resolve_mount(e, s, m, KIND_DIR, &t) < 0) {
		free(hs);
		return mount_err(e, m, "");
	}
	tflags = MS_NOSUID | MS_NODEV | MS_NOEXEC | (m->flags & ~(unsigned long)(MS_RDONLY | MS_REMOUNT));
	fdpath(t.fd, fp, sizeof(fp));
	if (xmount(e, "tmpfs", fp, "tmpfs", tflags, "mode=755", t.name) < 0) {
		target_close(&t);
		free(hs);
		return mount_err(e, m, "");
	}
	top = target_top(e, &t);
	target_close(&t);
	if (top < 0) {
		free(hs);
		return mount_err(e, m, "");
	}
	memset(&bo, 0, sizeof(bo));
	bo.flags = MS_BIND | MS_REC | (m->flags & BIND_REMOUNT_FLAGS);
	bo.clear = m->clear & BIND_REMOUNT_FLAGS;
	bo.data = (char *)"";
	for (i = 0; i < nh; i++) {
		const char *name = path_base(hs[i].mountpoint), *dir = hier_dir(s, &hs[i]);
		char dest[PATH_MAX * 2];

		if (!*dir)
			continue;
		snprintf(dest, sizeof(dest), "%s/%s", m->dest, name);
		path_clean(dest, dest, sizeof(dest));
		if (bind_cgroup_dir(e, s, top, name, dir, dest, &bo) < 0)
			goto out;
		if (cgroup_links(e, top, name, &hs[i]) < 0) {
			mount_err(e, m, "");
			goto out;
		}
	}
	if (m->flags & MS_RDONLY) {
		fdpath(top, fp, sizeof(fp));
		if (xmount(e, "", fp, "", MS_REMOUNT | MS_RDONLY | tflags, "mode=755", t.name) < 0) {
			mount_err(e, m, "remount read-only");
			goto out;
		}
	}
	rc = finish_mount(e, m, top);
out:
	close(top);
	free(hs);
	return rc;
}

/* mount_cgroup2: on a cgroup v2 host a cgroup2 filesystem (own cgroup
 * namespace) or a bind of the container's cgroup. */
static int mount_cgroup2(struct cerr *e, struct setup *s, const struct rmount *m)
{
	const char *dir = "";
	struct rmount b;

	if (!s->cgroupns)
		dir = cgpath(s, "");
	if (!*dir) {
		struct rmount fs = *m;

		fs.type = fs.source = (char *)"cgroup2";
		if (!mount_fs(e, s, &fs))
			return 0;
		if (e->no != EPERM && e->no != EBUSY)
			return -1;
		/* Not the owner of the cgroup namespace: bind the cgroup. */
		dir = cgpath(s, "");
		if (!*dir)
			return -1;
	}
	b = *m;
	b.source = (char *)dir;
	b.type = (char *)"bind";
	b.flags |= MS_BIND | MS_REC;
	return mount_bind(e, s, &b);
}

static int mount_cgroup(struct cerr *e, struct setup *s, const struct rmount *m)
{
	struct statfs st;

	if (s->p->cgwait) {
		int (*wait)(void *) = s->p->cgwait;
		s->p->cgwait = NULL;
		if (wait(s->p->cgarg) < 0) {
			snprintf(e->msg, sizeof(e->msg), "the container's cgroup was not created");
			e->bare = 0;
			return -1;
		}
	}

	if (statfs(CGROUP_ROOT, &st) < 0) {
		perr(e, "statfs", CGROUP_ROOT, errno);
		return mount_err(e, m, "");
	}
	if (st.f_type == CGROUP2_SUPER_MAGIC)
		return mount_cgroup2(e, s, m);
	return mount_cgroup1(e, s, m);
}

static int mount_one(struct cerr *e, struct setup *s, const struct rmount *m)
{
	if (isbind(m))
		return mount_bind(e, s, m);
	if (!strcmp(m->type, "cgroup") || !strcmp(m->type, "cgroup2"))
		return mount_cgroup(e, s, m);
	if (!strcmp(m->type, "proc") && s->procfs >= 0)
		return mount_proc(e, s, m);
	return mount_fs(e, s, m);
}

/* ---- devices (devices_linux.go) ---- */

/* bind_device binds the host's node of the device's path onto an empty
 * file, where mknod is refused. */
static int bind_device(struct cerr *e, int parent, const char *base, const char *dest, int exists)
{
	struct stat st;
	char fp[64];
	int fd;

	if (stat(dest, &st) < 0) {
		perr(e, "stat", dest, errno);
		return wrap(e, "device %s: cannot create it in a user namespace and the host has none to bind", dest);
	}
	if (!exists) {
		fd = openat(parent, base, O_CREAT | O_EXCL | O_NOFOLLOW | O_RDONLY | O_CLOEXEC, 0644);
		if (fd < 0) {
			perr(e, "create", dest, errno);
			return wrap(e, "device %s", dest);
		}
		close(fd);
	}
	fd = openat(parent, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		perr(e, "open", dest, errno);
		return wrap(e, "device %s", dest);
	}
	fdpath(fd, fp, sizeof(fp));
	if (xmount(e, dest, fp, "", MS_BIND, "", dest) < 0) {
		close(fd);
		return wrap(e, "device %s", dest);
	}
	close(fd);
	return 0;
}

static int create_device(struct cerr *e, struct setup *s, const struct rdevice *d, int *bind)
{
	char dir[PATH_MAX];
	const char *base = path_base(d->path);
	struct stat st;
	int pfd, exists, matches, rc = 0;

	path_dir(d->path, dir, sizeof(dir));
	if ((pfd = mkdir_all(e, &s->r, dir)) < 0)
		return wrap(e, "device %s", d->path);
	exists = fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0;
	matches = exists && (st.st_mode & S_IFMT) == d->type && (d->type == S_IFIFO || st.st_rdev == d->rdev);
	if (exists && !matches && !(*bind && S_ISREG(st.st_mode) && st.st_size == 0)) {
		close(pfd);
		return ferr(e, 0, "device %s: a file that is not this device exists there", d->path);
	}
	if (!exists && !*bind) {
		if (mknodat(pfd, base, d->type | d->perm, d->rdev) < 0) {
			if (errno == EPERM && d->type != S_IFIFO) {
				*bind = 1;
			} else {
				perr(e, "mknod", d->path, errno);
				close(pfd);
				return wrap(e, "device %s", d->path);
			}
		} else {
			exists = matches = 1;
		}
	}
	if (!matches) {
		rc = bind_device(e, pfd, base, d->path, exists);
		close(pfd);
		return rc;
	}
	if (fchownat(pfd, base, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0) {
		perr(e, "chown", d->path, errno);
		rc = wrap(e, "device %s", d->path);
	} else if (fchmodat(pfd, base, d->perm, 0) < 0) { /* mknod applied the umask */
		perr(e, "chmod", d->path, errno);
		rc = wrap(e, "device %s", d->path);
	}
	close(pfd);
	return rc;
}

static int proc_mounted(struct setup *s)
{
	struct statfs st;
	struct cerr e;
	int fd = open_in_root(&e, s->r.fd, "/proc"), ok;

	if (fd < 0)
		return 0;
	ok = fstatfs(fd, &st) == 0 && st.f_type == PROC_SUPER_MAGIC;
	close(fd);
	return ok;
}

/* dev_symlinks: /dev/ptmx -> pts/ptmx (the container's devpts) and the
 * links of runtime-linux.md when /proc is a procfs. */
static int dev_symlinks(struct cerr *e, struct setup *s)
{
	static const char *links[][2] = {
		{"/proc/self/fd", "fd"},
		{"/proc/self/fd/0", "stdin"},
		{"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"},
	};
	int dfd = mkdir_all(e, &s->r, "/dev"), rc = 0;
	size_t i;

	if (dfd < 0)
		return wrap(e, "open /dev");
	if (unlinkat(dfd, "ptmx", 0) < 0 && errno != ENOENT)
		rc = perr(e, "remove", "/dev/ptmx", errno);
	else if (symlinkat("pts/ptmx", dfd, "ptmx") < 0)
		rc = perr(e, "symlink", "/dev/ptmx", errno);
	else if (proc_mounted(s))
		for (i = 0; i < N(links) && !rc; i++) {
			char name[64];

			snprintf(name, sizeof(name), "/dev/%s", links[i][1]);
			if (symlinkat(links[i][0], dfd, links[i][1]) < 0 && errno != EEXIST)
				rc = perr(e, "symlink", name, errno);
		}
	close(dfd);
	return rc;
}

static int devices(struct cerr *e, struct setup *s)
{
	static const struct {
		const char *path;
		unsigned major, minor;
	} defaults[] = {
		{"/dev/null", 1, 3},	{"/dev/zero", 1, 5},	{"/dev/full", 1, 7},
		{"/dev/random", 1, 8},	{"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},
	};
	struct ocikit_rootfs *p = s->p;
	int bind = 0, i, j;
	size_t k;

	if (p->ourdev) {
		for (k = 0; k < N(defaults); k++) {
			struct rdevice d = {(char *)defaults[k].path, S_IFCHR, 0666,
					    makedev(defaults[k].major, defaults[k].minor), 0, 0};
			int have = 0;

			for (j = 0; j < p->ndevs; j++)
				have |= !strcmp(p->devs[j].path, d.path);
			if (!have && create_device(e, s, &d, &bind) < 0)
				return -1;
		}
		if (dev_symlinks(e, s) < 0)
			return -1;
	}
	for (i = 0; i < p->ndevs; i++) {
		if (p->ourdev && !strcmp(p->devs[i].path, "/dev/ptmx"))
			continue; /* the link to the container's devpts */
		if (create_device(e, s, &p->devs[i], &bind) < 0)
			return -1;
	}
	return 0;
}

/* ---- Prepare ---- */

/* private_parent makes the mount holding p private (not recursively):
 * pivot_root refuses shared parents. */
static int private_parent(struct cerr *e, const char *p)
{
	FILE *f = fopen("/proc/thread-self/mountinfo", "re");
	char *line = NULL, *mp, *optional, *fstype, *so, best[PATH_MAX] = "";
	size_t cap = 0;
	int found = 0, shared = 0;

	if (!f) {
		perr(e, "open", "/proc/thread-self/mountinfo", errno);
		return wrap(e, "find the mount of %s", p);
	}
	while (getline(&line, &cap, f) > 0) {
		if (mountinfo_line(line, &mp, &optional, &fstype, &so) < 0)
			continue;
		/* mountinfo.ParentsFilter: a plain prefix of p. */
		if (strncmp(p, mp, strlen(mp)))
			continue;
		if (!found || strlen(mp) >= strlen(best)) {
			snprintf(best, sizeof(best), "%s", mp);
			shared = strstr(optional, "shared:") != NULL;
			found = 1;
		}
	}
	free(line);
	fclose(f);
	if (!found || !shared)
		return 0;
	if (xmount(e, "", best, "", MS_PRIVATE, "", best) < 0)
		return wrap(e, "make the mount of the root private");
	return 0;
}

static int prepare(struct cerr *e, struct setup *s)
{
	struct ocikit_rootfs *p = s->p;
	char buf[PATH_MAX * 2];
	struct stat st;
	int i;

	if (p->rootpath[0] == '/')
		snprintf(buf, sizeof(buf), "%s", p->rootpath);
	else
		snprintf(buf, sizeof(buf), "%s/%s", p->bundle, p->rootpath);
	if (!realpath(buf, s->r.path)) {
		perr(e, "lstat", buf, errno);
		return wrap(e, "root.path %s", p->rootpath);
	}
	if (stat(s->r.path, &st) < 0) {
		perr(e, "stat", s->r.path, errno);
		return wrap(e, "root.path %s", p->rootpath);
	}
	if (!S_ISDIR(st.st_mode))
		return ferr(e, 0, "root.path %s: not a directory", p->rootpath);
	if (xmount(e, "", "/", "", p->before, "", "/") < 0)
		return wrap(e, "set propagation of /");
	if (p->before & MS_SHARED)
		if (private_parent(e, s->r.path) < 0 || private_parent(e, "/") < 0)
			return -1;
	/* pivot_root needs the new root to be a mount point. */
	if (xmount(e, s->r.path, s->r.path, "", MS_BIND | MS_REC, "", s->r.path) < 0)
		return wrap(e, "bind root %s", s->r.path);
	if ((s->r.fd = open(s->r.path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		perr(e, "open", s->r.path, errno);
		return wrap(e, "open root");
	}
	for (i = 0; i < p->nmounts; i++)
		if (mount_one(e, s, &p->mounts[i]) < 0)
			return -1;
	if (devices(e, s) < 0)
		return -1;
	if (chdir(s->r.path) < 0)
		return perr(e, "chdir", s->r.path, errno);
	return 0;
}

int ocikit_rootfs_prepare(struct ocikit_rootfs *p, const char *const *cgkeys, const char *const *cgdirs, int ncg,
			  int cgroupns, int procfs, char *msg, size_t msglen)
{
	struct setup s = {.p = p, .cgkeys = cgkeys, .cgdirs = cgdirs, .ncg = ncg, .procfs = procfs};
	struct cerr e = {0};
	int rc;

	/* Go reads it from the config (ownCgroupNS); the caller knows too. */
	s.cgroupns = p->cgroupns || cgroupns;
	s.r.fd = -1;
	rc = prepare(&e, &s);
	if (s.r.fd >= 0)
		close(s.r.fd);
	if (rc < 0)
		snprintf(msg, msglen, "prepare rootfs: %s", e.msg);
	return rc < 0 ? -1 : 0;
}

/* ---- Finish (finish_linux.go, mask_linux.go) ---- */

/* pivot_here: pivot_root(".", "."), the old root detached from on top. */
static int pivot_here(struct cerr *e)
{
	int old = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC), rc = 0;

	if (old < 0)
		return perr(e, "open", "/", errno);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		rc = perr(e, "pivot_root", ".", errno);
	else if (fchdir(old) < 0)
		rc = perr(e, "fchdir", "old root", errno);
	/* An unmount must not propagate to the host through a shared mount. */
	else if (xmount(e, "", ".", "", MS_SLAVE | MS_REC, "", "old root") < 0)
		rc = -1;
	else if (umount2(".", MNT_DETACH) < 0)
		rc = perr(e, "umount", "old root", errno);
	else if (chdir("/") < 0)
		rc = perr(e, "chdir", "/", errno);
	close(old);
	return rc;
}

static int bylen_desc(const void *a, const void *b)
{
	size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);

	return la < lb ? 1 : la > lb ? -1 : 0;
}

/* move_root is --no-pivot: every mount outside the root detached (or
 * hidden), the root moved onto "/", chroot. */
static int move_root(struct cerr *e)
{
	char cwd[PATH_MAX], *line = NULL, *mp, *optional, *fstype, *so, **mps = NULL;
	size_t cap = 0, n = 0, i, cl;
	FILE *f;
	int rc = 0;

	if (!getcwd(cwd, sizeof(cwd)))
		return perr(e, "getcwd", ".", errno);
	cl = strlen(cwd);
	if (!(f = fopen("/proc/thread-self/mountinfo", "re"))) {
		perr(e, "open", "/proc/thread-self/mountinfo", errno);
		return wrap(e, "no-pivot");
	}
	while (getline(&line, &cap, f) > 0) {
		if (mountinfo_line(line, &mp, &optional, &fstype, &so) < 0)
			continue;
		mps = realloc(mps, (n + 1) * sizeof(*mps));
		if (!mps)
			abort();
		mps[n++] = xstrdup(mp);
	}
	free(line);
	fclose(f);
	qsort(mps, n, sizeof(*mps), bylen_desc);
	for (i = 0; i < n && !rc; i++) {
		const char *q = mps[i];
		size_t ql = strlen(q);

		if (!strcmp(q, "/") || !strcmp(q, cwd) || (!strncmp(q, cwd, cl) && q[cl] == '/') ||
		    (!strncmp(cwd, q, ql) && cwd[ql] == '/'))
			continue;
		if (umount2(q, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
			/* A locked mount cannot go: hide it. */
			if (xmount(e, "tmpfs", q, "tmpfs", MS_RDONLY, "size=0", q) < 0)
				rc = wrap(e, "no-pivot: hide %s", q);
	}
	for (i = 0; i < n; i++)
		free(mps[i]);
	free(mps);
	if (rc)
		return rc;
	if (xmount(e, cwd, "/", "", MS_MOVE, "", "/") < 0)
		return wrap(e, "no-pivot: move root");
	if (chroot(".") < 0)
		return perr(e, "chroot", cwd, errno);
	if (chdir("/") < 0)
		return perr(e, "chdir", "/", errno);
	return 0;
}

/* open_nosymlinks opens p below dir refusing links in every component. */
static int open_nosymlinks(struct cerr *e, int dir, const char *raw)
{
	char p[PATH_MAX], buf[PATH_MAX];
	struct stat st;
	int fd;

	snprintf(buf, sizeof(buf), "/%s", raw);
	path_clean(buf, p, sizeof(p));
	fd = openat2_(dir, p, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
	if (fd < 0 && errno == ELOOP)
		return perr_text(e, "open", p, "is or passes through a symbolic link", ELOOP);
	if (fd < 0)
		return perr(e, "openat2", p, errno);
	if (fstat(fd, &st) < 0 || S_ISLNK(st.st_mode)) {
		close(fd);
		return perr_text(e, "open", p, "is or passes through a symbolic link", ELOOP);
	}
	return fd;
}

/* bind_handle binds what src holds onto what dst holds (open_tree,
 * move_mount), attr on the new mount alone. */
static int bind_handle(struct cerr *e, int src, int dst, int rec, uint64_t attr, const char *name)
{
	int tree = (int)syscall(SYS_open_tree, src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | (rec ? AT_RECURSIVE : 0));
	int rc = 0;

	if (tree < 0)
		return perr(e, "open_tree", name, errno);
	if (attr) {
		struct cr_attr a = {.set = attr};

		if (mount_setattr_(tree, 0, &a) < 0)
			rc = perr(e, "mount_setattr", name, errno);
	}
	if (!rc && move_mount_(tree, dst) < 0)
		rc = perr(e, "move_mount", name, errno);
	close(tree);
	return rc;
}

/* tmpfs_handle: an empty read-only tmpfs on the directory dst holds. */
static int tmpfs_handle(struct cerr *e, int dst, const char *name)
{
	int fs = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC), mfd, rc = 0;

	if (fs < 0)
		return perr(e, "fsopen", name, errno);
	if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		rc = perr(e, "fsconfig", name, errno);
	} else if ((mfd = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC,
					MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC)) < 0) {
		rc = perr(e, "fsmount", name, errno);
	} else {
		if (move_mount_(mfd, dst) < 0)
			rc = perr(e, "move_mount", name, errno);
		close(mfd);
	}
	close(fs);
	return rc;
}

/* mask_path: /dev/null over a file, an empty read-only tmpfs over a
 * directory; missing is nothing to mask, a link is refused. */
static int mask_path(struct cerr *e, int root, const char *p)
{
	struct stat st;
	int dst = open_nosymlinks(e, root, p), null, rc;

	if (dst < 0)
		return e->no == ENOENT ? 0 : -1;
	if (fstat(dst, &st) < 0) {
		rc = perr(e, "stat", p, errno);
	} else if (S_ISDIR(st.st_mode)) {
		rc = tmpfs_handle(e, dst, p);
	} else if ((null = open_nosymlinks(e, root, "/dev/null")) < 0) {
		rc = -1;
	} else {
		/* The null device itself (1:3), not a link, a file or another device. */
		if (fstat(null, &st) < 0)
			rc = perr(e, "stat", "/dev/null", errno);
		else if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3)
			rc = perr_text(e, "mask with", "/dev/null", "not the null device (character device 1:3)", 0);
		else
			rc = bind_handle(e, null, dst, 0, 0, p);
		close(null);
	}
	close(dst);
	return rc;
}

static int readonly_path(struct cerr *e, int root, const char *p)
{
	int dst = open_nosymlinks(e, root, p), rc;

	if (dst < 0)
		return e->no == ENOENT ? 0 : -1;
	rc = bind_handle(e, dst, dst, 1, MOUNT_ATTR_RDONLY, p);
	close(dst);
	return rc;
}

static int finish(struct cerr *e, struct ocikit_rootfs *p, int nopivot)
{
	int i;

	if ((nopivot ? move_root(e) : pivot_here(e)) < 0)
		return -1;
	if (p->after && xmount(e, "", "/", "", p->after, "", "/") < 0)
		return wrap(e, "set rootfsPropagation");
	for (i = 0; i < p->nmounts; i++) {
		const struct rmount *m = &p->mounts[i];

		if (dev_ro_later(m) && xmount(e, "", "/dev", "", MS_REMOUNT | m->flags, m->data, "/dev") < 0)
			return mount_err(e, m, "remount read-only");
	}
	if (p->nmasked + p->nropaths > 0) {
		int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), rc = 0;

		if (root < 0) {
			perr(e, "open", "/", errno);
			return wrap(e, "open root");
		}
		for (i = 0; i < p->nmasked && !rc; i++)
			if (mask_path(e, root, p->masked[i]) < 0)
				rc = wrap(e, "masked path %s", p->masked[i]);
		for (i = 0; i < p->nropaths && !rc; i++)
			if (readonly_path(e, root, p->ropaths[i]) < 0)
				rc = wrap(e, "readonly path %s", p->ropaths[i]);
		close(root);
		if (rc)
			return rc;
	}
	if (p->readonly && remount_bind(e, "/", MS_RDONLY, 0, "/") < 0)
		return wrap(e, "read-only root");
	return 0;
}

/* bind_console is rootfs.BindConsole: the pty slave bound on the
 * /dev/console of the root filesystem in the working directory, reached
 * without links (made an empty file when missing), so that an image's
 * /dev/console link cannot put the terminal over another file
 * (CVE-2025-52565). */
static int bind_console(struct cerr *e, int slave)
{
	struct stat st;
	int root, dst, dev, fd, rc;

	if (fstat(slave, &st) < 0)
		return perr(e, "stat", "console", errno);
	if (!S_ISCHR(st.st_mode) || major(st.st_rdev) < 136 || major(st.st_rdev) > 143)
		return ferr(e, 0, "fd %d is not a pty", slave);
	if ((root = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		perr(e, "open", ".", errno);
		return wrap(e, "open root");
	}
	dst = open_nosymlinks(e, root, "/dev/console");
	if (dst < 0 && e->no == ENOENT) {
		if ((dev = open_nosymlinks(e, root, "/dev")) < 0) {
			close(root);
			return -1;
		}
		fd = openat(dev, "console", O_CREAT | O_EXCL | O_NOFOLLOW | O_RDONLY | O_CLOEXEC, 0644);
		if (fd < 0 && errno != EEXIST) {
			perr(e, "create", "/dev/console", errno);
			close(dev);
			close(root);
			return -1;
		}
		if (fd >= 0)
			close(fd);
		close(dev);
		dst = open_nosymlinks(e, root, "/dev/console");
	}
	close(root);
	if (dst < 0)
		return -1;
	if (fstat(dst, &st) < 0)
		rc = perr(e, "stat", "/dev/console", errno);
	else if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))
		rc = ferr(e, 0, "/dev/console is neither a file nor a character device");
	else
		rc = bind_handle(e, slave, dst, 0, 0, "/dev/console");
	close(dst);
	return rc;
}

int ocikit_rootfs_bind_console(int slave, char *msg, size_t msglen)
{
	struct cerr e = {0};

	if (bind_console(&e, slave) < 0) {
		snprintf(msg, msglen, "console: %s", e.msg);
		return -1;
	}
	return 0;
}

int ocikit_rootfs_finish(struct ocikit_rootfs *p, int nopivot, char *msg, size_t msglen)
{
	struct cerr e = {0};

	if (finish(&e, p, nopivot) < 0) {
		snprintf(msg, msglen, "finish rootfs: %s", e.msg);
		return -1;
	}
	return 0;
}

void ocikit_rootfs_cgroup_wait(struct ocikit_rootfs *p, int (*wait)(void *arg), void *arg)
{
	p->cgwait = wait;
	p->cgarg = arg;
}
