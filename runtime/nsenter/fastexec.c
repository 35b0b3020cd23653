//go:build linux && cgo

/* fastexec.c: `ocikit exec` in its common cases without the Go runtime.
 *
 * exec is what probes (Kubernetes' exec probes through containerd or
 * CRI-O), `podman exec` and `docker exec` cost a container each time. Its
 * work is small: read the container's state and configuration, plan the
 * process's attributes, start the process that joins the container, move
 * it into the container's cgroup and, in the foreground, relay its stdio
 * and signals and wait for it. Starting the Go runtime for that costs
 * ~11 ms and ~1.5 MB here; this path does it from the C constructor.
 *
 * It is Runtime.Exec (runtime/exec_linux.go) for the cases it can do
 * alone: the global flags fast.c knows; exec's --process, --detach,
 * --pid-file, --env, --cwd, --user, --tty and --console-socket; a created
 * or running container whose state.json fast.c reads (no seccomp
 * listener, host mounts or rootless cgroups; a systemd scope only
 * on cgroup v2, where the process is born in it), whose
 * configuration copy parses with no field this file leaves to Go (a
 * terminal relayed in the foreground, a scheduler, an I/O priority,
 * execCPUAffinity, an AppArmor profile or SELinux label, a personality,
 * an unknown capability or rlimit), and whose compiled seccomp filter the
 * create left in the state directory (exec.seccomp). Anything else, and
 * every failure before the process is started, returns to the caller
 * with nothing changed, and the Go command does it all.
 *
 * The process it starts is the one the Go command starts: ocikit's own
 * binary, executed through a read-only clone of its mount
 * (CVE-2019-5736), with the same descriptors, environment and plans
 * (nsenter.c's, then final.c's): what happens inside the container is
 * the same code either way. The runtime's side of the conversation
 * (launcher.converse) is here: the pid of a process forked into a pid
 * namespace, the move into the cgroup, warnings, errors, and the execve
 * that closes the socket. */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <linux/sched.h>

#include <jansson.h>

#include "kernel.h"

#include "nsenter.h"
#include "fastint.h"



/* ocikit_exec_parse reads exec's flags and arguments from argv[i] on
 * (pflag, not interspersed: flags end at the container id): 1 when every
 * flag is one this path takes. */
int ocikit_exec_parse(int argc, char **argv, int i, struct ocikit_exec_args *x)
{
	memset(x, 0, sizeof(*x));
	for (; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		const char **str = NULL;
		size_t n;

		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[0] != '-' || !a[1])
			break;
		if (!strcmp(a, "-d") || !strcmp(a, "--detach") || !strcmp(a, "--detach=true")) {
			x->detach = 1;
			continue;
		}
		if (!strcmp(a, "--detach=false")) {
			x->detach = 0;
			continue;
		}
		if (!strcmp(a, "-t") || !strcmp(a, "--tty") || !strcmp(a, "--tty=true")) {
			x->tty = 1;
			continue;
		}
		if (!strcmp(a, "--tty=false")) {
			x->tty = 0;
			continue;
		}
		if (!strcmp(a, "-p") || !strncmp(a, "--process", 9))
			str = &x->process, n = !strcmp(a, "-p") ? 2 : 9;
		else if (!strncmp(a, "--pid-file", 10))
			str = &x->pidfile, n = 10;
		else if (!strncmp(a, "--cwd", 5))
			str = &x->cwd, n = 5;
		else if (!strncmp(a, "--console-socket", 16))
			str = &x->console, n = 16;
		else if (!strcmp(a, "-u") || !strncmp(a, "--user", 6))
			str = &x->user, n = !strcmp(a, "-u") ? 2 : 6;
		else if (!strcmp(a, "-e") || !strncmp(a, "--env", 5))
			str = &v, n = !strcmp(a, "-e") ? 2 : 5;
		else
			return 0;
		if (a[n] == '=' && n > 2)
			*str = a + n + 1;
		else if (a[n])
			return 0; /* another flag with this prefix (--process-label) */
		else if (i + 1 < argc)
			*str = argv[++i];
		else
			return 0;
		if (str == &v) {
			if (x->nenv >= OCIKIT_EXEC_MAXENV)
				return 0;
			x->env[x->nenv++] = v;
		}
	}
	if (i >= argc)
		return 0;
	x->id = argv[i];
	x->argv = argv + i + 1;
	x->argc = argc - i - 1;
	return 1;
}


void fx_put(struct buf *b, const void *d, size_t n)
{
	if (b->bad)
		return;
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		unsigned char *p;
		while (cap < b->n + n)
			cap *= 2;
		if (!(p = realloc(b->p, cap))) {
			b->bad = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
}

void fx_put32(struct buf *b, uint32_t v) { fx_put(b, &v, 4); }
void fx_put64(struct buf *b, uint64_t v) { fx_put(b, &v, 8); }

/* rec starts a record (nsenter.Final's encoding): its tag and a length
 * that recend fills in. */
size_t fx_rec(struct buf *b, uint32_t tag)
{
	size_t at;

	fx_put32(b, tag);
	at = b->n;
	fx_put32(b, 0);
	return at;
}

void fx_recend(struct buf *b, size_t at)
{
	uint32_t n = b->n - at - 4;

	if (!b->bad)
		memcpy(b->p + at, &n, 4);
}

void fx_recstr(struct buf *b, uint32_t tag, const char *s)
{
	size_t at = fx_rec(b, tag);
	fx_put(b, s, strlen(s));
	fx_recend(b, at);
}

static const struct {
	const char *name;
	int res;
} rlimits[] = {
	{"RLIMIT_CPU", 0}, {"RLIMIT_FSIZE", 1}, {"RLIMIT_DATA", 2}, {"RLIMIT_STACK", 3},
	{"RLIMIT_CORE", 4}, {"RLIMIT_RSS", 5}, {"RLIMIT_NPROC", 6}, {"RLIMIT_NOFILE", 7},
	{"RLIMIT_MEMLOCK", 8}, {"RLIMIT_AS", 9}, {"RLIMIT_LOCKS", 10}, {"RLIMIT_SIGPENDING", 11},
	{"RLIMIT_MSGQUEUE", 12}, {"RLIMIT_NICE", 13}, {"RLIMIT_RTPRIO", 14}, {"RLIMIT_RTTIME", 15},
};

/* Namespace types (config-linux.md) and their names under /proc/PID/ns. */
static const struct {
	const char *type, *proc;
	int fork;
} nstypes[] = {
	{"user", "user", 0}, {"pid", "pid", 1}, {"network", "net", 0}, {"mount", "mnt", 0},
	{"ipc", "ipc", 0}, {"uts", "uts", 0}, {"cgroup", "cgroup", 0}, {"time", "time", 1},
};

/* known reports whether every member of object o is one of names, with
 * the case given: encoding/json matches member names without regard to
 * case, jansson with it, so a name that differs only in case is Go's. */
int fx_known(json_t *o, const char *const *names)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v) {
		const char *const *n;
		for (n = names; *n && strcmp(k, *n); n++)
			if (!strcasecmp(k, *n))
				return 0;
		(void)v;
	}
	return 1;
}

/* absent is true for a member that is missing or null. */
int fx_absent(json_t *o, const char *k) { return fx_member(o, k) == NULL; }

