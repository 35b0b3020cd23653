//go:build linux && cgo

/* fast.c: `ocikit start ID`, `ocikit delete [--force] ID`, `ocikit kill
 * ID [SIGNAL]` and `ocikit state ID` in their common cases without the Go
 * runtime, and the dispatch of `exec` (fastexec.c) and of `create` and
 * `run` (fastcreate.c).
 *
 * create, start and delete are the three commands every container costs
 * its caller (containerd, podman, CRI-O), and the work of the last two is
 * small. start: take the container's lock, check that it is created, wake
 * the init over its start socket, wait for the execve and write the status
 * "running". delete of a container whose init has exited: remove its
 * (empty) cgroup directories and its state directory. kill (containerd
 * and podman stop containers so): signal the init. state (podman and
 * CRI-O ask it of every container they list): print the recorded state
 * with its status brought up to date. Starting the Go
 * runtime and its package initialisation for that costs ~15 ms and ~2 MB
 * per command here; this path costs about 1 ms.
 *
 * It is Runtime.Start, Runtime.Kill, Runtime.Delete and Runtime.State
 * (runtime/ops_linux.go) for the cases they can do alone: global flags it
 * knows and a state.json in the exact form writeState writes (a field it
 * does not know sends the command to Go); for start a created container
 * whose init lives, with no poststart hooks or seccomp listener
 * (record.Hooks unset); for kill a created or running one, without --all
 * and with a signal it knows; for delete one whose init is gone, without
 * hooks, host mounts or a bundle to remove, with a cgroup of the
 * filesystem driver that no process is left in. Anything else, and every
 * error before the point of no return, returns to the caller with nothing
 * changed that the Go command would not redo (a cgroup directory removed
 * before delete hands over is one Go's Destroy finds gone), and the Go
 * command does it all and reports as it always does. Errors after that
 * point are reported here in the command's format: "ocikit: start ID: MSG"
 * on stderr, and one record in the --log file (text or JSON, as
 * cmd/ocikit's slog handler writes it).
 *
 * cmd/ocikit calls ocikit_fast from a constructor of its own, so that
 * programs importing package runtime never take this path. */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <signal.h>
#include <dirent.h>
#include <pthread.h>
#include <sys/syscall.h>

#include "nsenter.h"

#define STATE_MAX (1 << 20)

struct fastargs {
	const char *cmd; /* "start", "delete", "kill" or "state" */
	int sig;	 /* kill's signal */
	const char *root;
	const char *id;
	const char *log;
	int json;
	struct ocikit_exec_args exec;
	struct ocikit_create_args create;
	int systemd;  /* --systemd-cgroup */
	int rootless; /* --rootless true */
};

/* flagval matches "--name VALUE" and "--name=VALUE" at argv[*i]: 1 with
 * *val set (and *i moved past the value), 0 when argv[*i] is not that
 * flag, -1 when the value is missing. */
static int flagval(char **argv, int argc, int *i, const char *name, const char **val)
{
	const char *a = argv[*i];
	size_t n = strlen(name);

	if (strncmp(a, name, n))
		return 0;
	if (a[n] == '=') {
		*val = a + n + 1;
		return 1;
	}
	if (a[n])
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*i += 1;
	*val = argv[*i];
	return 1;
}

