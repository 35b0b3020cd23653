//go:build linux && cgo

/* fastcreate.c: `ocikit create` in its common case without the Go
 * runtime.
 *
 * create is the command every container costs its caller, and the Go
 * command's own behaviour while it works (its scheduler's threads, its
 * memory: a cgo "hello" alone is ~1 MB of anonymous memory, crun's whole
 * create ~1.1 MB) is what kept it behind crun's (README "What remains of
 * the gap"). This path is Runtime.Create with the container init of
 * cinit_linux.go (launchC, cgroup v1 and hybrid hosts, where the init
 * joins its cgroup late) for the configurations it can do alone: root
 * in the host's user namespace with the cgroupfs driver; create's
 * --bundle, --pid-file, --no-pivot and --no-new-keyring; new namespaces
 * (mount among them; no user or time namespace), and network, ipc and
 * uts namespaces joined by path; no hooks, no
 * terminal, no mount label; a linux.seccomp the Go command has compiled
 * before (cseccomp.c: the first container with a profile is Go's);
 * namespaced sysctls the host lets it write; a process fastexec.c's
 * reader takes; mounts crootfs.c takes and resources ccgroup.c takes.
 * Anything else, and every failure before the init is
 * started, returns to the caller with nothing changed (the state
 * directory it made is removed again), and the Go command does it all
 * and reports as it always does.
 *
 * Everything the container sees is the same code either way: the init is
 * ocikit's binary executed through a read-only clone of its mount
 * (CVE-2019-5736), with the descriptors, environment and nsenter plan
 * launchC gives it, so nsenter.c and final.c (ocikit_init_run) do its
 * part; the root filesystem is prepared by crootfs.c from a thread that
 * leaves this process's fs_struct and joins the init's namespaces, as
 * rootThread does; the state directory holds what Go's create leaves
 * (config.json, state.json, start.sock, exec.seccomp), so start, exec,
 * kill, state and delete, in C or in Go, cannot tell which path made
 * it. */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <linux/openat2.h>
#include "kernel.h"

#include "nsenter.h"
#include "fastint.h"
#include "crootfs.h"
#include "ccgroup.h"


/* ocikit_create_parse reads create's flags and its id from argv[i] on
 * (pflag, interspersed): 1 when every flag is one this path takes. */
int ocikit_create_parse(int argc, char **argv, int i, int run, struct ocikit_create_args *c)
{
	static const struct {
		const char *name;
		size_t off;
		int run; /* run's only */
	} bools[] = {
		{"--no-pivot", offsetof(struct ocikit_create_args, nopivot), 0},
		{"--no-new-keyring", offsetof(struct ocikit_create_args, nonewkeyring), 0},
		{"--no-subreaper", offsetof(struct ocikit_create_args, nosubreaper), 0},
		{"--detach", offsetof(struct ocikit_create_args, detach), 1},
		{"-d", offsetof(struct ocikit_create_args, detach), 1},
		{"--keep", offsetof(struct ocikit_create_args, keep), 1},
	};
	memset(c, 0, sizeof(*c));
	c->bundle = ".";
	c->run = run;
	for (; i < argc; i++) {
		const char *a = argv[i], **str = NULL;
		size_t k, n = 0;
		int matched = 0;

		if (!strcmp(a, "--")) {
			for (i++; i < argc; i++) {
				if (c->id)
					return 0;
				c->id = argv[i];
			}
			break;
		}
		if (a[0] != '-' || !a[1]) {
			if (c->id)
				return 0;
			c->id = a;
			continue;
		}
		for (k = 0; k < sizeof(bools) / sizeof(*bools); k++) {
			size_t l = strlen(bools[k].name);
			int *f = (int *)((char *)c + bools[k].off);
			if (strncmp(a, bools[k].name, l) || (bools[k].run && !run) || (a[1] != '-' && a[l]))
				continue;
			if (!a[l] || !strcmp(a + l, "=true"))
				*f = 1;
			else if (!strcmp(a + l, "=false"))
				*f = 0;
			else
				continue;
			matched = 1;
		}
		if (matched)
			continue;
		if (!strcmp(a, "-b") || !strncmp(a, "--bundle", 8))
			str = &c->bundle, n = !strcmp(a, "-b") ? 2 : 8;
		else if (!strncmp(a, "--pid-file", 10))
			str = &c->pidfile, n = 10;
		else
			return 0; /* --console-socket, --preserve-fds, --config, ... */
		if (a[n] == '=' && n > 2)
			*str = a + n + 1;
		else if (a[n])
			return 0;
		else if (i + 1 < argc)
			*str = argv[++i];
		else
			return 0;
	}
	return c->id != NULL && *c->bundle;
}

/* absdir is filepath.Abs: p joined to the working directory and cleaned
 * (no symbolic link resolved). NULL when it is too long. */
static char *absdir(const char *p)
{
	char cwd[PATH_MAX], *in, *out, *s, *save, *tok;
	size_t n = 0;

	if (p[0] == '/')
		cwd[0] = 0;
	else if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	if (asprintf(&in, "%s/%s", cwd, p) < 0)
		return NULL;
	out = calloc(strlen(in) + 2, 1);
	if (!out) {
		free(in);
		return NULL;
	}
	for (s = in; (tok = strtok_r(s, "/", &save)); s = NULL) {
		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, "..")) {
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--; /* the slash */
			out[n] = 0;
			continue;
		}
		out[n++] = '/';
		strcpy(out + n, tok);
		n += strlen(tok);
	}
	if (n == 0)
		strcpy(out, "/");
	free(in);
	return out;
}

/* rfc3339 is time.Time's RFC3339Nano in UTC: trailing zeros of the
 * fraction dropped, and the fraction with them. */