/* fx_member is o's member k, NULL when it is missing or null (what Go's
 * decoder leaves at the zero value) or o is no object. */
json_t *fx_member(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return v && !json_is_null(v) ? v : NULL;
}

/* fx_plain reports whether s needs no escaping in JSON as Go's encoder
 * writes it (printable ASCII but '"', '\\', '<', '>' and '&'): the state
 * is then written with printf and is the same bytes as Go's. */
int fx_plain(const char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e || strchr("\"\\<>&", *s))
			return 0;
	return 1;
}

/* asciikeys reports whether every member name in v, at any depth, is
 * ASCII: encoding/json matches names by Unicode case folding (ſ is s, K
 * is k), which jansson and fx_known do not, so a name like "ſyscalls" is
 * a member to Go and an unknown one here. */
static int asciikeys(json_t *v)
{
	const char *k;
	json_t *m;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach(v, k, m) {
			for (const unsigned char *p = (const unsigned char *)k; *p; p++)
				if (*p >= 0x80)
					return 0;
			if (!asciikeys(m))
				return 0;
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, m) {
			if (!asciikeys(m))
				return 0;
		}
	}
	return 1;
}

/* negzero reports whether JSON text b has a number that starts with
 * "-0": jansson reads -0 as the integer 0, which encoding/json refuses
 * for an unsigned field. */
static int negzero(const char *b, size_t n)
{
	int instr = 0;

	for (size_t i = 0; i < n; i++) {
		if (instr) {
			if (b[i] == '\\')
				i++;
			else if (b[i] == '"')
				instr = 0;
		} else if (b[i] == '"')
			instr = 1;
		else if (b[i] == '-' && i + 1 < n && b[i + 1] == '0')
			return 1;
	}
	return 0;
}

/* fx_loadconf parses a configuration (config.json, exec's --process) as
 * the C paths read it: NULL when jansson refuses it, or when it holds what
 * jansson and encoding/json read differently (a duplicate member, -0, a
 * member name that only Unicode folding matches), which is Go's. */
json_t *fx_loadconf(const char *buf, size_t len)
{
	json_t *v;

	if (negzero(buf, len) || !(v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL)))
		return NULL;
	if (!asciikeys(v)) {
		json_decref(v);
		return NULL;
	}
	return v;
}

/* fx_str reads an optional string member ("" when missing or null): 0, or
 * -1 for anything else. */
int fx_str(json_t *o, const char *k, const char **out)
{
	json_t *v = json_object_get(o, k);

	*out = "";
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	*out = json_string_value(v);
	return 0;
}

/* u32 reads an integer member in 0..UINT32_MAX (0 when absent): 0 on
 * anything else. */
int fx_u32(json_t *o, const char *k, uint32_t *out)
{
	json_t *v = json_object_get(o, k);

	*out = 0;
	if (v == NULL || json_is_null(v))
		return 1;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > UINT32_MAX)
		return 0;
	*out = (uint32_t)json_integer_value(v);
	return 1;
}

/* strs reads an array of strings (NULL and 0 when absent or null):
 * -1 on anything else. */
int fx_strs(json_t *o, const char *k, const char ***out)
{
	json_t *a = json_object_get(o, k), *v;
	size_t i;

	*out = NULL;
	if (a == NULL || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return -1;
	*out = calloc(json_array_size(a) + 1, sizeof(char *));
	if (!*out)
		return -1;
	json_array_foreach(a, i, v) {
		if (!json_is_string(v))
			return -1;
		(*out)[i] = json_string_value(v);
	}
	return (int)json_array_size(a);
}

static int lastcap(void)
{
	char buf[16] = "";
	int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC), n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atoi(buf) : -1;
}

/* homedir is process.HomeDirIn: the home directory of uid in the
 * container's /etc/passwd, resolved in its root, or "/". */
static char *homedir(int rootfd, uint32_t uid)
{
	struct open_how how = {.flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC,
			       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	char *data = NULL, *line, *next, *home = NULL;
	size_t size;
	ssize_t got;
	int fd = syscall(SYS_openat2, rootfd, "etc/passwd", &how, sizeof(how));

	if (fd < 0)
		return strdup("/");
	got = ocikit_readfd(fd, 16 << 20, &data, &size);
	close(fd);
	if (got < 0)
		return strdup("/");
	/* convert.ParsePasswd: a line longer than its scanner takes is an
	 * error, which makes the whole file count as missing. */
	for (line = data; line && *line;) {
		next = strchr(line, '\n');
		if ((next ? (size_t)(next - line) : strlen(line)) > (1 << 20)) {
			free(data);
			return strdup("/");
		}
		line = next ? next + 1 : NULL;
	}
	for (line = data; line && *line && !home; line = next) {
		char *f[7] = {0}, *s, *e;
		int nf = 0;
		unsigned long long id[2];
		int ok = 1, k;

		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		for (s = line; *s == ' ' || (*s >= '\t' && *s <= '\r'); s++)
			;
		for (e = s + strlen(s); e > s && (e[-1] == ' ' || (e[-1] >= '\t' && e[-1] <= '\r')); e--)
			;
		*e = 0;
		if (!*s || *s == '#' || *s == '+' || *s == '-' || *s == ':')
			continue;
		for (f[nf++] = s; *s; s++) {
			if (*s == ':') {
				*s = 0;
				if (nf < 7)
					f[nf] = s + 1;
				nf++;
			}
		}
		if (nf < 4)
			continue;
		for (k = 0; k < 2; k++) {
			char *d = f[2 + k];
			if (!*d || strspn(d, "0123456789") != strlen(d) || strlen(d) > 10) {
				ok = 0;
				break;
			}
			id[k] = strtoull(d, NULL, 10);
			if (id[k] > 0x7fffffff)
				ok = 0;
		}
		if (ok && id[0] == uid && nf > 5 && f[5] && *f[5])
			home = strdup(f[5]);
	}
	free(data);
	return home ? home : strdup("/");
}

/* envname returns the length of kv's name (up to '='). */
static size_t envname(const char *kv)
{
	const char *eq = strchr(kv, '=');
	return eq ? (size_t)(eq - kv) : strlen(kv);
}

/* hostid maps a container id through linux.uidMappings or gidMappings
 * (identity without them), as runtime's hostID. */
uint32_t fx_hostid(json_t *maps, uint32_t id)
{
	json_t *m;
	size_t i;

	if (!json_is_array(maps))
		return id;
	json_array_foreach(maps, i, m) {
		uint32_t c, h, s;
		if (!fx_u32(m, "containerID", &c) || !fx_u32(m, "hostID", &h) || !fx_u32(m, "size", &s))
			continue;
		if (id >= c && id - c < s)
			return h + id - c;
	}
	return id;
}


void fx_addenv(struct launch *l, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s && l->nenv < 7)
		l->env[l->nenv++] = s;
}

int fx_addfd(struct launch *l, int fd)
{
	l->fds[l->nfds] = fd;
	return l->nfds++;
}

/* fx_launchenv gives the process newLauncher's environment: its final
 * plan on descriptor 4, non-dumpable, transparent huge pages off for it
 * (*thp: turned off here, to be turned back on if the command goes to
 * Go), its oom_score_adj, nsenter's plan on descriptor nsenterfd. -1 when
 * a variable could not be made. */
