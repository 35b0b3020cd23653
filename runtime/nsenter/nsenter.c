//go:build linux && cgo

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "kernel.h"

#include "nsenter.h"



#define MAXJOIN 16

int ocikit_syncfd = -1;
int ocikit_thp_restore;

/* When >= 0, errors go to this descriptor as plain text instead of to the
 * sync socket as JSON (the init after start: the start command reads it). */
static int rawerrfd = -1;

void ocikit_send_json(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	int n;

	if (ocikit_syncfd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n >= (int)sizeof(buf))
		n = sizeof(buf) - 1;
	while (send(ocikit_syncfd, buf, n, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

void ocikit_json_escape(char *out, size_t size, const char *s)
{
	size_t i = 0;
	for (; *s && i + 7 < size; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[i++] = '\\';
			out[i++] = c;
		} else if (c < 0x20) {
			i += snprintf(out + i, size - i, "\\u%04x", c);
		} else {
			out[i++] = c;
		}
	}
	out[i] = 0;
}

void ocikit_set_rawerr(int fd) { rawerrfd = fd; }

void ocikit_failmsg(const char *msg)
{
	char esc[4200];

	if (rawerrfd >= 0) {
		while (write(rawerrfd, msg, strlen(msg)) < 0 && errno == EINTR)
			;
		_exit(1);
	}
	ocikit_json_escape(esc, sizeof(esc), msg);
	ocikit_send_json("{\"type\":\"error\",\"msg\":\"%s\"}", esc);
	_exit(1);
}

const char *ocikit_reason(int err, char *buf, size_t size)
{
	snprintf(buf, size, "%s", strerror(err));
	if (buf[0] >= 'A' && buf[0] <= 'Z')
		buf[0] += 'a' - 'A';
	return buf;
}

void ocikit_fail(const char *what, const char *arg, int err)
{
	char msg[2048], reason[256];

	ocikit_reason(err, reason, sizeof(reason));
	if (arg)
		snprintf(msg, sizeof(msg), "%s %s: %s", what, arg, reason);
	else
		snprintf(msg, sizeof(msg), "%s: %s", what, reason);
	ocikit_failmsg(msg);
}

static int nstype(const char *t)
{
	if (!strcmp(t, "user")) return CLONE_NEWUSER;
	if (!strcmp(t, "mount")) return CLONE_NEWNS;
	if (!strcmp(t, "pid")) return CLONE_NEWPID;
	if (!strcmp(t, "network")) return CLONE_NEWNET;
	if (!strcmp(t, "ipc")) return CLONE_NEWIPC;
	if (!strcmp(t, "uts")) return CLONE_NEWUTS;
	if (!strcmp(t, "cgroup")) return CLONE_NEWCGROUP;
	if (!strcmp(t, "time")) return CLONE_NEWTIME;
	return 0;
}

/* openproc opens a file of the runtime's own /proc for writing, checking
 * that it is on a procfs. Called before any namespace is joined: the /proc
 * of a mount namespace joined later may be a container's, covered by its
 * own files (CVE-2025-52881). Returns -errno on failure. */
static int openproc(const char *path)
{
	struct statfs sfs;
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstatfs(fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC) {
		close(fd);
		return -EXDEV;
	}
	return fd;
}

/* ocikit_procfd is the runtime's /proc (-1: none), for the final stage. */
int ocikit_procfd = -1;

/* openprocroot opens the root of the runtime's procfs (O_PATH), checked to
 * be one, or returns -1. */
static int openprocroot(void)
{
	struct statfs sfs;
	struct stat st;
	int fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstatfs(fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC || fstat(fd, &st) < 0 || st.st_ino != 1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The errno of a failed write of process.oomScoreAdj, for the Go side
 * (nsenter.OOMErrno). Not an environment variable: Go reads the
 * environment from the initial stack, and setenv(3) here would put a new
 * variable in a copy Go never sees. */
int ocikit_oom_errno;
char ocikit_oom_val[32];

/* setoom writes process.oomScoreAdj (_OCIKIT_OOM) to /proc/self/oom_score_adj
 * while the process is still in the runtime's namespaces and may write its
 * own /proc files (a non-dumpable process in a user namespace it entered
 * after execve may not: they belong to the host's root then), as runc's
 * nsexec does. A failure is left in ocikit_oom_errno for the Go side to
 * report with the other process attributes. */
static void setoom(void)
{
	const char *val = getenv("_OCIKIT_OOM");
	int fd, err = 0;

	if (val == NULL)
		return;
	snprintf(ocikit_oom_val, sizeof(ocikit_oom_val), "%s", val);
	fd = openproc("/proc/self/oom_score_adj");
	if (fd < 0)
		err = -fd;
	else if (write(fd, val, strlen(val)) < 0)
		err = errno;
	if (fd >= 0)
		close(fd);
	unsetenv("_OCIKIT_OOM");
	ocikit_oom_errno = err;
}

/* nodump makes the process non-dumpable when _OCIKIT_NODUMP asks for it
 * (see doc.go) and reports whether it stays dumpable. */
static int nodump(void)
{
	if (getenv("_OCIKIT_NODUMP") == NULL)
		return 1;
	unsetenv("_OCIKIT_NODUMP");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		_exit(1);
	return 0;
}

/* The process forked into a pid namespace, and what it runs. */
struct child {
	int order[2]; /* closed by the parent's exit: the child may go on */
	int planfd;   /* the final stage's plan (spawn_final) */
	int doinit, cgroupns, late;
};

/* wait_parent waits for the parent's exit, which closes order[1]. */
static void wait_parent(int order[2])
{
	char c;

	close(order[1]);
	while (read(order[0], &c, 1) < 0 && errno == EINTR)
		;
	close(order[0]);
}

static int final_child(void *arg)
{
	/* A copy: the parent's frame is not ours once it exits. */
	struct child c = *(struct child *)arg;

	wait_parent(c.order);
	if (c.doinit)
		ocikit_init_run(c.planfd, c.cgroupns, c.late);
	ocikit_final_run(c.planfd);
}

/* spawn_final forks a process that runs the final stage (which never
 * returns: execve or _exit) in the parent's address space, CLONE_VM on a
 * stack of its own, as posix_spawn(3) does: unlike fork(2), nothing is
 * copied, and the parent's exit, which the child waits for before it does
 * anything, only drops its reference to the memory. On this project's
 * machines a page-table copy and teardown cost ~1-2 ms per exec. The
 * memory's dumpable flag is shared: the parent set it before. */
#define FINAL_STACK (8 << 20)
static pid_t spawn_final(struct child *c)
{
	char *stack = mmap(NULL, FINAL_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	pid_t pid;

	if (stack != MAP_FAILED)
		return clone(final_child, stack + FINAL_STACK, CLONE_VM | SIGCHLD, c);
	/* No room for a stack (the caller's RLIMIT_AS): fork(2) as before. */
	pid = fork();
	if (pid == 0)
		final_child(c);
	return pid;
}

void ocikit_nsenter(void)
{
	const char *env = getenv("_OCIKIT_NSENTER");
	char line[4352];
	FILE *f;
	int planfd, i, n = 0, unshare_flags = 0, dofork = 0, dumpable, timensfd = -1, doinit = 0, cgroupns = 0, late = 0;
	int joinfd[MAXJOIN], jointype[MAXJOIN];
	char *joinpath[MAXJOIN];
	char offsets[8192] = "";

	/* The init runs from /proc/self/fd/N: name it for ps(1). */
	if (getenv("_OCIKIT_INITFD") != NULL)
		prctl(PR_SET_NAME, "ocikit:init", 0, 0, 0);
	if (getenv("_OCIKIT_THP") != NULL) {
		ocikit_thp_restore = 1;
		unsetenv("_OCIKIT_THP");
	}
	if (env == NULL) {
		setoom();
		nodump();
		return;
	}
	planfd = atoi(env);
	unsetenv("_OCIKIT_NSENTER");
	f = fdopen(planfd, "r");
	if (f == NULL)
		_exit(1);
	while (fgets(line, sizeof(line), f)) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		if (!strncmp(line, "sync ", 5)) {
			ocikit_syncfd = atoi(line + 5);
		} else if (!strncmp(line, "join ", 5) && n < MAXJOIN) {
			char *sp = strchr(line + 5, ' ');
			if (!sp)
				continue;
			*sp = 0;
			jointype[n] = nstype(line + 5);
			joinpath[n] = strdup(sp + 1);
			n++;
		} else if (!strncmp(line, "unshare ", 8)) {
			unshare_flags = atoi(line + 8);
		} else if (!strncmp(line, "timeoffset ", 11)) {
			/* "<clock> <secs> <nsecs>": the format of timens_offsets */
			size_t l = strlen(offsets);
			snprintf(offsets + l, sizeof(offsets) - l, "%s\n", line + 11);
		} else if (!strcmp(line, "fork")) {
			dofork = 1;
		} else if (!strcmp(line, "init")) {
			doinit = 1;
		} else if (!strcmp(line, "cgroupns")) {
			cgroupns = 1;
		} else if (!strcmp(line, "latecgroup")) {
			late = 1;
		} else if (!strcmp(line, "waitcgroup")) {
			late = 2;
		} else if (!strncmp(line, "cpus ", 5)) {
			/* An init that the runtime started on the CPU it
			 * started on: every page it and its execve charge to
			 * the container's cgroup comes from that CPU's batch
			 * of 64 pages, not from one per CPU it wandered to
			 * (memory.max_usage_in_bytes counts them all). The
			 * runtime's affinity, hex words, to take back. */
			ocikit_init_cpus(line + 5);
		}
	}
	fclose(f);

	/* timens_offsets too is opened now, in the runtime's /proc and while
	 * the file is still ours (after unshare(CLONE_NEWUSER) a non-dumpable
	 * process's /proc files belong to the host's root); the write checks
	 * CAP_SYS_TIME against the credentials of the opener. */
	if (offsets[0]) {
		timensfd = openproc("/proc/self/timens_offsets");
		if (timensfd < 0)
			ocikit_fail("open", "/proc/self/timens_offsets", -timensfd);
	}
	/* Both while the process may still write its own /proc files. */
	setoom();
	dumpable = nodump();
	/* The final stage (exec) reaches its /proc files through the
	 * runtime's procfs, opened before any mount namespace is joined. */
	if (getenv("_OCIKIT_FINAL") != NULL)
		ocikit_procfd = openprocroot();
	/* Open every path first: they name files in the runtime's mount
	 * namespace (config-linux.md), which joining a mount namespace hides. */
	for (i = 0; i < n; i++) {
		joinfd[i] = open(joinpath[i], O_RDONLY | O_CLOEXEC);
		if (joinfd[i] < 0)
			ocikit_fail("open namespace", joinpath[i], errno);
	}
	/* The user namespace first: the others may be owned by it. */
	for (i = 0; i < n; i++) {
		if (jointype[i] != CLONE_NEWUSER)
			continue;
		if (setns(joinfd[i], CLONE_NEWUSER) < 0)
			ocikit_fail("join user namespace", joinpath[i], errno);
		if (setresgid(0, 0, 0) < 0)
			ocikit_fail("setresgid in joined user namespace", NULL, errno);
		if (setresuid(0, 0, 0) < 0)
			ocikit_fail("setresuid in joined user namespace", NULL, errno);
	}
	for (i = 0; i < n; i++) {
		if (jointype[i] == CLONE_NEWUSER)
			continue;
		if (setns(joinfd[i], jointype[i]) < 0) {
			char what[64];
			snprintf(what, sizeof(what), "join namespace");
			ocikit_fail(what, joinpath[i], errno);
		}
		close(joinfd[i]);
	}
	if (unshare_flags & CLONE_NEWUSER) {
		char ack[64];
		if (unshare(CLONE_NEWUSER) < 0)
			ocikit_fail("unshare user namespace", NULL, errno);
		/* The runtime writes uid_map and gid_map; the process must be
		 * dumpable for it to open them. */
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		ocikit_send_json("{\"type\":\"maps\",\"pid\":%d}", getpid());
		if (recv(ocikit_syncfd, ack, sizeof(ack), 0) <= 0)
			_exit(1);
		if (!dumpable)
			prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
		if (setresgid(0, 0, 0) < 0)
			ocikit_fail("setresgid in new user namespace", NULL, errno);
		if (setresuid(0, 0, 0) < 0)
			ocikit_fail("setresuid in new user namespace", NULL, errno);
		unshare_flags &= ~CLONE_NEWUSER;
	}
	if (unshare_flags && unshare(unshare_flags) < 0)
		ocikit_fail("unshare namespaces", NULL, errno);
	if (timensfd >= 0) {
		if (write(timensfd, offsets, strlen(offsets)) < 0)
			ocikit_fail("write", "/proc/self/timens_offsets", errno);
		close(timensfd);
	}
	env = getenv("_OCIKIT_FINAL");
	if (dofork) {
		/* The child says nothing on sync before the parent's "pid"
		 * (its first message may otherwise come first): it waits for
		 * the end of the pipe, closed by the parent's exit. */
		struct child c = {.doinit = doinit, .cgroupns = cgroupns, .late = late, .planfd = -1};
		pid_t pid;
		if (pipe2(c.order, O_CLOEXEC) < 0)
			ocikit_fail("fork into pid namespace: pipe", NULL, errno);
		if (env != NULL) {
			c.planfd = atoi(env);
			unsetenv("_OCIKIT_FINAL");
			pid = spawn_final(&c);
		} else {
			pid = fork();
		}
		if (pid < 0)
			ocikit_fail("fork into pid namespace", NULL, errno);
		if (pid > 0) {
			close(c.order[0]);
			ocikit_send_json("{\"type\":\"pid\",\"pid\":%d}", pid);
			_exit(0);
		}
		wait_parent(c.order);
	}
	/* An exec'd process: the last steps and the execve in C, without
	 * starting the Go runtime (final.c). */
	if (env != NULL) {
		planfd = atoi(env);
		unsetenv("_OCIKIT_FINAL");
		if (doinit)
			ocikit_init_run(planfd, cgroupns, late);
		ocikit_final_run(planfd);
	}
}