static int validid(const char *id)
{
	size_t n = strlen(id);

	/* A leading '-' is a flag to cobra: Go's. */
	if (!n || n > 1024 || !strcmp(id, ".") || !strcmp(id, "..") || id[0] == '-')
		return 0;
	for (; *id; id++) {
		char c = *id;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '+' || c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

/* parsesig is runtime.ParseSignal for a number (0, the liveness probe, to
 * 64) and the common names, with or without SIG, any case; -1 for the
 * rest (real-time names, errors), which Go parses. */
static int parsesig(const char *s)
{
	static const struct {
		const char *name;
		int sig;
	} names[] = {
		{"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"KILL", SIGKILL},
		{"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"TERM", SIGTERM}, {"CONT", SIGCONT},
		{"STOP", SIGSTOP}, {"WINCH", SIGWINCH},
	};
	size_t i;
	int n = 0;

	if (*s >= '0' && *s <= '9') {
		for (; *s >= '0' && *s <= '9' && n <= 64; s++)
			n = n * 10 + (*s - '0');
		return *s || n > 64 ? -1 : n;
	}
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(s, names[i].name))
			return names[i].sig;
	return -1;
}

/* parseargs accepts `[GLOBAL FLAGS] start ID`, `delete [--force] ID`, `kill
 * ID [SIGNAL]` and `state ID` with the global flags of cmd/ocikit's root
 * command that do not change what these do; any other flag (--debug,
 * --vm, --help, one added later) leaves the command to Go. */
/* hostuidmap is runtime's isHostUIDMap for /proc/self/uid_map: the
 * identity map of the initial user namespace. */
static int hostuidmap(void)
{
	char buf[256], a[16], b[16], c[16], d[2];
	ssize_t n;
	int fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	return sscanf(buf, "%15s %15s %15s %1s", a, b, c, d) == 3 && !strcmp(a, "0") && !strcmp(b, "0") &&
	       !strcmp(c, "4294967295");
}

static int parseargs(int argc, char **argv, struct fastargs *a)
{
	const char *v, *base;
	int i, r;

	memset(a, 0, sizeof(*a));
	if (argc < 3 || !argv || !argv[0])
		return 0;
	base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	if (!strcmp(base, "ocikit-vm"))
		return 0; /* VM containers (cmd/ocikit vmName) */
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (arg[0] != '-')
			break;
		if ((r = flagval(argv, argc, &i, "--root", &v))) {
			if (r < 0 || !*v)
				return 0;
			a->root = v;
		} else if ((r = flagval(argv, argc, &i, "--log", &v))) {
			if (r < 0)
				return 0;
			a->log = *v ? v : NULL;
		} else if ((r = flagval(argv, argc, &i, "--log-format", &v))) {
			if (r < 0)
				return 0;
			if (!*v || !strcasecmp(v, "text"))
				a->json = 0;
			else if (!strcasecmp(v, "json"))
				a->json = 1;
			else
				return 0;
		} else if ((r = flagval(argv, argc, &i, "--rootless", &v))) {
			if (r < 0 || (strcmp(v, "true") && strcmp(v, "false") && strcmp(v, "auto")))
				return 0;
			a->rootless = !strcmp(v, "true");
		} else if ((r = flagval(argv, argc, &i, "--criu", &v))) {
			if (r < 0)
				return 0;
		} else if (!strcmp(arg, "--systemd-cgroup") || !strcmp(arg, "--systemd-cgroup=true") ||
			   !strcmp(arg, "--systemd-cgroup=false")) {
			/* the cgroup driver: state.json records the one used
			 * (create makes the cgroupfs one only) */
			a->systemd = strcmp(arg, "--systemd-cgroup=false") != 0;
		} else {
			return 0;
		}
	}
	if (i + 2 == argc && !strcmp(argv[i], "start")) {
		a->cmd = "start";
		a->id = argv[i + 1];
	} else if (i + 1 < argc && (!strcmp(argv[i], "delete") || !strcmp(argv[i], "rm"))) {
		/* One ID, with --force anywhere (pflag): a stopped container
		 * is deleted with or without it. */
		a->cmd = "delete";
		for (i++; i < argc; i++) {
			if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--force") ||
			    !strcmp(argv[i], "--force=true") || !strcmp(argv[i], "--force=false"))
				continue;
			if (argv[i][0] == '-' || a->id)
				return 0;
			a->id = argv[i];
		}
		if (!a->id)
			return 0;
	} else if (i + 2 == argc && !strcmp(argv[i], "state")) {
		a->cmd = "state";
		a->id = argv[i + 1];
	} else if (i + 1 < argc && !strcmp(argv[i], "exec")) {
		a->cmd = "exec";
		if (!ocikit_exec_parse(argc, argv, i + 1, &a->exec))
			return 0;
		a->id = a->exec.id;
	} else if (i + 1 < argc && (!strcmp(argv[i], "create") || !strcmp(argv[i], "run"))) {
		a->cmd = argv[i];
		/* The cgroupfs driver as root of the host's user namespace
		 * only: rootless cgroups are Go's (RootlessCgroups). */
		if (a->systemd || a->rootless || geteuid() != 0 || !hostuidmap() || !ocikit_create_parse(argc, argv, i + 1, !strcmp(argv[i], "run"), &a->create))
			return 0;
		a->id = a->create.id;
	} else if ((i + 2 == argc || i + 3 == argc) && !strcmp(argv[i], "kill")) {
		/* kill ID [SIGNAL] without --all (Go's: it freezes the cgroup). */
		a->cmd = "kill";
		a->id = argv[i + 1];
		a->sig = i + 3 == argc ? parsesig(argv[i + 2]) : SIGTERM;
		if (a->sig < 0)
			return 0;
	} else {
		return 0;
	}
	if (!validid(a->id))
		return 0;
	if (!a->root) {
		/* runtime.DefaultRoot: /run/ocikit for root of the host's user
		 * namespace, or without XDG_RUNTIME_DIR (conmon passes it
		 * empty); the other cases are Go's. */
		const char *xdg = getenv("XDG_RUNTIME_DIR");
		if (geteuid() != 0 || (xdg && *xdg && !hostuidmap()))
			return 0;
		a->root = "/run/ocikit";
	}
	return 1;
}

/* skipstr moves past a JSON string starting at *p (a '"'); 0 on malformed. */
static int skipstr(const char **p, const char *end)
{
	const char *s = *p;

	if (s >= end || *s != '"')
		return 0;
	for (s++; s < end; s++) {
		if (*s == '\\') {
			s++;
			continue;
		}
		if (*s == '"') {
			*p = s + 1;
			return 1;
		}
		if ((unsigned char)*s < 0x20)
			return 0;
	}
	return 0;
}

/* skipval moves past one JSON value at *p (no whitespace: fastjson writes
 * none); 0 on anything else. */
static int skipval(const char **p, const char *end, int depth)
{
	const char *s = *p;

	if (s >= end || depth > 64)
		return 0;
	if (*s == '"')
		return skipstr(p, end);
	if (*s == '{' || *s == '[') {
		char close = *s == '{' ? '}' : ']';
		s++;
		if (s < end && *s == close) {
			*p = s + 1;
			return 1;
		}
		for (;;) {
			if (close == '}') {
				if (!skipstr(&s, end) || s >= end || *s != ':')
					return 0;
				s++;
			}
			if (!skipval(&s, end, depth + 1) || s >= end)
				return 0;
			if (*s == close) {
				*p = s + 1;
				return 1;
			}
			if (*s != ',')
				return 0;
			s++;
		}
	}
	while (s < end && ((*s && strchr("-+.eE", *s)) || (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z')))
		s++;
	if (s == *p)
		return 0;
	*p = s;
	return 1;
}

/* lit moves past the literal text t at *p; 0 when *p does not start so. */
static int lit(const char **p, const char *end, const char *t)
{
	size_t n = strlen(t);

	if ((size_t)(end - *p) < n || memcmp(*p, t, n))
		return 0;
	*p += n;
	return 1;
}

static int number(const char **p, const char *end, unsigned long long *v)
{
	const char *s = *p;

	*v = 0;
	if (s >= end || *s < '0' || *s > '9')
		return 0;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		if (*v > (ULLONG_MAX - 9) / 10)
			return 0;
		*v = *v * 10 + (*s - '0');
	}
	*p = s;
	return 1;
}

/* struct ocikit_fast_record (nsenter.h) is what the C paths need of
 * state.json. */
#define record ocikit_fast_record

/* strval reads a JSON string without escapes at *p into the buffer
 * itself (NUL-terminating it in place of the closing quote); 0 if it has
 * escapes or is malformed. */
static int strval(char **p, const char *end, char **out)
{
	char *s = *p, *q;

	if (s >= end || *s != '"')
		return 0;
	for (q = s + 1; q < end && *q != '"'; q++)
		if (*q == '\\' || (unsigned char)*q < 0x20)
			return 0;
	if (q >= end)
		return 0;
	*q = 0;
	*out = s + 1;
	*p = q + 1;
	return 1;
}

/* parsecgroup reads cgroups.State: the directories of "paths", and
 * whether the systemd driver or rootless mode is in play. */
static int parsecgroup(char **pp, const char *end, struct record *r)
{
	char *p = *pp, *v;
	const char *cp;
	int sd;

	if (!lit((const char **)&p, end, "{"))
		return 0;
	if (*p == '}') {
		*pp = p + 1;
		return 1;
	}
	for (;;) {
		if (lit((const char **)&p, end, "\"paths\":{")) {
			while (*p != '}') {
				cp = p;
				if (!skipstr(&cp, end) || !lit(&cp, end, ":"))
					return 0;
				p = (char *)cp;
				if (r->npaths >= OCIKIT_FAST_MAXPATHS || !strval(&p, end, &v) || v[0] != '/')
					return 0;
				r->paths[r->npaths++] = v;
				if (*p == ',')
					p++;
				else if (*p != '}')
					return 0;
			}
			p++;
		} else if ((sd = lit((const char **)&p, end, "\"systemd\":")) ||
			   lit((const char **)&p, end, "\"rootless\":")) {
			if (sd && end - p >= 4 && !strncmp(p, "true", 4))
				r->systemd = 1;
			else
				r->execother = 1;
			cp = p;
			if (!skipval(&cp, end, 2))
				return 0;
			p = (char *)cp;
		} else if (lit((const char **)&p, end, "\"id\":") || lit((const char **)&p, end, "\"cgroupsPath\":") ||
			   lit((const char **)&p, end, "\"resources\":")) {
			cp = p;
			if (!skipval(&cp, end, 2))
				return 0;
			p = (char *)cp;
		} else {
			return 0; /* a field this code does not know */
		}
		if (p < end && *p == '}') {
			*pp = p + 1;
			return 1;
		}
		if (!lit((const char **)&p, end, ","))
			return 0;
	}
}

/* parsestate reads state.json as writeState writes it (runtime/store_linux.go
 * record, fastjson, no whitespace); 0 when it is not of that exact form.
 * The buffer is modified (paths are NUL-terminated in it). */
static int parsestate(char *buf, size_t len, const char *id, struct record *r)
{
	const char *p = buf, *end = buf + len, *w;
	unsigned long long v;
	char *q;

	memset(r, 0, sizeof(*r));
	r->stateoff = strlen("{\"state\":");
	if (!lit(&p, end, "{\"state\":{\"ociVersion\":") || !skipstr(&p, end) ||
	    !lit(&p, end, ",\"id\":\"") || !lit(&p, end, id) || !lit(&p, end, "\",\"pid\":"))
		return 0;
	r->pidoff = p - buf;
	if (!number(&p, end, &v) || v > INT_MAX)
		return 0;
	r->pidend = p - buf;
	if (!lit(&p, end, ",\"status\":\""))
		return 0;
	r->pid = (long)v;
	r->statusoff = p - buf;
	for (w = p; w < end && *w >= 'a' && *w <= 'z'; w++)
		;
	if (w == p || w - p >= (long)sizeof(r->status) || w >= end || *w != '"')
		return 0;
	memcpy(r->status, p, w - p);
	p = w + 1;
	/* The rest of the state object. */
	while (p < end && *p == ',') {
		p++;
		if (!skipstr(&p, end) || !lit(&p, end, ":") || !skipval(&p, end, 1))
			return 0;
	}
	if (!lit(&p, end, "}"))
		return 0;
	r->stateend = p - buf;
	/* The record's other members. */
	while (p < end && *p == ',') {
		p++;
		if (lit(&p, end, "\"hooks\":")) {
			r->hooks = 1;
			if (!skipval(&p, end, 1))
				return 0;
		} else if (lit(&p, end, "\"initStart\":")) {
			if (!number(&p, end, &r->initstart))
				return 0;
		} else if (lit(&p, end, "\"cgroup\":")) {
			q = (char *)p;
			if (!parsecgroup(&q, end, r))
				return 0;
			p = q;
		} else if (lit(&p, end, "\"hostMounts\":")) {
			r->execother = 1;
			if (!skipval(&p, end, 1))
				return 0;
		} else if (lit(&p, end, "\"noNewKeyring\":")) {
			r->nonewkeyring = lit(&p, end, "true");
			if (!r->nonewkeyring && !lit(&p, end, "false"))
				return 0;
		} else if (lit(&p, end, "\"ownPidNS\":")) {
			if (!skipval(&p, end, 1))
				return 0;
		} else {
			/* A field this code does not know (a later record's,
			 * the VM runtime's "vm"): Go's. */
			return 0;
		}
	}
	return lit(&p, end, "}") && p == end;
}

/* ocikit_fast_parse is parsestate for package nsenter's ParseFastRecord,
 * which tests hold against the runtime's writer. */
int ocikit_fast_parse(char *buf, size_t len, const char *id, struct ocikit_fast_record *r)
{
	return parsestate(buf, len, id, r);
}

/* alive is runtime's alive(): 1 when pid is a live process (not a zombie)
 * started at start (any when 0), from /proc/<pid>/stat; 0 when it is gone
 * or another; -1 when /proc did not say (the callers then leave the
 * command to Go). */
/* ocikit_fast_procstat reads /proc/PID/stat's state (field 3) and start
 * time (field 22, procStat): 1, 0 when the process is gone, -1 when the
 * file cannot be read as one. */
int ocikit_fast_procstat(long pid, char *state, unsigned long long *start)
{
	char path[64], buf[1024], *s;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? 0 : -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0 && errno == ESRCH)
		return 0; /* it exited between the open and the read */
	if (n <= 0)
		return -1;
	buf[n] = 0;
	s = strrchr(buf, ')');
	if (!s || s[1] != ' ' || !s[2])
		return -1;
	s += 2; /* field 3, the state */
	*state = *s;
	for (field = 3; field < 22; field++) {
		s = strchr(s, ' ');
		if (!s)
			return -1;
		s++;
	}
	return sscanf(s, "%llu", start) == 1 ? 1 : -1;
}

static int alive(long pid, unsigned long long start)
{
	unsigned long long st = 0;
	char state = 0;
	int rc = ocikit_fast_procstat(pid, &state, &st);

	if (state == 'Z' || state == 'X')
		return 0; /* exited, not reaped yet */
	if (rc <= 0)
		return rc;
	return start == 0 || st == start;
}

int ocikit_fast_alive(long pid, unsigned long long start) { return alive(pid, start); }

ssize_t ocikit_readfd(int fd, size_t max, char **out, size_t *size)
{
	struct stat st;
	char *buf;
	size_t got = 0;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max ||
	    !(buf = malloc(st.st_size + 1)))
		return -1;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	buf[got] = 0;
	*out = buf;
	*size = st.st_size;
	return got;
}

int ocikit_readfull(int fd, size_t max, char **out, size_t *len)
{
	char *buf;
	size_t size;
	ssize_t got = ocikit_readfd(fd, max, &buf, &size);

	if (got < 0)
		return 0;
	if ((size_t)got != size) {
		free(buf);
		return 0;
	}
	*out = buf;
	*len = size;
	return 1;
}

int ocikit_fast_readall(int dirfd, const char *name, char **out, size_t *len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), ok;

	if (fd < 0)
		return 0;
	ok = ocikit_readfull(fd, STATE_MAX, out, len);
	close(fd);
	if (ok && *len == 0) {
		free(*out);
		return 0;
	}
	return ok;
}