int fx_launchenv(struct launch *l, const struct proc *pr, int nsenterfd, int *thp)
{
	fx_addenv(l, "_OCIKIT_FINAL=4");
	fx_addenv(l, "_OCIKIT_NODUMP=1");
	*thp = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) == 0 && prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0;
	if (*thp)
		fx_addenv(l, "_OCIKIT_THP=1");
	if (pr->has_oom)
		fx_addenv(l, "_OCIKIT_OOM=%d", pr->oom);
	fx_addenv(l, "_OCIKIT_NSENTER=%d", nsenterfd);
	return l->nenv == 3 + *thp + pr->has_oom ? 0 : -1;
}

/* protected opens the binary for the process as initBinary's first
 * choice: a clone of /proc/self/exe's mount, read-only, nosuid, nodev.
 * -1 when the kernel or the caller's privileges refuse (Go then tries the
 * other ways). */
int fx_protected(void)
{
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
	int fd = syscall(SYS_open_tree, AT_FDCWD, "/proc/self/exe", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);

	if (fd < 0)
		return -1;
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* samens reports whether fd is the namespace at path. */
static int samens(int fd, const char *path)
{
	struct stat a, b;
	return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* joincgroup is Manager.Enter: pid into every cgroup directory of the
 * container (cgroup.procs), retrying while the kernel says EINVAL (a
 * process still being set up), as the cgroups library does. */
static int joincgroup(struct ocikit_fast_record *r, pid_t pid, char *msg, size_t msglen)
{
	char path[PATH_MAX], num[24], reason[256];
	int i, j, try, fd, err;

	snprintf(num, sizeof(num), "%d", (int)pid);
	for (i = 0; i < r->npaths; i++) {
		for (j = 0; j < i; j++)
			if (!strcmp(r->paths[i], r->paths[j]))
				break;
		if (j < i)
			continue;
		snprintf(path, sizeof(path), "%s/cgroup.procs", r->paths[i]);
		for (try = 0;; try++) {
			err = 0;
			fd = open(path, O_WRONLY | O_CLOEXEC);
			if (fd < 0 || write(fd, num, strlen(num)) < 0)
				err = errno;
			if (fd >= 0)
				close(fd);
			if (err != EINVAL || try >= 5)
				break;
			usleep(30000);
		}
		if (err) {
			snprintf(msg, msglen, "cgroup: cgroups: join %s: write %s: %s", r->paths[i], path,
				 ocikit_reason(err, reason, sizeof(reason)));
			return -1;
		}
	}
	return 0;
}

/* writepid is writePidFile: the pid, written atomically. */
int fx_writepid(const char *path, pid_t pid, char *msg, size_t msglen)
{
	char tmp[PATH_MAX + 64], num[24], reason[256];
	const char *base = strrchr(path, '/');
	int dlen = base ? (int)(base - path + 1) : 0, fd, err = 0, n;

	n = snprintf(num, sizeof(num), "%d", (int)pid);
	snprintf(tmp, sizeof(tmp), "%.*s.ocikit-tmp-%s-c%d", dlen, path, base ? base + 1 : path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write(fd, num, n) != n || fchmod(fd, 0644) < 0)
		err = errno;
	if (fd >= 0 && close(fd) < 0 && !err)
		err = errno;
	if (!err && rename(tmp, path) < 0)
		err = errno;
	if (err) {
		if (fd >= 0)
			unlink(tmp);
		snprintf(msg, msglen, "pid file: open %s: %s", path, ocikit_reason(err, reason, sizeof(reason)));
		return -1;
	}
	return 0;
}

static pid_t spawnchild(struct launch *l, int exefd, const sigset_t *mask, int *born, int errfd);

/* spawn starts the process with l's descriptors and environment (child.start),
 * born in l->cgfd's cgroup when it can be; returns its pid once it has
 * called execve, -1 with errno on failure (the execve's, which the child
 * sends over a close-on-exec pipe, as syscall.StartProcess does). */
pid_t fx_spawn(struct launch *l, int exefd, const sigset_t *mask, int *born)
{
	pid_t pid;
	int errp[2], err = 0;
	ssize_t n;

	*born = 0;
	if (pipe2(errp, O_CLOEXEC) < 0)
		return -1;
	pid = spawnchild(l, exefd, mask, born, errp[1]);
	err = errno;
	close(errp[1]);
	if (pid < 0) {
		close(errp[0]);
		errno = err;
		return -1;
	}
	while ((n = read(errp[0], &err, sizeof(err))) < 0 && errno == EINTR)
		;
	close(errp[0]);
	if (n == sizeof(err)) {
		waitpid(pid, NULL, 0);
		errno = err;
		return -1;
	}
	return pid;
}

/* spawnchild forks (or clones into l->cgfd's cgroup) the process; the
 * child reports a failed execve's errno on errfd. */
static pid_t spawnchild(struct launch *l, int exefd, const sigset_t *mask, int *born, int errfd)
{
	char *argv[] = {"ocikit", "init", NULL}, exe[32];
	pid_t pid = -1;
	int i, err;

	if (l->cgfd >= 0) {
		struct clone_args ca = {.flags = CLONE_INTO_CGROUP | l->cloneflags, .exit_signal = SIGCHLD,
					.cgroup = l->cgfd};
		pid = syscall(SYS_clone3, &ca, sizeof(ca));
		if (pid > 0)
			*born = 1;
	}
	if (pid < 0 && l->cloneflags) {
		/* New namespaces (an init): clone3 with their flags. */
		struct clone_args ca = {.flags = l->cloneflags, .exit_signal = SIGCHLD};
		pid = syscall(SYS_clone3, &ca, sizeof(ca));
		if (pid < 0)
			return -1;
	}
	if (pid < 0)
		pid = fork();
	if (pid != 0)
		return pid;
	/* The child: descriptors into place, above every target first; the
	 * error pipe right after them, closed by the execve. */
	if ((errfd = fcntl(errfd, F_DUPFD_CLOEXEC, MAXFDS + 3)) < 0)
		_exit(127);
	for (i = 0; i < l->nfds; i++) {
		int fd = l->fds[i];
		if (fd < 0)
			fd = open("/dev/null", i ? O_WRONLY : O_RDONLY);
		if (fd < 0 || (l->fds[i] = fcntl(fd, F_DUPFD, MAXFDS + 3)) < 0)
			goto fail;
	}
	for (i = 0; i < l->nfds; i++)
		if (dup2(l->fds[i], i) < 0)
			goto fail;
	if ((errfd = dup3(errfd, l->nfds, O_CLOEXEC)) < 0)
		_exit(127);
	syscall(SYS_close_range, l->nfds + 1, ~0U, 0);
	/* The dispositions a Go runtime command leaves its children
	 * (clearSignalHandlers): every signal it handles back to the default,
	 * ignored or not; an inherited SIG_IGN only where Go respects it
	 * (signals 32 and 33, glibc's; SIGHUP and SIGINT unless the command
	 * catches every signal in the foreground). */
	for (i = 1; i < 65; i++) {
		struct sigaction sa;
		if (i == SIGKILL || i == SIGSTOP || i == 32 || i == 33 || (!l->fg && (i == SIGHUP || i == SIGINT)))
			continue;
		if (sigaction(i, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN) {
			sa.sa_handler = SIG_DFL;
			sigaction(i, &sa, NULL);
		}
	}
	sigprocmask(SIG_SETMASK, mask, NULL);
	snprintf(exe, sizeof(exe), "/proc/self/fd/%d", exefd);
	l->env[l->nenv] = NULL;
	execve(exe, argv, l->env);
fail:
	err = errno;
	if (write(errfd, &err, sizeof(err)) < 0) {
		/* the runtime sees the pipe close without a word */
	}
	_exit(127);
}

/* logwarn writes a warning the process sent ({"type":"warn"}) as
 * logWarning: its message, the container, then its attributes. */
void fx_logwarn(const struct ocikit_fast_log *log, const char *id, json_t *m)
{
	const char *attrs[34];
	json_t *a = json_object_get(m, "attrs"), *v;
	size_t i;
	int n = 0;

	attrs[n++] = "container";
	attrs[n++] = id;
	json_array_foreach(a, i, v) {
		if (n < 34 && json_is_string(v))
			attrs[n++] = json_string_value(v);
	}
	ocikit_fast_warn(log, json_string_value(json_object_get(m, "msg")), attrs, n & ~1);
}

/* converse is launcher.converse for an exec'd process: until its execve
 * closes the socket. 0 on success (*pid the process's pid), 1 with msg. */
static int converse(int sync, struct ocikit_fast_record *r, int fork_, int born, pid_t *pid,
		    const struct ocikit_fast_log *log, const char *id, char *msg, size_t msglen)
{
	char buf[8192], cbuf[CMSG_SPACE(sizeof(int))], reason[256];
	int waiting = fork_;

	for (;;) {
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf) - 1};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
		struct cmsghdr *cm;
		json_t *m;
		const char *type;
		ssize_t n = recvmsg(sync, &mh, MSG_CMSG_CLOEXEC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(msg, msglen, "sync with exec: read: %s", ocikit_reason(errno, reason, sizeof(reason)));
			return 1;
		}
		if ((cm = CMSG_FIRSTHDR(&mh)) && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			/* A seccomp notify descriptor: SCMP_ACT_NOTIFY without a
			 * listener (one would have sent exec to Go). */
			int nfd;
			memcpy(&nfd, CMSG_DATA(cm), sizeof(nfd));
			close(nfd);
			snprintf(msg, msglen, "seccomp: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath");
			return 1;
		}
		if (n == 0) {
			if (waiting) {
				snprintf(msg, msglen, "exec: the process exited while joining the container's namespaces");
				return 1;
			}
			return 0;
		}
		buf[n] = 0;
		m = json_loads(buf, 0, NULL);
		type = json_string_value(json_object_get(m, "type"));
		if (!type) {
			snprintf(msg, msglen, "sync with exec: bad message %.100s", buf);
			json_decref(m);
			return 1;
		}
		if (!strcmp(type, "pid") && waiting) {
			*pid = (pid_t)json_integer_value(json_object_get(m, "pid"));
			waiting = 0;
		} else if (!strcmp(type, "cgroup") && !waiting) {
			if (!born && joincgroup(r, *pid, msg, msglen) < 0) {
				json_decref(m);
				return 1;
			}
			if (send(sync, "{\"type\":\"ok\"}", 13, MSG_NOSIGNAL) < 0) {
				/* it died: its error or EOF comes next */
			}
		} else if (!strcmp(type, "warn")) {
			fx_logwarn(log, id, m);
		} else if (!strcmp(type, "error")) {
			const char *e = json_string_value(json_object_get(m, "msg"));
			snprintf(msg, msglen, "%s", e ? e : "exec failed");
			json_decref(m);
			return 1;
		} else {
			snprintf(msg, msglen, "unexpected message \"%s\" from exec", type);
			json_decref(m);
			return 1;
		}
		json_decref(m);
	}
}

/* relaybuf is one direction of the stdio relay. */
struct relaybuf {
	int from, to;
	char buf[65536];
	size_t off, len;
};

/* fx_foreground is foreground.wait with pipeRelay: forward signals to pid,
 * copy stdio until the process exited and its stdout and stderr are
 * closed, then exit with its status (128+N for signal N). onexit, when
 * set, runs once the process has exited (run deletes the container). */
void fx_foreground(pid_t pid, int sfd, int relay[3], void (*onexit)(void *), void *arg)
{
	static struct relaybuf rb[3];
	int code = -1, i;

	rb[0].from = relay[0] >= 0 ? 0 : -1, rb[0].to = relay[0];
	rb[1].from = relay[1], rb[1].to = 1;
	rb[2].from = relay[2], rb[2].to = 2;
	if (relay[0] >= 0)
		fcntl(relay[0], F_SETFL, fcntl(relay[0], F_GETFL) | O_NONBLOCK);
	for (;;) {
		struct pollfd pf[5];
		int np = 0, idx[5];

		if (code >= 0 && rb[1].from < 0 && rb[2].from < 0)
			break;
		pf[np].fd = sfd, pf[np].events = POLLIN, idx[np++] = -1;
		for (i = 0; i < 3; i++) {
			struct relaybuf *b = &rb[i];
			if (b->from < 0 || b->to < 0)
				continue;
			if (b->len > b->off)
				pf[np].fd = b->to, pf[np].events = POLLOUT;
			else
				pf[np].fd = b->from, pf[np].events = POLLIN;
			idx[np++] = i;
		}
		if (poll(pf, np, -1) < 0)
			continue;
		for (i = 0; i < np; i++) {
			struct relaybuf *b;
			ssize_t n;

			if (!pf[i].revents)
				continue;
			if (idx[i] < 0) {
				struct signalfd_siginfo si;
				while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					int st;
					pid_t w;
					switch (si.ssi_signo) {
					case SIGCHLD:
						while ((w = waitpid(-1, &st, WNOHANG)) > 0)
							if (w == pid)
								code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
						if (w < 0 && errno == ECHILD && code < 0)
							code = 255;
						if (code >= 0 && onexit) {
							onexit(arg);
							onexit = NULL;
						}
						break;
					case SIGURG:
					case SIGPIPE:
					case SIGWINCH:
						break;
					default:
						kill(pid, si.ssi_signo);
					}
				}
				continue;
			}
			b = &rb[idx[i]];
			if (b->len > b->off) {
				n = write(b->to, b->buf + b->off, b->len - b->off);
				if (n > 0)
					b->off += n;
				else if (n < 0 && errno != EAGAIN && errno != EINTR)
					b->off = b->len = 0, b->from = -1; /* the reader is gone */
				if (b->off == b->len)
					b->off = b->len = 0;
				if (b->from < 0 && idx[i] == 0) {
					close(b->to);
					b->to = -1;
				}
				continue;
			}
			n = read(b->from, b->buf, sizeof(b->buf));
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n <= 0) {
				/* EOF: stdin's ends the process's stdin; an output's
				 * means the process and its children closed it. */
				if (idx[i] == 0) {
					close(b->to);
					b->to = -1;
				} else {
					close(b->from);
				}
				b->from = -1;
				continue;
			}
			b->off = 0, b->len = n;
			if (idx[i] > 0) {
				/* Output: written out at once, blocking, as io.Copy. */
				while (b->off < b->len) {
					ssize_t w = write(b->to, b->buf + b->off, b->len - b->off);
					if (w < 0 && errno == EINTR)
						continue;
					if (w < 0 && errno == EAGAIN) {
						/* The caller's descriptor is non-blocking. */
						struct pollfd wp = {.fd = b->to, .events = POLLOUT};
						poll(&wp, 1, -1);
						continue;
					}
					if (w <= 0) {
						/* The caller's side is gone: the process gets
						 * EPIPE or SIGPIPE on its next write. */
						close(b->from);
						b->from = -1;
						break;
					}
					b->off += w;
				}
				b->off = b->len = 0;
			}
		}
	}
	_exit(code);
}