static void rfc3339(char *out, size_t size)
{
	struct timespec ts;
	struct tm tm;
	char frac[16];
	int k;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(frac, sizeof(frac), ".%09ld", ts.tv_nsec);
	for (k = 9; k > 0 && frac[k] == '0'; k--)
		frac[k] = 0;
	if (k == 0)
		frac[0] = 0;
	snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

/* starttime is the init's start time (procStat): 0 on failure. */
static unsigned long long starttime(pid_t pid)
{
	unsigned long long st = 0;
	char state;

	return ocikit_fast_procstat(pid, &state, &st) == 1 ? st : 0;
}

/* What create needs of the configuration beyond process, mounts and
 * resources. */
struct cconf {
	json_t *cfg;
	const char *hostname, *domainname;
	unsigned long long cloneflags; /* new namespaces but cgroup */
	unsigned long long joinflags;  /* namespaces joined by path */
	const char *joins[3][2];       /* their types and paths, as listed */
	int njoins;
	int cgroupns;		       /* a cgroup namespace is listed */
	json_t *annotations;	       /* object of plain strings, or NULL */
	json_t *seccomp;	       /* linux.seccomp, or NULL */
	const char **sysctl;	       /* linux.sysctl: key, value, ..., NULL; sorted */
};

/* empty is true for a member that is missing, null, or an empty array,
 * object or string. */
static int empty(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return !v || json_is_null(v) || (json_is_array(v) && !json_array_size(v)) ||
	       (json_is_object(v) && !json_object_size(v)) || (json_is_string(v) && !*json_string_value(v));
}

/* numeric is rules.numeric for s up to end: digits, no leading zero
 * unless it is "0". */
static int numeric(const char *s, const char *end)
{
	const char *p;

	if (s == end || (end - s > 1 && *s == '0'))
		return 0;
	for (p = s; p < end; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return 1;
}

/* identifiers is rules.identifiers for s up to end: dot-separated
 * non-empty [0-9A-Za-z-]+; with pre-release rules a numeric identifier
 * has no leading zero. */
static int identifiers(const char *s, const char *end, int pre)
{
	for (;;) {
		const char *p;
		int digits = 1;

		for (p = s; p < end && *p != '.'; p++) {
			if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '-')
				digits = 0;
			else if (*p < '0' || *p > '9')
				return 0;
		}
		if (p == s || (pre && digits && !numeric(s, p)))
			return 0;
		if (p == end)
			return 1;
		s = p + 1;
	}
}

/* semver1 is rules.SupportedVersion: SemVer 2.0.0 with major version 1
 * ("1.0.2-dev", runc spec's, included). */
static int semver1(const char *v)
{
	const char *end = v + strlen(v), *plus = strchr(v, '+'), *core, *dot;
	int part;

	if (plus) {
		if (!identifiers(plus + 1, end, 0))
			return 0;
		end = plus;
	}
	core = memchr(v, '-', end - v);
	if (core) {
		if (!identifiers(core + 1, end, 1))
			return 0;
		end = core;
	}
	for (part = 0; part < 3; part++) {
		dot = part < 2 ? memchr(v, '.', end - v) : end;
		if (!dot || !numeric(v, dot) || (part == 0 && (dot - v != 1 || *v != '1')))
			return 0;
		v = dot + 1;
	}
	return 1;
}

/* longpath reports whether s is too long for crootfs.c's path buffers
 * (Go reports "file name too long" where they would cut it short). */
static int longpath(json_t *s)
{
	return json_is_string(s) && strlen(json_string_value(s)) >= PATH_MAX / 2;
}

/* haslong reports whether a path of the configuration is too long for
 * the C path: mount destinations and sources, masked and read-only
 * paths, device paths, the root. */
static int haslong(json_t *cfg)
{
	json_t *linux_ = json_object_get(cfg, "linux"), *v;
	size_t i;

	if (longpath(json_object_get(json_object_get(cfg, "root"), "path")))
		return 1;
	json_array_foreach(json_object_get(cfg, "mounts"), i, v) {
		if (longpath(json_object_get(v, "destination")) || longpath(json_object_get(v, "source")))
			return 1;
	}
	json_array_foreach(json_object_get(linux_, "maskedPaths"), i, v) {
		if (longpath(v))
			return 1;
	}
	json_array_foreach(json_object_get(linux_, "readonlyPaths"), i, v) {
		if (longpath(v))
			return 1;
	}
	json_array_foreach(json_object_get(linux_, "devices"), i, v) {
		if (longpath(json_object_get(v, "path")))
			return 1;
	}
	return 0;
}

static int cmpstr(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* sysctlns is process.SysctlNamespace: the namespace that scopes key
 * (0: none, the host's). */
static unsigned long long sysctlns(const char *key)
{
	static const char *const ipc[] = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni",	     "kernel.sem",
					  "kernel.shmall", "kernel.shmmax", "kernel.shm_rmid_forced", "kernel.shmmni",
					  NULL};
	char k[256];
	size_t i;

	if (strlen(key) >= sizeof(k))
		return 0;
	for (i = 0; key[i]; i++)
		k[i] = key[i] == '/' ? '.' : key[i];
	k[i] = 0;
	for (i = 0; ipc[i]; i++)
		if (!strcmp(k, ipc[i]))
			return CLONE_NEWIPC;
	if (!strncmp(k, "fs.mqueue.", 10))
		return CLONE_NEWIPC;
	if (!strncmp(k, "net.", 4))
		return CLONE_NEWNET;
	if (!strcmp(k, "kernel.hostname") || !strcmp(k, "kernel.domainname"))
		return CLONE_NEWUTS;
	return 0;
}

/* sysctlpath is the key's file under /proc: "sys/" and the key with its
 * dots as slashes, or as written when it has a slash (WriteSysctls). */
static void sysctlpath(const char *key, char *out, size_t n)
{
	size_t i, w = snprintf(out, n, "sys/%s", key);

	if (w >= n || strchr(key, '/'))
		return;
	for (i = 4; out[i]; i++)
		if (out[i] == '.')
			out[i] = '/';
}

/* readsysctl takes linux.sysctl when every key passes ValidateSysctls
 * against new namespaces and the file is writable here (the host's
 * namespaces: what is not, or is missing, is the Go command's to report,
 * in its words), with plain strings: keys and values, sorted by key. */
static int readsysctl(json_t *o, struct cconf *c)
{
	const char *k;
	json_t *v;
	size_t n = 0;

	if (!o || json_is_null(o))
		return 0;
	if (!json_is_object(o))
		return -1;
	if (!json_object_size(o))
		return 0;
	if (!(c->sysctl = calloc(2 * json_object_size(o) + 1, sizeof(char *))))
		return -1;
	json_object_foreach(o, k, v) {
		unsigned long long ns = sysctlns(k);
		char path[300];
		if (!json_is_string(v) || !fx_plain(k) || !fx_plain(json_string_value(v)) || !*k || strstr(k, "..") ||
		    k[0] == '.' || k[0] == '/' || !ns || !((c->cloneflags | c->joinflags) & ns))
			return -1;
		sysctlpath(k, path + 6, sizeof(path) - 6);
		memcpy(path, "/proc/", 6);
		if (access(path, W_OK) < 0)
			return -1;
		c->sysctl[n++] = k;
		c->sysctl[n++] = json_string_value(v);
	}
	/* sorted by key, pairs kept together */
	qsort(c->sysctl, n / 2, 2 * sizeof(char *), cmpstr);
	return 0;
}

/* readconf checks the parts of the configuration create itself handles:
 * 0 when this path takes them, -1 when the command is Go's. */
static int readconf(json_t *cfg, struct cconf *c)
{
	static const char *const top[] = {"ociVersion", "process", "root",	  "hostname", "domainname",
					  "mounts",	"hooks",   "annotations", "linux",    NULL};
	static const char *const lin[] = {"namespaces",    "resources",	    "cgroupsPath",	 "devices",
					  "maskedPaths",   "readonlyPaths", "rootfsPropagation", "sysctl",
					  "mountLabel",	   "seccomp",	    "uidMappings",	 "gidMappings", NULL};
	static const struct {
		const char *type;
		unsigned long long flag;
	} ns[] = {
		{"pid", CLONE_NEWPID}, {"network", CLONE_NEWNET}, {"ipc", CLONE_NEWIPC},
		{"uts", CLONE_NEWUTS}, {"mount", CLONE_NEWNS},	  {"cgroup", 0},
	};
	json_t *linux_ = json_object_get(cfg, "linux"), *hooks = json_object_get(cfg, "hooks"), *v, *a;
	const char *ver, *k;
	unsigned seen = 0;
	size_t i;

	memset(c, 0, sizeof(*c));
	c->cfg = cfg;
	if (!json_is_object(cfg) || !fx_known(cfg, top) || !json_is_object(linux_) || !fx_known(linux_, lin))
		return -1;
	if (fx_str(cfg, "ociVersion", &ver) < 0 || !semver1(ver))
		return -1;
	/* Hooks: none of any kind (the Go command runs them). */
	if (hooks && !json_is_null(hooks)) {
		if (!json_is_object(hooks))
			return -1;
		json_object_foreach(hooks, k, v) {
			if (!json_is_null(v) && !(json_is_array(v) && !json_array_size(v)))
				return -1;
		}
	}
	if (fx_str(cfg, "hostname", &c->hostname) < 0 || fx_str(cfg, "domainname", &c->domainname) < 0)
		return -1;
	/* What this path leaves to Go. */
	if (!empty(linux_, "mountLabel") || !empty(linux_, "uidMappings") || !empty(linux_, "gidMappings"))
		return -1;
	if (!fx_absent(linux_, "seccomp"))
		c->seccomp = json_object_get(linux_, "seccomp");
	a = json_object_get(linux_, "namespaces");
	if (!json_is_array(a))
		return -1;
	json_array_foreach(a, i, v) {
		static const char *const fields[] = {"type", "path", NULL};
		const char *t, *p;
		size_t j;
		if (!json_is_object(v) || !fx_known(v, fields) || fx_str(v, "type", &t) < 0 || fx_str(v, "path", &p) < 0)
			return -1;
		for (j = 0; j < sizeof(ns) / sizeof(*ns) && strcmp(t, ns[j].type); j++)
			;
		if (j == sizeof(ns) / sizeof(*ns) || seen & (1u << j))
			return -1;
		seen |= 1u << j;
		if (*p) {
			/* Joined by path (nsenter's "join" line, in the init
			 * before anything else): a network, ipc or uts
			 * namespace, as podman's network and a Kubernetes pod's
			 * sandbox give them. The others are Go's (a pid
			 * namespace needs nsenter's fork). */
			if (!(ns[j].flag & (CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)) || p[0] != '/' || !fx_plain(p) ||
			    strlen(p) >= 1024)
				return -1;
			c->joinflags |= ns[j].flag;
			c->joins[c->njoins][0] = t;
			c->joins[c->njoins][1] = p;
			c->njoins++;
			continue;
		}
		c->cloneflags |= ns[j].flag;
		if (!strcmp(t, "cgroup"))
			c->cgroupns = 1;
	}
	/* A mount namespace (host mounts are Go's); a hostname needs uts. */
	if (!(c->cloneflags & CLONE_NEWNS))
		return -1;
	if ((*c->hostname || *c->domainname) && !(c->cloneflags & CLONE_NEWUTS))
		return -1;
	if (readsysctl(json_object_get(linux_, "sysctl"), c) < 0)
		return -1;
	v = json_object_get(cfg, "annotations");
	if (v && !json_is_null(v)) {
		const char *key;
		json_t *val;
		if (!json_is_object(v))
			return -1;
		json_object_foreach(v, key, val) {
			if (!json_is_string(val) || !fx_plain(key) || !fx_plain(json_string_value(val)))
				return -1;
		}
		if (json_object_size(v))
			c->annotations = v;
	}
	return 0;
}

/* putannotations writes the state's "annotations" member as Go's encoder
 * does (keys sorted), or nothing. */
static int putannotations(char **out, json_t *a)
{
	const char **keys;
	const char *k;
	json_t *v;
	size_t n = 0, i, len = 0;
	FILE *f;

	*out = NULL;
	if (!a)
		return (*out = strdup("")) ? 0 : -1;
	if (!(keys = calloc(json_object_size(a), sizeof(*keys))))
		return -1;
	json_object_foreach(a, k, v)
		keys[n++] = k;
	qsort(keys, n, sizeof(*keys), cmpstr);
	if (!(f = open_memstream(out, &len))) {
		free(keys);
		return -1;
	}
	fputs(",\"annotations\":{", f);
	for (i = 0; i < n; i++)
		fprintf(f, "%s\"%s\":\"%s\"", i ? "," : "", keys[i], json_string_value(json_object_get(a, keys[i])));
	fputs("}", f);
	fclose(f);
	free(keys);
	return 0;
}

static int recvprocfs(int sync, pid_t *pid, char *msg, size_t msglen);

/* The thread that prepares the root filesystem (rootThread): in the
 * init's namespaces, with an fs_struct of its own. */
struct rootjob {
	pid_t pid;
	int sync; /* the init's procfs context comes over it first */
	const struct cconf *c;
	struct ocikit_rootfs *rp;
	const char *const *cgkeys, *const *cgdirs;
	int ncg, nopivot;
	int procfs; /* out: the context, to close */
	int reaped; /* out: the init died before it sent it (reaped) */
	int rootfd; /* out: the container's root */
	char msg[4096];
	/* The cgroup, which the main thread creates meanwhile: the thread
	 * waits for it before a cgroup mount (cgroupready). */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int cgstate; /* 0: being created, 1: created, -1: failed */
};

/* cgroupready is the thread's wait for the cgroup (crootfs.c calls it
 * before the first cgroup mount): 0 once created, -1 when it failed. */
static int cgroupready(void *arg)
{
	struct rootjob *j = arg;
	int st;

	pthread_mutex_lock(&j->mu);
	while (!j->cgstate)
		pthread_cond_wait(&j->cv, &j->mu);
	st = j->cgstate;
	pthread_mutex_unlock(&j->mu);
	return st > 0 ? 0 : -1;
}

/* writesysctls is WriteSysctls, before Finish makes /proc/sys read-only:
 * the files of a procfs of this thread's own, as pathrs-lite opens them
 * for the Go command, in the namespaces the thread joined (the
 * container's), in the order of their keys; errors in Go's words. */
static int writesysctls(const char **kv, char *msg, size_t msglen)
{
	struct open_how how = {.flags = O_PATH | O_CLOEXEC,
			       .resolve = RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS};
	char reason[256], path[300], reopen[64];
	int fs, mnt = -1, fd, i, err = 0;

	fs = syscall(SYS_fsopen, "proc", FSOPEN_CLOEXEC);
	if (fs >= 0 && syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
		mnt = syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
	if (mnt < 0)
		err = errno;
	if (fs >= 0)
		close(fs);
	if (mnt < 0) {
		snprintf(msg, msglen, "sysctl: process: procfs: %s", ocikit_reason(err, reason, sizeof(reason)));
		return -1;
	}
	for (i = 0; kv[i]; i += 2) {
		ssize_t n;
		sysctlpath(kv[i], path, sizeof(path));
		int opath = syscall(SYS_openat2, mnt, path, &how, sizeof(how));
		if (opath < 0) {
			snprintf(msg, msglen,
				 "sysctl: process: sysctl %s=%s: unsafe procfs detected: openat2 fsmount:fscontext:proc/./%s: %s",
				 kv[i], kv[i + 1], path, ocikit_reason(errno, reason, sizeof(reason)));
			break;
		}
		/* Opened for writing through the handle, as pathrs-lite
		 * reopens it (a file the namespace makes read-only fails
		 * here, in its words). */
		snprintf(reopen, sizeof(reopen), "thread-self/fd/%d", opath);
		fd = openat(mnt, reopen, O_WRONLY | O_CLOEXEC);
		err = errno;
		close(opath);
		if (fd < 0) {
			snprintf(msg, msglen, "sysctl: process: sysctl %s=%s: open /proc/%s: reopen fd %d: %s", kv[i], kv[i + 1],
				 path, opath, ocikit_reason(err, reason, sizeof(reason)));
			break;
		}
		n = write(fd, kv[i + 1], strlen(kv[i + 1]));
		err = errno;
		close(fd);
		if (n < 0) {
			snprintf(msg, msglen, "sysctl: process: sysctl %s=%s: write /proc/%s: %s", kv[i], kv[i + 1], path,
				 ocikit_reason(err, reason, sizeof(reason)));
			break;
		}
	}
	close(mnt);
	return kv[i] ? -1 : 0;
}

/* cgroupdone tells the thread whether the cgroup exists. */
static void cgroupdone(struct rootjob *j, int ok)
{
	pthread_mutex_lock(&j->mu);
	j->cgstate = ok ? 1 : -1;
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
}

static void *rootthread(void *arg)
{
	static const struct {
		const char *name;
		int flag;
	} joins[] = {
		/* joinInitNS's order, the mount namespace last; the cgroup
		 * namespace is not joined: the init unshares it once moved
		 * into its cgroup (late). */
		{"ipc", CLONE_NEWIPC},
		{"uts", CLONE_NEWUTS},
		{"net", CLONE_NEWNET},
		{"mnt", CLONE_NEWNS},
	};
	struct rootjob *j = arg;
	char path[64], reason[256];
	size_t k;

	j->rootfd = -1;
	{
		pid_t p = j->pid;
		if ((j->procfs = recvprocfs(j->sync, &p, j->msg, sizeof(j->msg))) < 0) {
			j->reaped = p < 0;
			return NULL;
		}
	}
	if (unshare(CLONE_FS) < 0) {
		snprintf(j->msg, sizeof(j->msg), "unshare CLONE_FS: %s", ocikit_reason(errno, reason, sizeof(reason)));
		return NULL;
	}
	for (k = 0; k < sizeof(joins) / sizeof(*joins); k++) {
		int fd;
		if (!((j->c->cloneflags | j->c->joinflags) & (unsigned long long)joins[k].flag))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)j->pid, joins[k].name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			snprintf(j->msg, sizeof(j->msg), "open %s: %s", path, ocikit_reason(errno, reason, sizeof(reason)));
			return NULL;
		}
		if (setns(fd, joins[k].flag) < 0) {
			snprintf(j->msg, sizeof(j->msg), "setns: %s", ocikit_reason(errno, reason, sizeof(reason)));
			close(fd);
			return NULL;
		}
		close(fd);
	}
	if (*j->c->hostname && sethostname(j->c->hostname, strlen(j->c->hostname)) < 0) {
		snprintf(j->msg, sizeof(j->msg), "set hostname: %s", ocikit_reason(errno, reason, sizeof(reason)));
		return NULL;
	}
	if (*j->c->domainname && setdomainname(j->c->domainname, strlen(j->c->domainname)) < 0) {
		snprintf(j->msg, sizeof(j->msg), "set domainname: %s", ocikit_reason(errno, reason, sizeof(reason)));
		return NULL;
	}
	ocikit_rootfs_cgroup_wait(j->rp, cgroupready, j);
	if (ocikit_rootfs_prepare(j->rp, j->cgkeys, j->cgdirs, j->ncg, j->c->cgroupns, j->procfs, j->msg,
				  sizeof(j->msg)) < 0 ||
	    (j->c->sysctl && writesysctls(j->c->sysctl, j->msg, sizeof(j->msg)) < 0) ||
	    ocikit_rootfs_finish(j->rp, j->nopivot, j->msg, sizeof(j->msg)) < 0)
		return NULL;
	/* The init chroots into this thread's root (ocikit_init_run). */
	if ((j->rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		snprintf(j->msg, sizeof(j->msg), "open root: %s", ocikit_reason(errno, reason, sizeof(reason)));
	return NULL;
}

/* putstate writes state.json as writeState does (record's members in
 * their order, the state as State.MarshalJSON). */
static int putstate(int dirfd, const char *id, long pid, const char *status, const char *bundle, const char *rootfs,
		    const char *created, const char *annotations, unsigned long long initstart, const char *cgroup,
		    int ownpidns, int nonewkeyring)
{
	char *buf = NULL;
	int n, rc;

	n = asprintf(&buf,
		     "{\"state\":{\"ociVersion\":\"1.3.0\",\"id\":\"%s\",\"pid\":%ld,\"status\":\"%s\",\"bundle\":\"%s\","
		     "\"rootfs\":\"%s\",\"created\":\"%s\"%s,\"owner\":\"\"}%s%.0llu%s%s%s%s}",
		     id, pid, status, bundle, rootfs, created, annotations, initstart ? ",\"initStart\":" : "", initstart,
		     cgroup ? ",\"cgroup\":" : "", cgroup ? cgroup : "", ownpidns ? ",\"ownPidNS\":true" : "",
		     nonewkeyring ? ",\"noNewKeyring\":true" : "");
	if (n < 0)
		return -ENOMEM;
	rc = ocikit_fast_writestate(dirfd, buf, n);
	free(buf);
	return rc;
}

/* sendok answers the init ({"type":"ok"}), with a descriptor when fd >= 0. */
static int sendok(int sync, int fd)
{
	if (fd >= 0)
		return ocikit_sendfd(sync, "{\"type\":\"ok\"}", fd);
	return send(sync, "{\"type\":\"ok\"}", 13, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* exited is launcher.exited: the init closed sync (or died: a
 * SOCK_SEQPACKET peer's death may read as ECONNRESET) without saying why;
 * it is reaped (*pid = -1) and how it ended goes to msg. */
static void exited(pid_t *pid, char *msg, size_t msglen)
{
	int ws = 0;
	pid_t w;

	while ((w = waitpid(*pid, &ws, 0)) < 0 && errno == EINTR)
		;
	if (w == *pid)
		*pid = -1;
	if (w > 0 && WIFEXITED(ws) && WEXITSTATUS(ws))
		snprintf(msg, msglen, "init exited during setup: exit status %d", WEXITSTATUS(ws));
	else if (w > 0 && WIFSIGNALED(ws)) {
		/* Go's names are glibc's, lower-cased ("killed") */
		int n = snprintf(msg, msglen, "init exited during setup: signal: ");
		snprintf(msg + n, msglen - n, "%s", strsignal(WTERMSIG(ws)));
		if (msg[n] >= 'A' && msg[n] <= 'Z')
			msg[n] += 'a' - 'A';
	}
	else
		snprintf(msg, msglen, "init exited during setup");
}

/* recvinit reads the init's next message over sync into m (a JSON
 * object), with the descriptor it carries in *fd (-1: none): 0, or -1
 * with msg, the init reaped when it closed sync (exited). */
static int recvinit(int sync, pid_t *pid, json_t **m, int *fd, char *msg, size_t msglen)
{
	char buf[8192], cbuf[CMSG_SPACE(sizeof(int))], reason[256];
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf) - 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm;
	ssize_t n;

	*fd = -1;
	while ((n = recvmsg(sync, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (n < 0 && errno != ECONNRESET) {
		snprintf(msg, msglen, "sync with init: read: %s", ocikit_reason(errno, reason, sizeof(reason)));
		return -1;
	}
	if (n <= 0) {
		exited(pid, msg, msglen);
		return -1;
	}
	if ((cm = CMSG_FIRSTHDR(&mh)) && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(cm), sizeof(*fd));
	buf[n] = 0;
	if (!(*m = json_loads(buf, 0, NULL)) || !json_is_string(json_object_get(*m, "type"))) {
		snprintf(msg, msglen, "unexpected message \"%.100s\" from init", buf);
		json_decref(*m);
		if (*fd >= 0)
			close(*fd);
		return -1;
	}
	return 0;
}

/* failed is a message that ends the conversation: the init's error, or
 * one it should not have sent. */
static void failed(json_t *m, const char *type, char *msg, size_t msglen)
{
	if (!strcmp(type, "error"))
		snprintf(msg, msglen, "%s", json_string_value(json_object_get(m, "msg")) ?: "init failed");
	else
		snprintf(msg, msglen, "unexpected message \"%.100s\" from init", type);
}

/* recvprocfs waits for the init's procfs context: the descriptor, or -1
 * with msg (its error, or how it ended). */
static int recvprocfs(int sync, pid_t *pid, char *msg, size_t msglen)
{
	const char *type;
	json_t *m;
	int fd;

	if (recvinit(sync, pid, &m, &fd, msg, msglen) < 0)
		return -1;
	type = json_string_value(json_object_get(m, "type"));
	if (!strcmp(type, "procfs") && fd >= 0) {
		json_decref(m);
		return fd;
	}
	failed(m, type, msg, msglen);
	if (fd >= 0)
		close(fd);
	json_decref(m);
	return -1;
}

/* cpusline adds to nsenter's plan the "cpus" line: this process's CPU
 * affinity, which the init, started on one CPU only, takes back just
 * before its execve (see "cpus" in nsenter.c). 0 when it cannot. */
static int cpusline(char *plan, size_t size)
{
	cpu_set_t cpus;
	size_t n = strlen(plan), i, last = 0;
	int w;

	if (sched_getaffinity(0, sizeof(cpus), &cpus) < 0)
		return 0;
	for (i = 0; i < sizeof(cpus.__bits) / sizeof(cpus.__bits[0]); i++)
		if (cpus.__bits[i])
			last = i;
	w = snprintf(plan + n, size - n, "cpus");
	for (i = 0; i <= last && w > 0 && (size_t)w < size - n; i++)
		w += snprintf(plan + n + w, size - n - w, " %lx", (unsigned long)cpus.__bits[i]);
	if (w <= 0 || (size_t)w + 1 >= size - n) {
		plan[n] = 0;
		return 0;
	}
	plan[n + w] = '\n';
	plan[n + w + 1] = 0;
	return 1;
}

/* waitready is launcher.converse for the init: warnings, an error, or
 * {"type":"ready"} (0). */
static int waitready(int sync, pid_t *pid, const struct ocikit_fast_log *log, const char *id, char *msg,
		     size_t msglen)
{
	for (;;) {
		const char *type;
		json_t *m;
		int fd;

		if (recvinit(sync, pid, &m, &fd, msg, msglen) < 0)
			return -1;
		if (fd >= 0)
			close(fd);
		type = json_string_value(json_object_get(m, "type"));
		if (!strcmp(type, "ready")) {
			json_decref(m);
			return 0;
		}
		if (!strcmp(type, "warn")) {
			fx_logwarn(log, id, m);
			json_decref(m);
			continue;
		}
		failed(m, type, msg, msglen);
		json_decref(m);
		return -1;
	}
}

int ocikit_fast_create(const struct ocikit_create_args *x, const char *root, const struct ocikit_fast_log *log,
		       struct ocikit_run_state *rs, char *msg, size_t msglen)
{
	char *cfgbuf = NULL, *bundle = NULL, *rootfs = NULL, *dir = NULL, *ann = NULL, *cgrec = NULL, *home = NULL;
	char *sc = NULL;
	size_t sclen = 0;
	char path[PATH_MAX], created[64], reason[256], nsplan[4096];
	const char *const *cgkeys = NULL, *const *cgdirs = NULL;
	const char **env = NULL;
	json_t *cfg = NULL, *rootobj;
	struct ocikit_rootfs *rp = NULL;
	struct ocikit_cgroup *cg = NULL;
	struct ocikit_exec_args px = {.process = "config.json"};
	struct proc pr = {0};
	struct cconf c = {0};
	struct launch l;
	struct statfs sfs;
	struct stat st;
	struct rootjob job;
	pthread_t th;
	pthread_attr_t tattr;
	sigset_t mask;
	size_t cfglen;
	pid_t pid = -1;
	unsigned long long initstart;
	int ret = -1, dirfd = -1, made = 0, lsock = -1, exefd = -1, thp = 0, born, ncg = 0, nenv = 0, i, procfs = -1;
	int cfgp[2] = {-1, -1}, nsp[2] = {-1, -1}, syncp[2] = {-1, -1}, fd, cgmade = 0;
	int fg = rs && !x->detach, stdio[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}}, sfd = -1, blocked = 0, j;
	sigset_t all;
	const char *rootpath;
	uint32_t u;

	memset(&l, 0, sizeof(l));
	l.cgfd = -1;
	memset(&job, 0, sizeof(job));
	job.rootfd = -1;
	(void)u;

	/* Root of the host's user namespace with the cgroupfs driver on a
	 * cgroup v1 or hybrid host; no socket activation. */
	if (geteuid() != 0 || getenv("LISTEN_FDS") || statfs("/sys/fs/cgroup", &sfs) < 0 ||
	    sfs.f_type == CGROUP2_SUPER_MAGIC)
		return -1;
	/* crootfs.c has no fallback for kernels before mount_setattr (5.12,
	 * the newest call it makes; openat2 is probed by its plan): Go's. */
	if (syscall(SYS_mount_setattr, -1, "", 0, NULL, 0) < 0 && errno == ENOSYS)
		return -1;
	/* The init opens a procfs context (cInit's fsopenWorks). */
	if ((fd = syscall(SYS_fsopen, "proc", FSOPEN_CLOEXEC)) < 0)
		return -1;
	close(fd);
	if (!(bundle = absdir(x->bundle)) || !fx_plain(bundle))
		goto out;
	if (snprintf(path, sizeof(path), "%s/config.json", bundle) >= (int)sizeof(path) ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		goto out;
	i = ocikit_readfull(fd, 64 << 20, &cfgbuf, &cfglen); /* a short read is Go's */
	close(fd);
	if (!i)
		goto out;
	cfg = fx_loadconf(cfgbuf, cfglen);
	if (!cfg || readconf(cfg, &c) < 0 || haslong(cfg))
		goto out;
	rootobj = json_object_get(cfg, "root");
	{
		static const char *const fields[] = {"path", "readonly", NULL};
		if (!json_is_object(rootobj) || !fx_known(rootobj, fields) || fx_str(rootobj, "path", &rootpath) < 0 ||
		    !*rootpath)
			goto out;
	}
	if (rootpath[0] == '/')
		rootfs = strdup(rootpath); /* as written (Go's Rootfs) */
	else if (asprintf(&rootfs, "%s/%s", bundle, rootpath) >= 0) {
		char *r = absdir(rootfs);
		free(rootfs);
		rootfs = r;
	} else
		rootfs = NULL;
	if (!rootfs || !fx_plain(rootfs))
		goto out;
	if (fx_readproc(json_object_get(cfg, "process"), &px, &pr) < 0 || pr.terminal)
		goto out;
	if (putannotations(&ann, c.annotations) < 0)
		goto out;
	/* linux.seccomp: the program the Go command compiled for it. */
	if (c.seccomp && !ocikit_seccomp_cached(c.seccomp, root, &sc, &sclen))
		goto out;
	if (ocikit_cgroup_plan(cfg, x->id, &cg, msg, msglen) != 0)
		goto out;
	if (ocikit_rootfs_plan(cfg, bundle, &rp, msg, msglen) != 0)
		goto out;
	ncg = ocikit_cgroup_paths(cg, &cgkeys, &cgdirs);
	if (ncg < 0 || !(cgrec = ocikit_cgroup_record(cg)))
		goto out;
	for (i = 0; i < 3; i++)
		if (fcntl(i, F_GETFD) < 0)
			goto out; /* Go's StartProcess fails on it */

	/* The state directory (Go's MkdirAll of the root, then Mkdir):
	 * one that exists is Go's "already exists". */
	if (asprintf(&dir, "%s/%s", root, x->id) < 0) {
		dir = NULL;
		goto out;
	}
	if (stat(root, &st) < 0) {
		char *p = strdup(root), *s;
		for (s = p + 1; p && (s = strchr(s, '/')); s++) {
			*s = 0;
			mkdir(p, 0700);
			*s = '/';
		}
		if (p)
			mkdir(p, 0700);
		free(p);
	}
	if (mkdir(dir, 0700) < 0)
		goto out;
	made = 1;
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || flock(dirfd, LOCK_EX) < 0)
		goto out;
	rfc3339(created, sizeof(created));
	/* The copy of the configuration, as read (os.WriteFile). */
	if ((fd = openat(dirfd, "config.json", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		goto out;
	i = write(fd, cfgbuf, cfglen) != (ssize_t)cfglen;
	if (close(fd) < 0 || i)
		goto out;
	/* The program for exec in C (execSeccompFile). */
	if (sc) {
		if ((fd = openat(dirfd, "exec.seccomp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0)
			goto out;
		i = write(fd, sc, sclen) != (ssize_t)sclen;
		if (close(fd) < 0 || i)
			goto out;
	}
	/* The start socket (listenStart), named through the directory. */
	{
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		if ((lsock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) < 0)
			goto out;
		snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/start.sock", dirfd);
		if (bind(lsock, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lsock, 1) < 0)
			goto out;
	}
	if ((exefd = fx_protected()) < 0)
		goto out;
	if (pipe2(cfgp, O_CLOEXEC) < 0 || pipe2(nsp, O_CLOEXEC) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, syncp) < 0)
		goto out;
	/* Descriptors as newLauncher and launchC add them: stdio (the
	 * caller's; run's in the foreground: pipes it relays, owned by the
	 * container's root), the binary, the plan pipe, sync, the start
	 * socket, nsenter's plan. */
	for (i = 0; i < 3; i++) {
		int child = i == 0 ? 0 : 1;
		if (!fg) {
			fx_addfd(&l, i);
			continue;
		}
		if (pipe2(stdio[i], O_CLOEXEC) < 0)
			goto out;
		if (fchown(stdio[i][child], 0, 0) < 0) {
			/* best effort, as Go's */
		}
		fx_addfd(&l, stdio[i][child]);
	}
	fx_addfd(&l, exefd);
	fx_addfd(&l, cfgp[0]);
	fx_addfd(&l, syncp[1]);
	fx_addfd(&l, lsock);
	i = fx_addfd(&l, nsp[0]);
	if (fx_launchenv(&l, &pr, i, &thp) < 0)
		goto out;
	l.cloneflags = c.cloneflags;
	l.fg = fg;
	i = snprintf(nsplan, sizeof(nsplan), "sync 5\n");
	for (j = 0; j < c.njoins; j++)
		i += snprintf(nsplan + i, sizeof(nsplan) - i, "join %s %s\n", c.joins[j][0], c.joins[j][1]);
	snprintf(nsplan + i, sizeof(nsplan) - i, "init\n%slatecgroup\n", c.cgroupns ? "cgroupns\n" : "");
	cpusline(nsplan, sizeof(nsplan));
	sigprocmask(SIG_SETMASK, NULL, &mask);
	if (fg) {
		/* newForeground: every signal caught from now on, for the
		 * program (the init gets the caller's mask); a subreaper. */
		sigfillset(&all);
		sigprocmask(SIG_BLOCK, &all, NULL);
		blocked = 1;
		if ((!x->nosubreaper && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) ||
		    (sfd = signalfd(-1, &all, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
			goto out;
	}

	/* A start that fails is Go's to retry and report; from here on
	 * errors are reported. */
	pid = fx_spawn(&l, 3, &mask, &born);
	if (pid < 0)
		goto out;
	ret = 1;
	close(exefd);
	close(cfgp[0]);
	close(syncp[1]);
	close(nsp[0]);
	close(lsock);
	exefd = cfgp[0] = syncp[1] = nsp[0] = lsock = -1;
	for (i = 0; i < 3 && fg; i++) {
		close(stdio[i][i == 0 ? 0 : 1]);
		stdio[i][i == 0 ? 0 : 1] = -1;
	}
	if (write(nsp[1], nsplan, strlen(nsplan)) < 0) {
		snprintf(msg, msglen, "nsenter pipe: %s", ocikit_reason(errno, reason, sizeof(reason)));
		goto out;
	}
	close(nsp[1]);
	nsp[1] = -1;
	initstart = starttime(pid);
	/* The first state: a create killed from here on leaves a
	 * "creating" container naming its init and cgroup. */
	if ((i = putstate(dirfd, x->id, pid, "creating", bundle, rootfs, created, ann, initstart, cgrec,
			  (c.cloneflags & CLONE_NEWPID) != 0, x->nonewkeyring)) < 0) {
		snprintf(msg, msglen, "state: %s", ocikit_reason(-i, reason, sizeof(reason)));
		goto out;
	}
	/* The thread that prepares the root filesystem starts now: it
	 * waits for the init's procfs context, joins its namespaces and
	 * mounts, up to a cgroup mount, while the cgroup is made here. On
	 * cgroup v1 that waits for the RCU grace period the migration the
	 * command primed at its start began (fast.c primeself): the
	 * directories too take the lock the migration holds meanwhile. */
	job.pid = pid;
	job.sync = syncp[0];
	job.c = &c;
	job.rp = rp;
	job.cgkeys = cgkeys;
	job.cgdirs = cgdirs;
	job.ncg = ncg;
	job.procfs = -1;
	job.nopivot = x->nopivot;
	pthread_mutex_init(&job.mu, NULL);
	pthread_cond_init(&job.cv, NULL);
	/* crootfs.c keeps path buffers on its stack: a stack of a known
	 * size, whatever RLIMIT_STACK says. */
	pthread_attr_init(&tattr);
	pthread_attr_setstacksize(&tattr, 1 << 20);
	i = pthread_create(&th, &tattr, rootthread, &job);
	pthread_attr_destroy(&tattr);
	if (i) {
		snprintf(msg, msglen, "root filesystem: %s", ocikit_reason(i, reason, sizeof(reason)));
		goto out;
	}
	/* The cgroup, with its limits; a directory the driver may leave
	 * out (a named hierarchy's, which Go's mountCgroupPaths replaces
	 * with the init's own cgroup) is Go's: nothing of this container
	 * is visible outside the init's namespaces yet. Late: the init is
	 * moved while the thread mounts. */
	i = ocikit_cgroup_create(cg, msg, msglen);
	cgmade = i == 0;
	for (j = 0; i == 0 && j < ncg; j++) {
		if (stat(cgdirs[j], &st) < 0)
			i = 1;
	}
	cgroupdone(&job, i == 0);
	if (i == 0)
		i = ocikit_cgroup_enter(cg, pid, msg, msglen);
	pthread_join(th, NULL);
	pthread_cond_destroy(&job.cv);
	pthread_mutex_destroy(&job.mu);
	procfs = job.procfs;
	if (job.reaped)
		pid = -1;
	if (job.procfs < 0) {
		/* the init died or failed before its procfs context */
		snprintf(msg, msglen, "%s", job.msg);
		goto out;
	}
	if (i > 0) {
		ret = -1;
		goto out;
	}
	if (i < 0)
		goto out;
	if (job.rootfd < 0) {
		snprintf(msg, msglen, "%s", job.msg);
		goto out;
	}
	if (!(env = fx_environment(&pr, &px, job.rootfd, &nenv, &home))) {
		snprintf(msg, msglen, "environment: out of memory");
		goto out;
	}
	{
		struct fx_plan f = {.sc = sc, .sclen = sclen, .rootfd = 0, .consolefd = -1,
				    .keyring = x->nonewkeyring ? NULL : x->id, .startfd = 6};
		fx_encode(&l.plan, &pr, env, nenv, &f);
	}
	if (l.plan.bad) {
		snprintf(msg, msglen, "encode init config: out of memory");
		goto out;
	}
	if (l.plan.n > 65536 && fcntl(cfgp[1], F_SETPIPE_SZ, (int)l.plan.n) < (int)l.plan.n) {
		snprintf(msg, msglen, "init config: too large");
		goto out;
	}
	if (write(cfgp[1], l.plan.p, l.plan.n) != (ssize_t)l.plan.n) {
		snprintf(msg, msglen, "init config: %s", ocikit_reason(errno, reason, sizeof(reason)));
		goto out;
	}
	close(cfgp[1]);
	cfgp[1] = -1;
	if (sendok(syncp[0], job.rootfd) < 0) {
		snprintf(msg, msglen, "send root: %s", ocikit_reason(errno, reason, sizeof(reason)));
		goto out;
	}
	/* In its cgroup: it may unshare its cgroup namespace. */
	sendok(syncp[0], -1);
	if ((i = putstate(dirfd, x->id, pid, "created", bundle, rootfs, created, ann, initstart, cgrec,
			  (c.cloneflags & CLONE_NEWPID) != 0, x->nonewkeyring)) < 0) {
		snprintf(msg, msglen, "state: %s", ocikit_reason(-i, reason, sizeof(reason)));
		goto out;
	}
	if (waitready(syncp[0], &pid, log, x->id, msg, msglen) < 0)
		goto out;
	if (x->pidfile && *x->pidfile && fx_writepid(x->pidfile, pid, msg, msglen) < 0)
		goto out;
	ret = 0;
	if (rs) {
		/* run goes on: start under the lock create holds, then wait */
		rs->dirfd = dirfd, rs->pid = pid, rs->sfd = sfd;
		dirfd = sfd = -1;
		for (i = 0; i < 3; i++) {
			rs->relay[i] = fg ? stdio[i][i == 0 ? 1 : 0] : -1;
			stdio[i][i == 0 ? 1 : 0] = -1;
		}
	}

out:
	if (ret != 0 && pid > 0) {
		/* abort: the init, its cgroup, the state directory */
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (ret != 0 && cgmade)
		ocikit_cgroup_remove(cg);
	if (ret != 0 && made) {
		if (dirfd >= 0) {
			ocikit_fast_clearstatedir(dirfd);
			unlinkat(dirfd, "state.json", 0);
		}
		rmdir(dir);
	}
	if (dirfd >= 0)
		close(dirfd);
	for (i = 0; i < 2; i++) {
		if (cfgp[i] >= 0)
			close(cfgp[i]);
		if (nsp[i] >= 0)
			close(nsp[i]);
		if (syncp[i] >= 0)
			close(syncp[i]);
	}
	if (lsock >= 0)
		close(lsock);
	if (exefd >= 0)
		close(exefd);
	if (procfs >= 0)
		close(procfs);
	if (job.rootfd >= 0)
		close(job.rootfd);
	for (i = 0; i < 3; i++)
		for (j = 0; j < 2; j++)
			if (stdio[i][j] >= 0)
				close(stdio[i][j]);
	if (sfd >= 0)
		close(sfd);
	if (ret < 0 && thp)
		prctl(PR_SET_THP_DISABLE, 0, 0, 0, 0);
	if (ret < 0 && blocked) {
		/* Back to what the Go command expects. */
		prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
		sigprocmask(SIG_SETMASK, &mask, NULL);
	}
	for (i = 0; i < l.nenv; i++)
		free(l.env[i]);
	free(l.plan.p);
	free(env);
	free(home);
	fx_freeproc(&pr);
	ocikit_rootfs_free(rp);
	ocikit_cgroup_free(cg);
	free(cgrec);
	free(ann);
	free(dir);
	free(rootfs);
	free(bundle);
	free(cfgbuf);
	free(sc);
	free(c.sysctl);
	json_decref(cfg);
	return ret;
}

/* The container a foreground run deletes once its program exited. */
struct after {
	const char *root, *id;
	const struct ocikit_fast_log *log;
};

/* runcmd runs this binary with args (Go's command where the C path has
 * to hand over) and waits for it: its exit status. */
static int runcmd(char *const args[])
{
	pid_t p = fork();
	int st;

	if (p == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv("/proc/self/exe", args);
		_exit(127);
	}
	if (p < 0)
		return -1;
	while (waitpid(p, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* deleteafter is deleteQuiet: in C, or Go's delete --force where it is
 * Go's (processes left in the cgroup, ...); a failure is a warning. */
static void deleteafter(void *arg)
{
	const struct after *a = arg;
	char msg[4096];
	int rc = ocikit_fast_delete(a->root, a->id, msg, sizeof(msg));

	if (rc < 0) {
		char *args[] = {"ocikit", "--root", (char *)a->root, "delete", "--force", (char *)a->id, NULL};
		runcmd(args);
	} else if (rc > 0) {
		const char *attrs[] = {"container", a->id, "error", msg};
		ocikit_fast_warn(a->log, "delete after run", attrs, 4);
	}
}

/* ocikit_fast_run is Runtime.Run (RunDetached with --detach) after the C
 * create: start, and in the foreground forward signals and relay stdio
 * until the program exits, delete the container (unless --keep) and exit
 * with the program's status. -1: Go's whole run (nothing happened). */
int ocikit_fast_run(const struct ocikit_create_args *x, const char *root, const struct ocikit_fast_log *log,
		    char *msg, size_t msglen)
{
	struct ocikit_run_state rs = {.dirfd = -1, .relay = {-1, -1, -1}, .sfd = -1};
	struct after after = {.root = root, .id = x->id, .log = log};
	int rc = ocikit_fast_create(x, root, log, &rs, msg, msglen);

	if (rc)
		return rc;
	rc = ocikit_fast_start(rs.dirfd, x->id, msg, msglen);
	close(rs.dirfd);
	if (rc < 0) {
		/* Go's start (it never is after this create: the init
		 * waits, no hooks), then Go's delete. */
		char *args[] = {"ocikit", "--root", (char *)root, "start", (char *)x->id, NULL};
		rc = runcmd(args) == 0 ? 0 : 1;
		if (rc)
			snprintf(msg, msglen, "start failed");
	}
	if (rc) {
		char m[4096];
		if (ocikit_fast_delete(root, x->id, m, sizeof(m)) < 0) {
			char *args[] = {"ocikit", "--root", (char *)root, "delete", "--force", (char *)x->id, NULL};
			runcmd(args);
		}
		return 1;
	}
	if (x->detach)
		return 0;
	fx_foreground(rs.pid, rs.sfd, rs.relay, x->keep ? NULL : deleteafter, &after);
}