/* writestate replaces state.json as fsutil.WriteFile does: a temporary file
 * beside it, mode 0600, renamed over it. */
int ocikit_fast_writestate(int dirfd, const char *buf, size_t len)
{
	char tmp[64];
	size_t done = 0;
	int fd, i, err;

	for (i = 0;; i++) {
		snprintf(tmp, sizeof(tmp), ".ocikit-tmp-state.json-c%d-%d", (int)getpid(), i);
		fd = openat(dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd >= 0 || errno != EEXIST || i > 100)
			break;
	}
	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			close(fd);
			unlinkat(dirfd, tmp, 0);
			return -err;
		}
		done += n;
	}
	if (close(fd) < 0 || renameat(dirfd, tmp, dirfd, "state.json") < 0) {
		err = errno;
		unlinkat(dirfd, tmp, 0);
		return -err;
	}
	return 0;
}

/* wake is startInit: connect to the init's start socket (through the open
 * state directory, as sockPath names it), remove it, and wait until the
 * init closes its end by its execve (0) or writes why it failed (1, msg).
 * -1: the connection failed and nothing happened (Go reports it). */
static int wake(int dirfd, long pid, char *msg, size_t msglen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/start.sock", dirfd);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	unlinkat(dirfd, "start.sock", 0);
	for (;;) {
		char buf[4096], cbuf[CMSG_SPACE(sizeof(int))], reason[256];
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
		struct cmsghdr *cm;
		ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ocikit_reason(errno, reason, sizeof(reason));
			snprintf(msg, msglen, "wait for exec: recvmsg: %s", reason);
			close(fd);
			return 1;
		}
		if (n == 0 && mh.msg_controllen == 0) {
			close(fd);
			return 0;
		}
		cm = CMSG_FIRSTHDR(&mh);
		if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			/* A seccomp notify descriptor: the configuration has
			 * SCMP_ACT_NOTIFY but no listener (record.Hooks is set
			 * with one), as Runtime.sendSeccomp reports it. */
			int nfd;
			memcpy(&nfd, CMSG_DATA(cm), sizeof(nfd));
			close(nfd);
			kill(pid, SIGKILL);
			snprintf(msg, msglen, "seccomp: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath");
			close(fd);
			return 1;
		}
		snprintf(msg, msglen, "%.*s", (int)n, buf);
		close(fd);
		return 1;
	}
}