void fx_freeproc(struct proc *o)
{
	if (o->ownargs)
		free(o->args);
	free(o->env);
}

/* userflag applies --user uid[:gid] (numbers): -1 on anything else. */
static int userflag(const char *u, struct proc *o)
{
	char *end;
	unsigned long long v;

	if (*u < '0' || *u > '9')
		return -1;
	errno = 0;
	v = strtoull(u, &end, 10);
	if (errno || v > UINT32_MAX || (*end && *end != ':'))
		return -1;
	o->uid = (uint32_t)v;
	if (*end != ':')
		return 0;
	if (end[1] < '0' || end[1] > '9')
		return -1;
	v = strtoull(end + 1, &end, 10);
	if (errno || v > UINT32_MAX || *end)
		return -1;
	o->gid = (uint32_t)v;
	return 0;
}

/* readcaps reads process.capabilities into o->caps: -1 for a name Go
 * would warn about (unknown, or beyond the running kernel's). */
static int readcaps(json_t *caps, struct proc *o)
{
	static const char *const fields[] = {"bounding", "effective", "inheritable", "permitted", "ambient", NULL};
	/* nsenter.Final's order: bounding, effective, permitted, inheritable,
	 * ambient. */
	static const int field[5] = {0, 1, 3, 2, 4};
	int i, j, k;

	if ((o->last = lastcap()) < 0 || o->last > 63)
		return -1;
	if (caps && !json_is_null(caps) && (!json_is_object(caps) || !fx_known(caps, fields)))
		return -1;
	for (i = 0; i < 5; i++) {
		const char **names;
		int n = fx_strs(caps, fields[field[i]], &names);
		if (n < 0) {
			free(names);
			return -1;
		}
		for (j = 0; j < n; j++) {
			for (k = 0; k < ocikit_ncapnames && strcmp(names[j], ocikit_capnames[k]); k++)
				;
			if (k == ocikit_ncapnames || k > o->last) {
				free(names);
				return -1;
			}
			o->caps[i] |= 1ULL << k;
		}
		free(names);
	}
	return 0;
}