/* quote writes s, valid UTF-8, to f as Go's strconv.Quote does (slog's text
 * handler), or as slog's JSON handler writes a string's body (json). */
static void quote(FILE *f, const char *s, int json)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (c < 0x20)
				fprintf(f, json ? "\\u%04x" : "\\x%02x", c);
			else if (c == 0x7f && !json)
				fputs("\\x7f", f);
			else if (c == 0xe2 && (unsigned char)s[1] == 0x80 && ((unsigned char)s[2] & 0xfe) == 0xa8) {
				/* U+2028, U+2029: escaped by both */
				fprintf(f, "\\u202%c", s[2] == (char)0xa8 ? '8' : '9');
				s += 2;
			} else
				fputc(c, f);
		}
	}
}

/* timestamp writes the time now as RFC 3339 to the second, in the local
 * zone (logrus's format, cmd/ocikit's lowerLevel). */
static void timestamp(char *out, size_t size)
{
	char ts[40], off[8];
	time_t now = time(NULL);
	struct tm tm;
	int gmtoff;

	localtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	gmtoff = (int)(tm.tm_gmtoff / 60); /* minutes, within a day */
	if (gmtoff == 0)
		snprintf(off, sizeof(off), "Z");
	else
		snprintf(off, sizeof(off), "%c%02d:%02d", gmtoff < 0 ? '-' : '+', (abs(gmtoff) / 60) % 100,
			 abs(gmtoff) % 60);
	snprintf(out, size, "%s%s", ts, off);
}

/* logrecord writes the error as cmd/ocikit's slog handler does (level
 * "error", the time in RFC 3339 with seconds, logrus's format). */
static void logrecord(FILE *f, const char *msg, int json)
{
	char ts[64];

	timestamp(ts, sizeof(ts));
	if (json) {
		fprintf(f, "{\"time\":\"%s\",\"level\":\"error\",\"msg\":\"", ts);
		quote(f, msg, 1);
		fputs("\"}\n", f);
	} else {
		fprintf(f, "time=%s level=error msg=\"", ts);
		quote(f, msg, 0);
		fputs("\"\n", f);
	}
}

/* needsquote is slog's text handler's rule for a value, for ASCII. */
static int needsquote(const char *s)
{
	if (!*s)
		return 1;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == '=' || *s == '"' || *s == 0x7f)
			return 1;
	return 0;
}

/* textval writes one value of a text record, quoted when slog would. */
static void textval(FILE *f, const char *s)
{
	if (!needsquote(s)) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	quote(f, s, 0);
	fputc('"', f);
}

void ocikit_fast_warn(const struct ocikit_fast_log *l, const char *msg, const char **attrs, int nattrs)
{
	char ts[64];
	int i;
	FILE *f = stderr;

	if (l->path && !(f = fopen(l->path, "ae")))
		return;
	timestamp(ts, sizeof(ts));
	if (!msg)
		msg = "";
	if (l->json) {
		fprintf(f, "{\"time\":\"%s\",\"level\":\"warning\",\"msg\":\"", ts);
		quote(f, msg, 1);
		for (i = 0; i + 1 < nattrs; i += 2) {
			fputs("\",\"", f);
			quote(f, attrs[i], 1);
			fputs("\":\"", f);
			quote(f, attrs[i + 1], 1);
		}
		fputs("\"}\n", f);
	} else {
		fprintf(f, "time=%s level=warning msg=", ts);
		textval(f, msg);
		for (i = 0; i + 1 < nattrs; i += 2) {
			fprintf(f, " %s=", attrs[i]);
			textval(f, attrs[i + 1]);
		}
		fputc('\n', f);
	}
	if (f != stderr)
		fclose(f);
	else
		fflush(f);
}

/* report is cmd/ocikit's reportError for one error. */
static void report(const struct fastargs *a, const char *err)
{
	char msg[8192];
	FILE *lf;

	snprintf(msg, sizeof(msg), "%s %s: %s", a->cmd, a->id, err);
	if (!a->log && a->json) {
		logrecord(stderr, msg, 1);
		return;
	}
	fprintf(stderr, "ocikit: %s\n", msg);
	if (a->log && (lf = fopen(a->log, "ae"))) {
		logrecord(lf, msg, a->json);
		fclose(lf);
	}
}