/* rlimit returns the index in rlimits of a type's name, -1 if unknown. */
static int rlimit(const char *name)
{
	int k;

	for (k = 0; k < (int)(sizeof(rlimits) / sizeof(*rlimits)); k++)
		if (!strcmp(name, rlimits[k].name))
			return k;
	return -1;
}

/* checkrlimits is ValidateRlimits: known types, once each, soft <= hard
 * (numbers that encoding/json reads as uint64). */
static int checkrlimits(json_t *a)
{
	static const char *const fields[] = {"type", "hard", "soft", NULL};
	json_t *v, *w;
	size_t i, j;

	if (a && !json_is_null(a) && !json_is_array(a))
		return -1;
	json_array_foreach(a, i, v) {
		json_t *t = json_object_get(v, "type"), *s = json_object_get(v, "soft"), *h = json_object_get(v, "hard");
		if (!json_is_object(v) || !fx_known(v, fields) || !json_is_string(t) || rlimit(json_string_value(t)) < 0)
			return -1;
		if ((s && !json_is_integer(s)) || (h && !json_is_integer(h)) || (s && json_integer_value(s) < 0) ||
		    (h && json_integer_value(h) < 0) || json_integer_value(s) > json_integer_value(h))
			return -1;
		json_array_foreach(a, j, w) {
			if (j < i && json_equal(json_object_get(w, "type"), t))
				return -1;
		}
	}
	return 0;
}

/* readproc reads process p (the configuration's, or --process's) with
 * exec's flags into o: -1 when the command is Go's. */
int fx_readproc(json_t *p, const struct ocikit_exec_args *x, struct proc *o)
{
	static const char *const fields[] = {"terminal", "consoleSize", "user", "args", "commandLine", "env", "cwd",
					     "capabilities", "rlimits", "noNewPrivileges", "apparmorProfile",
					     "oomScoreAdj", "scheduler", "selinuxLabel", "ioPriority",
					     "execCPUAffinity", NULL};
	static const char *const userfields[] = {"uid", "gid", "umask", "additionalGids", "username", NULL};
	json_t *user, *v;
	size_t i;

	memset(o, 0, sizeof(*o));
	o->ownargs = 1;
	if (!json_is_object(p) || !fx_known(p, fields))
		return -1;
	/* What this path leaves to Go. */
	if (!fx_absent(p, "scheduler") || !fx_absent(p, "ioPriority") || !fx_absent(p, "execCPUAffinity"))
		return -1;
	if (!fx_absent(p, "apparmorProfile") &&
	    (!json_is_string(v = json_object_get(p, "apparmorProfile")) || *json_string_value(v)))
		return -1;
	if (!fx_absent(p, "selinuxLabel") && (!json_is_string(v = json_object_get(p, "selinuxLabel")) || *json_string_value(v)))
		return -1;
	/* The terminal: --process's, else --tty (execProcess); the console
	 * size only from --process. */
	v = json_object_get(p, "terminal");
	if (v && !json_is_null(v) && !json_is_boolean(v))
		return -1;
	o->terminal = x->process ? json_is_true(v) : x->tty;
	v = json_object_get(p, "consoleSize");
	if (x->process && v && !json_is_null(v)) {
		static const char *const sizefields[] = {"height", "width", NULL};
		if (!json_is_object(v) || !fx_known(v, sizefields) || !fx_u32(v, "height", &o->rows) ||
		    !fx_u32(v, "width", &o->cols) || o->rows > UINT16_MAX || o->cols > UINT16_MAX)
			return -1;
		o->has_size = 1;
	}
	if ((o->nargs = fx_strs(p, "args", &o->args)) < 0 || (o->nenv = fx_strs(p, "env", &o->env)) < 0)
		return -1;
	if (!x->process) {
		free(o->args);
		o->args = (const char **)x->argv;
		o->nargs = x->argc;
		o->ownargs = 0;
	}
	if (o->nargs < 1 || !o->args[0][0])
		return -1;
	v = json_object_get(p, "cwd");
	if (v && !json_is_null(v) && !json_is_string(v))
		return -1;
	o->cwd = json_is_string(v) ? json_string_value(v) : "";
	if (!x->process && x->cwd && *x->cwd)
		o->cwd = x->cwd;
	if (o->cwd[0] != '/')
		return -1; /* Go's error (checkCwd) */
	user = json_object_get(p, "user");
	if (user && !json_is_null(user) && (!json_is_object(user) || !fx_known(user, userfields)))
		return -1;
	if (!fx_u32(user, "uid", &o->uid) || !fx_u32(user, "gid", &o->gid) || !fx_u32(user, "umask", &o->umask))
		return -1;
	o->has_umask = !fx_absent(user, "umask");
	o->groups = json_object_get(user, "additionalGids");
	if (o->groups && !json_is_null(o->groups) && !json_is_array(o->groups))
		return -1;
	json_array_foreach(o->groups, i, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > UINT32_MAX)
			return -1;
	}
	if (!x->process && x->user && *x->user && userflag(x->user, o) < 0)
		return -1;
	v = json_object_get(p, "noNewPrivileges");
	if (v && !json_is_null(v) && !json_is_boolean(v))
		return -1;
	o->nnp = json_is_true(v);
	v = json_object_get(p, "oomScoreAdj");
	if (v && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < -1000 || json_integer_value(v) > 1000)
			return -1;
		o->oom = (int)json_integer_value(v), o->has_oom = 1;
	}
	if (readcaps(json_object_get(p, "capabilities"), o) < 0)
		return -1;
	o->rlimits = json_object_get(p, "rlimits");
	return checkrlimits(o->rlimits);
}