/* emptycgroup reports whether the cgroup directory dir holds no process
 * (or is gone). */
static int emptycgroup(const char *dir)
{
	char path[PATH_MAX], c;
	ssize_t n;
	int fd;

	if (snprintf(path, sizeof(path), "%s/cgroup.procs", dir) >= (int)sizeof(path))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT;
	while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
		;
	close(fd);
	return n == 0;
}

/* clearstatedir is removeStateDir up to state.json: every other entry
 * (files and empty directories: a create leaves no other kind). */
int ocikit_fast_clearstatedir(int dirfd)
{
	struct dirent *de;
	DIR *d;
	int fd = dup(dirfd), ok = 1;

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while (ok && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !strcmp(de->d_name, "state.json"))
			continue;
		if (unlinkat(dirfd, de->d_name, 0) < 0 && errno != ENOENT &&
		    (errno != EISDIR || unlinkat(dirfd, de->d_name, AT_REMOVEDIR) < 0))
			ok = 0;
	}
	closedir(d);
	return ok;
}

/* fastdelete is Runtime.Delete of a container whose init is gone, with no
 * hooks, host mounts or bundle to remove and a cgroup of the filesystem
 * driver (destroy). 0: deleted; 1: failed after the state went (msg);
 * -1: left to Go. */
static int fastdelete(int dirfd, const char *dir, const char *buf, size_t len, struct record *r, char *msg,
		      size_t msglen)
{
	char reason[256];
	int i;

	if (r->hooks || r->systemd || r->execother || r->pid <= 0 || alive(r->pid, r->initstart) != 0 ||
	    memmem(buf, len, "\"org.ocikit.bundle.remove-on-delete\"", 36))
		return -1;
	for (i = 0; i < r->npaths; i++)
		if (!emptycgroup(r->paths[i]))
			return -1; /* processes outlived the init: Go's */
	/* Deepest first would matter only for nested paths, which one
	 * container's controllers never are. A cgroup with sub-cgroups left
	 * (EBUSY, ENOTEMPTY) is Go's Destroy's to remove. */
	for (i = 0; i < r->npaths; i++)
		if (rmdir(r->paths[i]) < 0 && errno != ENOENT)
			return -1;
	if (!ocikit_fast_clearstatedir(dirfd))
		return -1;
	if (unlinkat(dirfd, "state.json", 0) < 0 && errno != ENOENT)
		return -1;
	if (rmdir(dir) < 0 && errno != ENOENT) {
		ocikit_reason(errno, reason, sizeof(reason));
		snprintf(msg, msglen, "delete: remove %.2048s: %s", dir, reason);
		return 1;
	}
	return 0;
}

/* faststart is Runtime.Start of a created container without hooks. 0:
 * started; 1: failed after the init was woken (msg); -1: left to Go. */
static int faststart(int dirfd, char *buf, size_t len, struct record *r, char *msg, size_t msglen)
{
	char reason[256];
	int rc;

	if (r->hooks || strcmp(r->status, "created") || r->pid <= 0 || alive(r->pid, r->initstart) != 1)
		return -1;
	rc = wake(dirfd, r->pid, msg, msglen);
	if (rc)
		return rc;
	memcpy(buf + r->statusoff, "running", 7); /* "created": same length */
	rc = ocikit_fast_writestate(dirfd, buf, len);
	if (rc < 0) {
		ocikit_reason(-rc, reason, sizeof(reason));
		snprintf(msg, msglen, "write state: %s", reason);
		return 1;
	}
	return 0;
}

/* lockdir takes the state directory's lock (the Go command's
 * fsutil.Lock): 0, or -1. */
static int lockdir(int dirfd)
{
	int rc;

	while ((rc = flock(dirfd, LOCK_EX)) < 0 && errno == EINTR)
		;
	return rc;
}

/* loadstate reads and parses the container's state.json: 1 with *buf
 * (parsestate writes into what it parses), *copy (as read, which start
 * rewrites) and *len; 0 when the command is Go's. */
static int loadstate(int dirfd, const char *id, char **buf, char **copy, size_t *len, struct record *r)
{
	*buf = *copy = NULL;
	if (!ocikit_fast_readall(dirfd, "state.json", buf, len) || !(*copy = malloc(*len)))
		return 0;
	memcpy(*copy, *buf, *len);
	return parsestate(*buf, *len, id, r);
}

/* ocikit_fast_start is faststart for `run`, which holds the state
 * directory's lock since its create: 0, 1 (msg) or -1 (Go's start). */
int ocikit_fast_start(int dirfd, const char *id, char *msg, size_t msglen)
{
	struct record r;
	char *buf, *copy;
	size_t len;
	int rc = -1;

	if (loadstate(dirfd, id, &buf, &copy, &len, &r))
		rc = faststart(dirfd, copy, len, &r, msg, msglen);
	free(buf);
	free(copy);
	return rc;
}

/* ocikit_fast_delete is fastdelete for `run` once its program exited
 * (deleteQuiet): 0, 1 (msg) or -1 (Go's delete). */
int ocikit_fast_delete(const char *root, const char *id, char *msg, size_t msglen)
{
	struct record r;
	char dir[PATH_MAX], *buf = NULL, *copy = NULL;
	size_t len;
	int dirfd, rc = -1;

	if (snprintf(dir, sizeof(dir), "%s/%s", root, id) >= (int)sizeof(dir) ||
	    (dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	if (lockdir(dirfd) == 0 && loadstate(dirfd, id, &buf, &copy, &len, &r))
		rc = fastdelete(dirfd, dir, copy, len, &r, msg, msglen);
	free(buf);
	free(copy);
	close(dirfd);
	return rc;
}

/* fastkill is Runtime.Kill without --all of a created or running
 * container: the init's signal through a pidfd, the init checked to be
 * the one recorded. 0: sent; -1: left to Go (paused, gone, any error:
 * nothing was sent). */
static int fastkill(struct record *r, int sig)
{
	int fd, rc;

	if (strcmp(r->status, "created") && strcmp(r->status, "running"))
		return -1;
	if (r->pid <= 0 || (fd = syscall(SYS_pidfd_open, (pid_t)r->pid, 0)) < 0)
		return -1;
	/* The pid still names the init (the pidfd pins it from here on). */
	rc = alive(r->pid, r->initstart) == 1 ? (int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) : -1;
	close(fd);
	return rc < 0 ? -1 : 0;
}

/* putindented writes the JSON text s as cmd/ocikit's state does (a
 * json.Encoder with a two-space indent): json.Indent's layout, with <, >,
 * & and U+2028/9 in strings escaped as encoding/json escapes them. */
static void putindented(FILE *f, const char *s, size_t n)
{
	static const char *const hex = "0123456789abcdef";
	int depth = 0, instr = 0, k;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (instr) {
			if (c == '\\' && i + 1 < n) {
				fputc(c, f);
				fputc(s[++i], f);
			} else if (c == '<' || c == '>' || c == '&') {
				fprintf(f, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
			} else if (c == 0xe2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
				   ((unsigned char)s[i + 2] & 0xfe) == 0xa8) {
				fprintf(f, "\\u202%c", hex[s[i + 2] & 15]);
				i += 2;
			} else {
				if (c == '"')
					instr = 0;
				fputc(c, f);
			}
			continue;
		}
		switch (c) {
		case '"':
			instr = 1;
			fputc(c, f);
			break;
		case '{':
		case '[':
			fputc(c, f);
			if (i + 1 < n && (s[i + 1] == '}' || s[i + 1] == ']')) {
				fputc(s[++i], f);
				break;
			}
			depth++;
			fputc('\n', f);
			for (k = 0; k < depth; k++)
				fputs("  ", f);
			break;
		case '}':
		case ']':
			depth--;
			fputc('\n', f);
			for (k = 0; k < depth; k++)
				fputs("  ", f);
			fputc(c, f);
			break;
		case ',':
			fputc(c, f);
			fputc('\n', f);
			for (k = 0; k < depth; k++)
				fputs("  ", f);
			break;
		case ':':
			fputs(": ", f);
			break;
		default:
			fputc(c, f);
		}
	}
	fputc('\n', f);
}

/* faststate is Runtime.State and the state command's output: the recorded
 * state with the status brought up to date (record.refresh; the pid is 0
 * once stopped). 0: printed; -1: left to Go. */
static int faststate(const char *buf, struct record *r)
{
	const char *status = r->status;
	char pid[24];
	int live;

	if (strcmp(status, "creating") && strcmp(status, "created") && strcmp(status, "running") &&
	    strcmp(status, "paused") && strcmp(status, "stopped"))
		return -1;
	if (strcmp(status, "stopped")) {
		live = r->pid > 0 ? alive(r->pid, r->initstart) : 0;
		if (live < 0)
			return -1;
		if (!live && (r->pid > 0 || strcmp(status, "creating")))
			status = "stopped";
	}
	snprintf(pid, sizeof(pid), "%ld", strcmp(status, "stopped") ? r->pid : 0L);
	/* The state object with those two values replaced. */
	char *out;
	size_t n = 0, cap = r->stateend - r->stateoff + 64;
	if (!(out = malloc(cap)))
		return -1;
#define PUT(p, len) (memcpy(out + n, (p), (len)), n += (len))
	PUT(buf + r->stateoff, r->pidoff - r->stateoff);
	PUT(pid, strlen(pid));
	PUT(buf + r->pidend, r->statusoff - r->pidend);
	PUT(status, strlen(status));
	PUT(buf + r->statusoff + strlen(r->status), r->stateend - r->statusoff - strlen(r->status));
#undef PUT
	putindented(stdout, out, n);
	free(out);
	return fflush(stdout) == 0 ? 0 : -1;
}

/* A priming write: the pid for a cgroup.procs file. */
struct prime {
	char path[PATH_MAX];
	char pid[24];
};

static void *primewrite(void *arg)
{
	struct prime *p = arg;
	int fd = open(p->path, O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (write(fd, p->pid, strlen(p->pid)) < 0) {
			/* the real migration reports its own errors */
		}
		close(fd);
	}
	free(p);
	return NULL;
}

void ocikit_prime_cgroup(const char *procs, long pid)
{
	struct prime *p = malloc(sizeof(*p));
	sigset_t all, prev;
	pthread_t t;

	if (!p)
		return;
	snprintf(p->path, sizeof(p->path), "%s", procs);
	snprintf(p->pid, sizeof(p->pid), "%ld", pid);
	/* With every signal blocked: a process-directed signal (the SIGCHLD
	 * exec's foreground waits for on a signalfd, or one before the Go
	 * runtime has installed its handlers) must not go to this thread,
	 * whose default action would drop it. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &prev);
	if (pthread_create(&t, NULL, primewrite, p) == 0)
		pthread_detach(t);
	else
		free(p);
	pthread_sigmask(SIG_SETMASK, &prev, NULL);
}

/* primeself: for `create` and `run`, which Go does, a thread of the
 * constructor moves this process into the cgroup it is in (cgroup.procs of
 * its first cgroup v1 hierarchy): a no-op that starts the RCU grace period
 * the kernel's first cgroup migration after a quiet period waits for (the
 * rcu_sync of cgroup_threadgroup_rwsem, which every hierarchy shares;
 * ~10 ms here). The init's move into the container's cgroup, a few
 * milliseconds later, then waits only for what is left of it; exec's
 * primeMigration does the same with the init's pid. Nothing on cgroup v2,
 * where the init is born in its cgroup (clone3 CLONE_INTO_CGROUP). */
static void primeself(int argc, char **argv)
{
	char path[PATH_MAX], buf[4096], *line, *save;
	const char *cmd = NULL;
	ssize_t n;
	int i, fd;

	for (i = 1; i < argc && !cmd; i++) {
		if (argv[i][0] != '-')
			cmd = argv[i];
		else if (!strcmp(argv[i], "--root") || !strcmp(argv[i], "--log") || !strcmp(argv[i], "--log-format") ||
			 !strcmp(argv[i], "--criu") || !strcmp(argv[i], "--rootless"))
			i++; /* the flag's value */
	}
	if (!cmd || (strcmp(cmd, "create") && strcmp(cmd, "run")) || geteuid() != 0)
		return;
	if ((fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC)) < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	/* "ID:CONTROLLERS:PATH" lines; v2's has no controllers. */
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *ctl = strchr(line, ':'), *cg;
		if (!ctl || !(cg = strchr(++ctl, ':')) || cg == ctl || !strncmp(ctl, "name=", 5))
			continue;
		*cg++ = 0;
		if (strchr(ctl, ','))
			*strchr(ctl, ',') = 0; /* cpu,cpuacct: either mount's name */
		snprintf(path, sizeof(path), "/sys/fs/cgroup/%s%s/cgroup.procs", ctl, cg);
		if (access(path, W_OK) == 0)
			ocikit_prime_cgroup(path, getpid());
		return;
	}
}

/* ocikit_fast runs start, delete, kill or state when argv asks for one
 * and this path can do it all; it then exits (0, or 1 with the error
 * reported). Otherwise it returns, and the Go command runs. */
void ocikit_fast(int argc, char **argv)
{
	struct fastargs a;
	struct record r;
	char dir[PATH_MAX], msg[4096], *buf = NULL, *copy = NULL;
	size_t len;
	int dirfd, rc, logfd;

	if (getenv("_OCIKIT_NOFAST"))
		return;
	if (!parseargs(argc, argv, &a)) {
		primeself(argc, argv);
		return;
	}
	if (snprintf(dir, sizeof(dir), "%s/%s", a.root, a.id) >= (int)sizeof(dir))
		return;
	if (!strcmp(a.cmd, "create") || !strcmp(a.cmd, "run")) {
		struct ocikit_fast_log lg = {.path = a.log, .json = a.json};
		if (a.log) {
			if ((logfd = open(a.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0)
				return;
			close(logfd);
		}
		primeself(argc, argv);
		rc = a.create.run ? ocikit_fast_run(&a.create, a.root, &lg, msg, sizeof(msg))
				  : ocikit_fast_create(&a.create, a.root, &lg, NULL, msg, sizeof(msg));
		if (rc < 0)
			return;
		if (rc > 0) {
			report(&a, msg);
			_exit(1);
		}
		_exit(0);
	}
	if (a.log) {
		/* The Go command opens (creates) its log first, as runc. */
		logfd = open(a.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (logfd < 0)
			return;
		close(logfd);
	}
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return;
	/* state takes no lock: state.json is replaced atomically. */
	if (strcmp(a.cmd, "state") && lockdir(dirfd) < 0) {
		close(dirfd);
		return;
	}
	rc = -1;
	if (loadstate(dirfd, a.id, &buf, &copy, &len, &r)) {
		if (!strcmp(a.cmd, "start"))
			rc = faststart(dirfd, copy, len, &r, msg, sizeof(msg));
		else if (!strcmp(a.cmd, "kill"))
			rc = fastkill(&r, a.sig);
		else if (!strcmp(a.cmd, "state"))
			rc = faststate(copy, &r);
		else if (!strcmp(a.cmd, "exec")) {
			struct ocikit_fast_log lg = {.path = a.log, .json = a.json};
			rc = ocikit_fast_exec(&a.exec, dirfd, &r, &lg, msg, sizeof(msg));
		}
		else
			rc = fastdelete(dirfd, dir, copy, len, &r, msg, sizeof(msg));
	}
	if (rc < 0) {
		free(buf);
		free(copy);
		close(dirfd);
		return;
	}
	if (rc > 0) {
		report(&a, msg);
		/* exec's own failure: never a status its program could have. */
		_exit(strcmp(a.cmd, "exec") ? 1 : 255);
	}
	_exit(0);
}