/* environment is the program's environment: process.env, then --env
 * (unless --process), merged as MergeEnv, with HOME from the container's
 * passwd when missing or empty (Environ). NULL when the command is Go's
 * (an --env without "="); *home holds the HOME entry made. */
const char **fx_environment(const struct proc *o, const struct ocikit_exec_args *x, int rootfd, int *n,
				char **home)
{
	const char **env = calloc(o->nenv + x->nenv + 2, sizeof(char *));
	int i, j, total = o->nenv + (x->process ? 0 : x->nenv);

	*n = 0;
	*home = NULL;
	if (!env)
		return NULL;
	for (i = 0; i < total; i++) {
		const char *kv = i < o->nenv ? o->env[i] : x->env[i - o->nenv];
		size_t len = envname(kv);
		if (i >= o->nenv && (!strchr(kv, '=') || len == 0)) {
			free(env);
			return NULL;
		}
		for (j = 0; j < *n && !(envname(env[j]) == len && !strncmp(env[j], kv, len)); j++)
			;
		env[j] = kv;
		if (j == *n)
			(*n)++;
	}
	for (j = 0; j < *n && !(envname(env[j]) == 4 && !strncmp(env[j], "HOME", 4)); j++)
		;
	if (j == *n || !env[j][4] || !env[j][5]) {
		char *h = homedir(rootfd, o->uid);
		if (!h || asprintf(home, "HOME=%s", h) < 0)
			*home = NULL;
		free(h);
		if (!*home) {
			free(env);
			return NULL;
		}
		env[j] = *home;
		if (j == *n)
			(*n)++;
	}
	return env;
}

/* fx_encode writes the final stage's plan (process.Final, with exec's
 * part of execSetup.run or the init's of launchC) into b. */
void fx_encode(struct buf *b, const struct proc *o, const char **env, int nenv, const struct fx_plan *f)
{
	json_t *v;
	size_t at, i;
	int k, init = f->startfd >= 0;

	for (k = 0; k < o->nargs; k++)
		fx_recstr(b, F_ARG, o->args[k]);
	for (k = 0; k < nenv; k++)
		fx_recstr(b, F_ENV, env[k]);
	fx_recstr(b, F_CWD, o->cwd);
	if (o->has_umask) {
		at = fx_rec(b, F_UMASK);
		fx_put32(b, o->umask);
		fx_recend(b, at);
	}
	at = fx_rec(b, F_USER);
	fx_put32(b, o->uid);
	fx_put32(b, o->gid);
	fx_recend(b, at);
	if (json_array_size(o->groups) > 0) {
		at = fx_rec(b, F_GROUPS);
		json_array_foreach(o->groups, i, v)
			fx_put32(b, (uint32_t)json_integer_value(v));
		fx_recend(b, at);
	}
	at = fx_rec(b, F_CAPS);
	for (k = 0; k < 5; k++)
		fx_put64(b, o->caps[k]);
	fx_put32(b, (uint32_t)o->last);
	fx_recend(b, at);
	if (o->nnp)
		fx_recend(b, fx_rec(b, F_NNP));
	json_array_foreach(o->rlimits, i, v) {
		const char *t = json_string_value(json_object_get(v, "type"));
		at = fx_rec(b, F_RLIMIT);
		fx_put32(b, rlimits[rlimit(t)].res);
		fx_put64(b, (uint64_t)json_integer_value(json_object_get(v, "soft")));
		fx_put64(b, (uint64_t)json_integer_value(json_object_get(v, "hard")));
		fx_put(b, t, strlen(t));
		fx_recend(b, at);
	}
	if (f->sc) {
		at = fx_rec(b, F_SECCOMP);
		fx_put(b, f->sc, f->sclen);
		fx_recend(b, at);
	}
	if (!init) {
		fx_recstr(b, F_NAME, "ocikit:exec");
		fx_recend(b, fx_rec(b, F_SETSID));
	}
	if (f->consolefd >= 0) {
		uint16_t rows = (uint16_t)o->rows, cols = (uint16_t)o->cols;
		unsigned char size = o->has_size;
		at = fx_rec(b, F_CONSOLE);
		fx_put32(b, (uint32_t)f->consolefd);
		fx_put(b, &rows, 2);
		fx_put(b, &cols, 2);
		fx_put(b, &size, 1);
		fx_recend(b, at);
	}
	at = fx_rec(b, F_ROOTFD);
	fx_put32(b, f->rootfd);
	fx_recend(b, at);
	if (f->keyring)
		fx_recstr(b, F_KEYRING, f->keyring);
	if (!init)
		fx_recend(b, fx_rec(b, F_CGROUP_SYNC));
	at = fx_rec(b, F_CLOSE_FROM);
	fx_put32(b, 3);
	fx_recend(b, at);
	if (init) {
		at = fx_rec(b, F_START);
		fx_put32(b, (uint32_t)f->startfd);
		fx_recend(b, at);
	}
}

/* ptyin opens a pseudo-terminal in the devpts at dev/pts of the
 * container's root rootfd (openPtyIn): resolved inside the root, opened
 * O_PATH and reopened only once it is the ptmx device (5:2) of a devpts,
 * unlocked, its slave from the master (TIOCGPTPEER). 0, or -1 when the
 * command is Go's (which also knows the fallback to the runtime's
 * devpts). */
static int ptyin(int rootfd, int *master, int *slave)
{
	struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	char path[64];
	struct statfs sfs;
	struct stat st;
	int fd, m, s, unlock = 0;

	*master = *slave = -1;
	if ((fd = (int)syscall(SYS_openat2, rootfd, "dev/pts/ptmx", &how, sizeof(how))) < 0)
		return -1;
	if (fstatfs(fd, &sfs) < 0 || fstat(fd, &st) < 0 || sfs.f_type != DEVPTS_SUPER_MAGIC ||
	    !S_ISCHR(st.st_mode) || st.st_rdev != makedev(5, 2)) {
		close(fd);
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	m = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	close(fd);
	if (m < 0)
		return -1;
	if (ioctl(m, TIOCSPTLCK, &unlock) < 0 || (s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		close(m);
		return -1;
	}
	*master = m;
	*slave = s;
	return 0;
}

/* sendconsole hands the pty master to the --console-socket caller, as
 * Go's sendConsole: one message naming it, the descriptor attached. */
static int sendconsole(const char *path, int master, char *msg, size_t msglen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char reason[256];
	int fd;

	strcpy(sa.sun_path, path); /* its length checked before the start */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(msg, msglen, "console socket: dial unix %s: connect: %s", path,
			 ocikit_reason(errno, reason, sizeof(reason)));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (ocikit_sendfd(fd, "/dev/ptmx", master) < 0) {
		snprintf(msg, msglen, "console socket %s: send pty: write unix ->%s: %s", path, path,
			 ocikit_reason(errno, reason, sizeof(reason)));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* joinplan opens the init's namespaces listed in linux.namespaces, but
 * those it shares with us, into nsfd and writes nsenter's join lines for
 * them (the descriptors the process gets from 6 on): their number, -1
 * when the command is Go's. */
static int joinplan(json_t *namespaces, long pid, int nsfd[MAXNS], struct launch *l)
{
	const int ntypes = sizeof(nstypes) / sizeof(*nstypes);
	char path[128];
	json_t *v;
	size_t i;
	int k, n = 0;

	if (namespaces && !json_is_null(namespaces) && !json_is_array(namespaces))
		return -1;
	json_array_foreach(namespaces, i, v) {
		const char *t = json_string_value(json_object_get(v, "type"));
		if (!t)
			return -1;
		for (k = 0; k < ntypes && strcmp(t, nstypes[k].type); k++)
			;
		if (k == ntypes || n >= MAXNS)
			return -1;
		snprintf(path, sizeof(path), "/proc/%ld/ns/%s", pid, nstypes[k].proc);
		if ((nsfd[n] = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			return -1;
		snprintf(path, sizeof(path), "/proc/self/ns/%s", nstypes[k].proc);
		if (samens(nsfd[n], path)) {
			/* shared with the host: joining our own user
			 * namespace would fail */
			close(nsfd[n]);
			nsfd[n] = -1;
			continue;
		}
		l->fork |= nstypes[k].fork;
		snprintf(path, sizeof(path), "join %s /proc/self/fd/%d\n", t, 6 + n);
		if (strlen(l->nsplan) + strlen(path) >= sizeof(l->nsplan))
			return -1;
		strcat(l->nsplan, path);
		n++;
	}
	return n;
}

int ocikit_fast_exec(const struct ocikit_exec_args *x, int dirfd, struct ocikit_fast_record *r,
		     const struct ocikit_fast_log *log, char *msg, size_t msglen)
{
	char *cfgbuf = NULL, *sc = NULL, *home = NULL, path[PATH_MAX], reason[256];
	json_t *cfg = NULL, *pfile = NULL, *linux_;
	const char **env = NULL;
	int nenv = 0, i, j, rootfd = -1, exefd = -1, ret = -1, born, thp = 0, blocked = 0, sfd = -1, unified;
	int master = -1, slave = -1, console;
	int cfgp[2] = {-1, -1}, nsp[2] = {-1, -1}, syncp[2] = {-1, -1}, stdio[3][2], nsfd[MAXNS], nns = 0;
	uint32_t hostuid, hostgid;
	size_t cfglen, sclen = 0;
	struct proc pr = {0};
	struct launch l;
	struct statfs sfs;
	sigset_t all, old;
	pid_t pid = -1, direct;

	memset(&l, 0, sizeof(l));
	l.cgfd = -1;
	for (i = 0; i < 3; i++)
		stdio[i][0] = stdio[i][1] = l.relay[i] = -1;
	for (i = 0; i < MAXNS; i++)
		nsfd[i] = -1;

	if (strcmp(r->status, "created") && strcmp(r->status, "running"))
		return -1;
	/* Hooks do not concern exec (record.Hooks also says "a seccomp
	 * listener", checked below from the configuration and the filter). */
	if (r->execother || ocikit_fast_alive(r->pid, r->initstart) != 1)
		return -1;
	/* The configuration: the copy create kept, and --process's. */
	if (!ocikit_fast_readall(dirfd, "config.json", &cfgbuf, &cfglen))
		return -1;
	cfg = fx_loadconf(cfgbuf, cfglen);
	free(cfgbuf);
	linux_ = json_object_get(cfg, "linux");
	if (!json_is_object(cfg) || !json_is_object(linux_) || !fx_absent(linux_, "personality"))
		goto out;
	if (x->process) {
		int fd = open(x->process, O_RDONLY | O_CLOEXEC);
		char *pbuf = NULL;
		size_t plen = 0;
		if (fd >= 0 && ocikit_readfull(fd, 64 << 20, &pbuf, &plen))
			pfile = fx_loadconf(pbuf, plen);
		if (fd >= 0)
			close(fd);
		free(pbuf);
		if (!pfile)
			goto out;
	}
	if (fx_readproc(x->process ? pfile : json_object_get(cfg, "process"), x, &pr) < 0)
		goto out;
	/* A terminal here only goes to --console-socket (detached, as
	 * containerd's shim and conmon ask); relayed in the foreground it is
	 * Go's, as are the errors of a terminal without a socket and of a
	 * socket without a terminal. */
	console = x->console && *x->console;
	if (pr.terminal ? !x->detach || !console || strlen(x->console) >= sizeof(((struct sockaddr_un *)0)->sun_path)
			: console)
		goto out;
	if (console && x->console[0] == '@')
		goto out; /* Go dials "@name" in the abstract namespace */
	/* The compiled seccomp filter create kept: flags, then BPF. A seccomp
	 * agent (listenerPath, a filter that makes a listener) gets the
	 * process's notify descriptor from Go's exec. */
	if (!fx_absent(linux_, "seccomp")) {
		json_t *sec = json_object_get(linux_, "seccomp"), *lp = json_object_get(sec, "listenerPath");
		uint32_t flags;
		if (!json_is_object(sec) || (lp && !json_is_null(lp) && (!json_is_string(lp) || *json_string_value(lp))))
			goto out;
		if (!ocikit_fast_readall(dirfd, "exec.seccomp", &sc, &sclen) || sclen < 12 || (sclen - 4) % 8)
			goto out;
		memcpy(&flags, sc, 4);
		if (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER)
			goto out;
	}
	if ((nns = joinplan(json_object_get(linux_, "namespaces"), r->pid, nsfd, &l)) < 0) {
		nns = MAXNS; /* close what was opened */
		goto out;
	}
	snprintf(path, sizeof(path), "/proc/%ld/root", r->pid);
	if ((rootfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		goto out;
	/* Opened from a pid that is still the init: not a recycled one. */
	if (ocikit_fast_alive(r->pid, r->initstart) != 1)
		goto out;
	/* The terminal is one of the container's devpts (openContainerPty),
	 * owned by the process's user (chownTerminal). */
	if (pr.terminal) {
		if (ptyin(rootfd, &master, &slave) < 0)
			goto out;
		if (fchown(slave, fx_hostid(json_object_get(linux_, "uidMappings"), pr.uid), -1) < 0 && errno != EINVAL &&
		    errno != EPERM)
			goto out;
	}
	if ((exefd = fx_protected()) < 0)
		goto out;
	if (!(env = fx_environment(&pr, x, rootfd, &nenv, &home)))
		goto out;
	{
		struct fx_plan f = {.sc = sc, .sclen = sclen, .rootfd = 6 + nns, .consolefd = pr.terminal ? 7 + nns : -1,
				    .keyring = r->nonewkeyring ? NULL : x->id, .startfd = -1};
		fx_encode(&l.plan, &pr, env, nenv, &f);
	}
	if (l.plan.bad)
		goto out;

	/* Descriptors: stdio, the binary, the plan pipe, the sync socket,
	 * the namespaces, the root, nsenter's plan (newLauncher's order). */
	if (pipe2(cfgp, O_CLOEXEC) < 0 || pipe2(nsp, O_CLOEXEC) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, syncp) < 0)
		goto out;
	/* The plan is written before the process reads it: room for all. */
	if (l.plan.n > 65536 && fcntl(cfgp[1], F_SETPIPE_SZ, (int)l.plan.n) < (int)l.plan.n)
		goto out;
	hostuid = fx_hostid(json_object_get(linux_, "uidMappings"), 0);
	hostgid = fx_hostid(json_object_get(linux_, "gidMappings"), 0);
	for (i = 0; i < 3; i++) {
		int child = i == 0 ? 0 : 1;
		if (x->detach) {
			/* the caller's stdio (/dev/null for one closed); with a
			 * terminal /dev/null: the terminal is the stdio. */
			fx_addfd(&l, pr.terminal || fcntl(i, F_GETFD) < 0 ? -1 : i);
			continue;
		}
		/* pipeRelay: pipes owned by the container's root, not the
		 * caller's files. */
		if (pipe2(stdio[i], O_CLOEXEC) < 0)
			goto out;
		if (fchown(stdio[i][child], hostuid, hostgid) < 0) {
			/* best effort, as Go's */
		}
		l.relay[i] = stdio[i][1 - child];
		fx_addfd(&l, stdio[i][child]);
	}
	fx_addfd(&l, exefd);
	fx_addfd(&l, cfgp[0]);
	fx_addfd(&l, syncp[1]);
	for (i = 0; i < nns; i++)
		fx_addfd(&l, nsfd[i]);
	fx_addfd(&l, rootfd);
	if (pr.terminal)
		fx_addfd(&l, slave);
	i = fx_addfd(&l, nsp[0]);
	if (fx_launchenv(&l, &pr, i, &thp) < 0)
		goto out;
	/* Born in the cgroup on cgroup v2 (clone3 CLONE_INTO_CGROUP); on v1
	 * moved when it asks, the grace period primed meanwhile. */
	unified = statfs("/sys/fs/cgroup", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC;
	if (unified && r->npaths == 1)
		l.cgfd = open(r->paths[0], O_PATH | O_DIRECTORY | O_CLOEXEC);
	/* The systemd driver's scope: born in it on cgroup v2, as Go's exec
	 * is; elsewhere Go's exec, which can ask systemd to move the
	 * process when a write to cgroup.procs is refused. */
	if (r->systemd && l.cgfd < 0)
		goto out;
	if (!unified && r->npaths > 0) {
		/* primeMigration: a no-op move of the init, so that the
		 * grace period overlaps with the rest of the setup. */
		snprintf(path, sizeof(path), "%s/cgroup.procs", r->paths[0]);
		ocikit_prime_cgroup(path, r->pid);
	}
	/* In the foreground signals wait from now on (newForeground), and a
	 * process forked into a pid namespace is our grandchild. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, x->detach ? NULL : &all, &old);
	l.fg = !x->detach;
	if (!x->detach) {
		blocked = 1;
		if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0 ||
		    (sfd = signalfd(-1, &all, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
			goto out;
	}

	/* The point of no return: from here on errors are reported. */
	direct = fx_spawn(&l, 3, &old, &born);
	if (direct < 0) {
		snprintf(msg, msglen, "start exec: fork/exec /proc/self/fd/%d: %s", exefd,
			 ocikit_reason(errno, reason, sizeof(reason)));
		ret = 1;
		goto out;
	}
	/* The process's ends are its own now. */
	for (i = 0; i < l.nfds; i++)
		if (l.fds[i] > 2)
			close(l.fds[i]);
	for (i = 0; i < 3; i++)
		stdio[i][i == 0 ? 0 : 1] = -1;
	exefd = rootfd = slave = cfgp[0] = nsp[0] = syncp[1] = -1;
	for (i = 0; i < nns; i++)
		nsfd[i] = -1;
	snprintf(path, sizeof(path), "sync 5\n%s%s", l.nsplan, l.fork ? "fork\n" : "");
	if (write(nsp[1], path, strlen(path)) < 0 || write(cfgp[1], l.plan.p, l.plan.n) != (ssize_t)l.plan.n) {
		snprintf(msg, msglen, "nsenter pipe: %s", ocikit_reason(errno, reason, sizeof(reason)));
		kill(direct, SIGKILL);
		ret = 1;
		goto out;
	}
	close(nsp[1]);
	close(cfgp[1]);
	nsp[1] = cfgp[1] = -1;
	pid = direct;
	if (converse(syncp[0], r, l.fork, born, &pid, log, x->id, msg, msglen)) {
		kill(pid, SIGKILL);
		if (pid != direct)
			kill(direct, SIGKILL);
		ret = 1;
		goto out;
	}
	if (master >= 0) {
		if (sendconsole(x->console, master, msg, msglen) < 0) {
			kill(pid, SIGKILL);
			ret = 1;
			goto out;
		}
		close(master);
		master = -1;
	}
	if (x->pidfile && *x->pidfile && fx_writepid(x->pidfile, pid, msg, msglen) < 0) {
		kill(pid, SIGKILL);
		ret = 1;
		goto out;
	}
	/* Running: the state lock goes, as Go's startExec returns. */
	close(dirfd);
	if (x->detach)
		_exit(0);
	fx_foreground(pid, sfd, l.relay, NULL, NULL);

out:
	for (i = 0; i < nns; i++)
		if (nsfd[i] >= 0)
			close(nsfd[i]);
	for (i = 0; i < 2; i++) {
		if (cfgp[i] >= 0)
			close(cfgp[i]);
		if (nsp[i] >= 0)
			close(nsp[i]);
		if (syncp[i] >= 0)
			close(syncp[i]);
	}
	for (i = 0; i < 3; i++)
		for (j = 0; j < 2; j++)
			if (stdio[i][j] >= 0)
				close(stdio[i][j]);
	if (rootfd >= 0)
		close(rootfd);
	if (master >= 0)
		close(master);
	if (slave >= 0)
		close(slave);
	if (exefd >= 0)
		close(exefd);
	if (l.cgfd >= 0)
		close(l.cgfd);
	if (sfd >= 0)
		close(sfd);
	if (ret < 0) {
		/* Back to what the Go command expects. */
		if (thp)
			prctl(PR_SET_THP_DISABLE, 0, 0, 0, 0);
		if (blocked) {
			prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
			sigprocmask(SIG_SETMASK, &old, NULL);
		}
	}
	for (i = 0; i < l.nenv; i++)
		free(l.env[i]);
	free(l.plan.p);
	free(env);
	free(home);
	free(sc);
	fx_freeproc(&pr);
	json_decref(pfile);
	json_decref(cfg);
	return ret;
}
