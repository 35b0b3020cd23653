//go:build linux && cgo

/* The final stage of a container process: the attributes it takes from
 * process (config.md) and the execve, carried out in C from a plan that
 * package process computed (final.go documents the format). An exec'd
 * process runs it from the constructor, before the Go runtime would start
 * (ocikit_final_run), so it never starts it; the container init calls the
 * two halves through cgo on its locked main thread (ocikit_final_setup
 * before it waits for start, ocikit_final_exec after). Credentials,
 * capabilities, the seccomp filter and the rest are per thread and the
 * execve keeps those of the thread that calls it, so they are set with raw
 * system calls on this thread only. Errors end the process after one line
 * to the runtime (ocikit_fail). */

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/vfs.h>
#include <termios.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <linux/mount.h>

#include "kernel.h"

#include "nsenter.h"

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

#define MAXHOOKS 64

struct hook {
	char *path, **argv, **envp;
	uint32_t timeout;
};

#define MAXRL 32
#define MAXARGS 65536

struct rlim {
	int res;
	uint64_t cur, max;
	char *name;
};

struct cpuset {
	unsigned char *mask;
	size_t len;
	char *label;
};

static struct {
	char **argv, **envp;
	int argc, envc;
	char *cwd;
	int has_umask;
	uint32_t umask;
	uint32_t uid, gid;
	gid_t *groups;
	int ngroups;
	uint64_t caps[5]; /* bounding, effective, permitted, inheritable, ambient */
	uint32_t lastcap;
	int nnp;
	struct rlim rl[MAXRL];
	int nrl;
	struct sock_filter *bpf;
	size_t nbpf;
	uint32_t scflags;
	int has_sched;
	uint32_t sched[12]; /* struct sched_attr, VER0 (48 bytes) */
	char *sched_label;
	int has_ioprio;
	uint64_t ioprio;
	char *ioprio_label;
	int has_pers;
	uint64_t pers;
	char *pers_label;
	int has_mpol;
	uint32_t mpol_mode;
	uint64_t *mpol_mask;
	size_t mpol_words;
	char *mpol_label;
	char *apparmor, *selinux, *name;
	struct cpuset cpu_initial, cpu_final;
	int setsid, consolefd, console_size, rootfd, cgroup_sync, close_from, startfd;
	uint16_t rows, cols;
	char *keyring;
	struct hook hooks[MAXHOOKS];
	int nhooks;
	char *hookstate;
	size_t hookstate_len;
	char path[PATH_MAX];
} F = {.consolefd = -1, .rootfd = -1, .close_from = -1, .startfd = -1};

/* Capability names (config.md, capabilities(7)) by number: those
 * moby/sys/capability knows, which the Go side takes. */
const char *const ocikit_capnames[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
	"CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
};
const int ocikit_ncapnames = sizeof(ocikit_capnames) / sizeof(ocikit_capnames[0]);

static const char *capname(unsigned i, char *buf, size_t size)
{
	if (i < (unsigned)ocikit_ncapnames)
		return ocikit_capnames[i];
	snprintf(buf, size, "CAP_%u", i);
	return buf;
}

/* failf reports a formatted message and exits. */
static void failf(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void failf(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ocikit_failmsg(msg);
}

#define WHY(e) ocikit_reason((e), why, sizeof(why))

/* warn sends a warning with attributes (key, value pairs) to the runtime. */
static void warn(const char *msg, const char *k1, const char *v1, const char *k2, const char *v2)
{
	char m[512], a[1024], b[1024], c[256], d[256];

	ocikit_json_escape(m, sizeof(m), msg);
	ocikit_json_escape(a, sizeof(a), v1);
	ocikit_json_escape(c, sizeof(c), k1);
	if (k2 == NULL) {
		ocikit_send_json("{\"type\":\"warn\",\"msg\":\"%s\",\"attrs\":[\"%s\",\"%s\"]}", m, c, a);
		return;
	}
	ocikit_json_escape(b, sizeof(b), v2);
	ocikit_json_escape(d, sizeof(d), k2);
	ocikit_send_json("{\"type\":\"warn\",\"msg\":\"%s\",\"attrs\":[\"%s\",\"%s\",\"%s\",\"%s\"]}", m, c, a, d, b);
}

static char *dupstr(const unsigned char *p, size_t n)
{
	char *s = malloc(n + 1);
	if (s == NULL)
		failf("final: out of memory");
	memcpy(s, p, n);
	s[n] = 0;
	return s;
}

static uint32_t u32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint64_t u64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static void need(size_t len, size_t n)
{
	if (len < n)
		failf("final: bad plan record");
}

static void push(char ***v, int *n, char *s)
{
	if (*n >= MAXARGS)
		failf("final: too many arguments or variables");
	*v = realloc(*v, (*n + 2) * sizeof(char *));
	if (*v == NULL)
		failf("final: out of memory");
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
}

static void parse(const unsigned char *p, size_t len)
{
	size_t off = 0;

	while (off < len) {
		uint32_t tag, n;
		const unsigned char *v;

		need(len - off, 8);
		tag = u32(p + off);
		n = u32(p + off + 4);
		off += 8;
		need(len - off, n);
		v = p + off;
		off += n;
		switch (tag) {
		case F_ARG:
			push(&F.argv, &F.argc, dupstr(v, n));
			break;
		case F_ENV:
			push(&F.envp, &F.envc, dupstr(v, n));
			break;
		case F_CWD:
			F.cwd = dupstr(v, n);
			break;
		case F_UMASK:
			need(n, 4);
			F.has_umask = 1;
			F.umask = u32(v);
			break;
		case F_USER:
			need(n, 8);
			F.uid = u32(v);
			F.gid = u32(v + 4);
			break;
		case F_GROUPS:
			F.ngroups = n / 4;
			F.groups = calloc(F.ngroups + 1, sizeof(gid_t));
			if (F.groups == NULL)
				failf("final: out of memory");
			for (int i = 0; i < F.ngroups; i++)
				F.groups[i] = u32(v + 4 * i);
			break;
		case F_CAPS:
			need(n, 44);
			for (int i = 0; i < 5; i++)
				F.caps[i] = u64(v + 8 * i);
			F.lastcap = u32(v + 40);
			break;
		case F_NNP:
			F.nnp = 1;
			break;
		case F_RLIMIT:
			need(n, 20);
			if (F.nrl >= MAXRL)
				failf("final: too many rlimits");
			F.rl[F.nrl].res = u32(v);
			F.rl[F.nrl].cur = u64(v + 4);
			F.rl[F.nrl].max = u64(v + 12);
			F.rl[F.nrl].name = dupstr(v + 20, n - 20);
			F.nrl++;
			break;
		case F_SECCOMP:
			need(n, 4);
			F.scflags = u32(v);
			if ((n - 4) % sizeof(struct sock_filter) != 0 || n == 4 || (n - 4) / sizeof(struct sock_filter) > 0xffff)
				failf("seccomp: load filter: %u bytes is not a BPF program", n - 4);
			F.nbpf = (n - 4) / sizeof(struct sock_filter);
			F.bpf = malloc(n - 4);
			if (F.bpf == NULL)
				failf("final: out of memory");
			memcpy(F.bpf, v + 4, n - 4);
			break;
		case F_SCHED:
			need(n, 48);
			F.has_sched = 1;
			memcpy(F.sched, v, 48);
			F.sched[0] = 48; /* size */
			F.sched_label = dupstr(v + 48, n - 48);
			break;
		case F_IOPRIO:
			need(n, 8);
			F.has_ioprio = 1;
			F.ioprio = u64(v);
			F.ioprio_label = dupstr(v + 8, n - 8);
			break;
		case F_PERSONALITY:
			need(n, 8);
			F.has_pers = 1;
			F.pers = u64(v);
			F.pers_label = dupstr(v + 8, n - 8);
			break;
		case F_MEMPOLICY: {
			uint32_t words;
			need(n, 8);
			F.has_mpol = 1;
			F.mpol_mode = u32(v);
			words = u32(v + 4);
			need(n - 8, (size_t)words * 8);
			F.mpol_words = words;
			F.mpol_mask = calloc(words + 1, 8);
			if (F.mpol_mask == NULL)
				failf("final: out of memory");
			memcpy(F.mpol_mask, v + 8, (size_t)words * 8);
			F.mpol_label = dupstr(v + 8 + (size_t)words * 8, n - 8 - (size_t)words * 8);
			break;
		}
		case F_APPARMOR:
			F.apparmor = dupstr(v, n);
			break;
		case F_SELINUX:
			F.selinux = dupstr(v, n);
			break;
		case F_NAME:
			F.name = dupstr(v, n);
			break;
		case F_CPU_INITIAL:
		case F_CPU_FINAL: {
			struct cpuset *c = tag == F_CPU_INITIAL ? &F.cpu_initial : &F.cpu_final;
			uint32_t ml;
			need(n, 4);
			ml = u32(v);
			need(n - 4, ml);
			c->mask = (unsigned char *)dupstr(v + 4, ml);
			c->len = ml;
			c->label = dupstr(v + 4 + ml, n - 4 - ml);
			break;
		}
		case F_SETSID:
			F.setsid = 1;
			break;
		case F_CONSOLE:
			need(n, 9);
			F.consolefd = (int)u32(v);
			F.console_size = v[8];
			memcpy(&F.rows, v + 4, 2);
			memcpy(&F.cols, v + 6, 2);
			break;
		case F_ROOTFD:
			need(n, 4);
			F.rootfd = (int)u32(v);
			break;
		case F_KEYRING:
			F.keyring = dupstr(v, n);
			break;
		case F_CGROUP_SYNC:
			F.cgroup_sync = 1;
			break;
		case F_CLOSE_FROM:
			need(n, 4);
			F.close_from = (int)u32(v);
			break;
		case F_START:
			need(n, 4);
			F.startfd = (int)u32(v);
			break;
		case F_HOOK: {
			struct hook *h;
			uint32_t na, ne;
			const char *q, *end = (const char *)v + n;
			char **all;
			need(n, 12);
			if (F.nhooks >= MAXHOOKS)
				failf("final: too many hooks");
			h = &F.hooks[F.nhooks++];
			h->timeout = u32(v);
			na = u32(v + 4);
			ne = u32(v + 8);
			if (na > MAXARGS || ne > MAXARGS)
				failf("final: bad hook record");
			all = calloc(na + ne + 3, sizeof(char *));
			if (all == NULL)
				failf("final: out of memory");
			q = (const char *)v + 12;
			for (uint32_t i = 0; i < 1 + na + ne; i++) {
				const char *z = memchr(q, 0, end - q);
				if (z == NULL)
					failf("final: bad hook record");
				all[i + (i > na ? 1 : 0)] = (char *)q;
				q = z + 1;
			}
			/* all: path, args..., NULL, env..., NULL */
			h->path = all[0];
			h->argv = all + 1;
			h->envp = all + 2 + na;
			if (na == 0) {
				/* Without args, argv[0] is the path (exec.Cmd's). */
				h->argv = calloc(2, sizeof(char *));
				if (h->argv == NULL)
					failf("final: out of memory");
				h->argv[0] = h->path;
			}
			break;
		}
		case F_HOOKSTATE:
			F.hookstate = (char *)v;
			F.hookstate_len = n;
			break;
		default:
			failf("final: unknown plan record %u", tag);
		}
	}
	if (F.argc == 0)
		failf("exec: process.args is empty");
}

static int isaddrspace(int res) { return res == RLIMIT_AS || res == RLIMIT_DATA; }

/* rlimits_early sets every rlimit but the address-space ones, whose hard
 * limit it only raises where asked (process.SetRlimitsEarly's rules). */
static void rlimits_early(void)
{
	char why[128];

	for (int i = 0; i < F.nrl; i++) {
		struct rlimit lim = {F.rl[i].cur, F.rl[i].max}, cur;
		if (isaddrspace(F.rl[i].res)) {
			if (prlimit(0, F.rl[i].res, NULL, &cur) < 0)
				failf("rlimits: process: get rlimit %s: %s", F.rl[i].name, WHY(errno));
			if (F.rl[i].max <= cur.rlim_max)
				continue;
			lim.rlim_cur = cur.rlim_cur;
			lim.rlim_max = F.rl[i].max;
		}
		if (prlimit(0, F.rl[i].res, &lim, NULL) < 0)
			failf("rlimits: process: set rlimit %s to %llu/%llu: %s", F.rl[i].name,
			      (unsigned long long)lim.rlim_cur, (unsigned long long)lim.rlim_max, WHY(errno));
	}
}

static void rlimits_late(void)
{
	char why[128];

	for (int i = 0; i < F.nrl; i++) {
		struct rlimit lim = {F.rl[i].cur, F.rl[i].max};
		if (!isaddrspace(F.rl[i].res))
			continue;
		if (prlimit(0, F.rl[i].res, &lim, NULL) < 0)
			failf("rlimits: process: set rlimit %s to %llu/%llu: %s", F.rl[i].name,
			      (unsigned long long)lim.rlim_cur, (unsigned long long)lim.rlim_max, WHY(errno));
	}
}

/* ocikit_sendfd sends the message msg with fd to the socket sock. */
int ocikit_sendfd(int sock, const char *msg, int fd)
{
	struct iovec iov = {(void *)msg, strlen(msg)};
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr mh = {0};
	struct cmsghdr *c;

	memset(cbuf, 0, sizeof(cbuf));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	while (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

/* waitok waits for the runtime's {"type":"ok"} on the sync socket and
 * exits quietly on anything else (the runtime reports the error). */
static void waitok(void)
{
	char buf[256];
	ssize_t n;

	do
		n = recv(ocikit_syncfd, buf, sizeof(buf) - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		_exit(1);
	buf[n] = 0;
	if (strstr(buf, "\"type\":\"ok\"") == NULL)
		_exit(1);
}

/* load_seccomp loads the filter; a notify descriptor goes to sock, and
 * with ack the runtime's answer is awaited. */
static void load_seccomp(int sock, int ack)
{
	struct sock_fprog prog = {(unsigned short)F.nbpf, F.bpf};
	char why[128];
	long r;

	r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, F.scflags, &prog);
	if (r < 0) {
		if (errno == EACCES)
			failf("seccomp: load filter: %s (without no_new_privs loading needs CAP_SYS_ADMIN)", WHY(errno));
		failf("seccomp: load filter: %s", WHY(errno));
	}
	if (F.scflags & SECCOMP_FILTER_FLAG_NEW_LISTENER) {
		if (ocikit_sendfd(sock, "{\"type\":\"seccomp\"}", (int)r) < 0)
			failf("seccomp: send notify fd: %s", WHY(errno));
		close((int)r);
		if (ack)
			waitok();
		return;
	}
	if (r != 0)
		failf("seccomp: load filter: thread %ld could not be synchronized", r);
}

/* openattr opens thread-self/<sub> of the procfs at procfd for writing,
 * never through a symbolic link or a mount on top of it. */
static int openattr(int procfd, const char *sub)
{
	struct open_how how = {0};
	char path[128];

	snprintf(path, sizeof(path), "thread-self/%s", sub);
	how.flags = O_WRONLY | O_CLOEXEC;
	how.resolve = RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_BENEATH;
	return (int)syscall(SYS_openat2, procfd, path, &how, sizeof(how));
}

/* procroot is the procfs the process's own files are reached through:
 * the runtime's, opened by the constructor before any namespace was
 * joined (exec), or else this mount namespace's /proc, checked to be the
 * root of a procfs (the init, which mounted it itself). */
static int procroot(void)
{
	struct statfs sfs;
	struct stat st;
	int fd;

	if (ocikit_procfd >= 0)
		return ocikit_procfd;
	fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && (fstatfs(fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC || fstat(fd, &st) < 0 || st.st_ino != 1)) {
		close(fd);
		errno = EXDEV;
		return -1;
	}
	return ocikit_procfd = fd;
}

static void writeattr(const char *what, const char *label, const char *const subs[], const char *data)
{
	char why[128];
	int fd = -1, err = ENOENT, procfd = procroot();

	for (int i = 0; subs[i] && fd < 0; i++) {
		fd = openattr(procfd, subs[i]);
		err = errno;
		if (fd < 0 && err != ENOENT)
			break;
	}
	if (fd < 0)
		failf("%s: process: %s %s: open: %s", what, what, label, WHY(err));
	if (write(fd, data, strlen(data)) < 0)
		failf("%s: process: %s %s: write: %s", what, what, label, WHY(errno));
	close(fd);
}

/* fix_stdio_owner gives stdio to the process's user, as fixStdioOwner
 * did: not /dev/null, and refusals (EPERM, EINVAL, EROFS) are ignored. */
static void fix_stdio_owner(void)
{
	char why[128];

	for (int fd = 0; fd < 3; fd++) {
		struct stat st;
		if (fstat(fd, &st) < 0) {
			if (errno == EBADF)
				continue;
			failf("stdio: fstat fd %d: %s", fd, WHY(errno));
		}
		if (st.st_uid == F.uid || (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3)))
			continue;
		if (fchown(fd, F.uid, -1) < 0 && errno != EPERM && errno != EINVAL && errno != EROFS)
			failf("stdio: chown fd %d: %s", fd, WHY(errno));
	}
}

static void set_user(void)
{
	char why[128];

	if (F.has_umask)
		umask(F.umask & 0777);
	if (syscall(SYS_setgroups, F.ngroups, F.groups) < 0) {
		/* Denied in a user namespace whose setgroups is "deny": fine
		 * when no groups are asked for. */
		if (!(errno == EPERM && F.ngroups == 0))
			failf("user: process: setgroups: %s", WHY(errno));
	}
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		failf("user: process: keep capabilities: %s", WHY(errno));
	if (syscall(SYS_setresgid, F.gid, F.gid, F.gid) < 0)
		failf("user: process: setresgid %u: %s", F.gid, WHY(errno));
	if (syscall(SYS_setresuid, F.uid, F.uid, F.uid) < 0)
		failf("user: process: setresuid %u: %s", F.uid, WHY(errno));
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
}

static int bit(const uint64_t m, unsigned i) { return i < 64 && (m >> i) & 1; }

static int capset3(uint64_t eff, uint64_t perm, uint64_t inh)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];

	d[0].effective = (uint32_t)eff;
	d[1].effective = (uint32_t)(eff >> 32);
	d[0].permitted = (uint32_t)perm;
	d[1].permitted = (uint32_t)(perm >> 32);
	d[0].inheritable = (uint32_t)inh;
	d[1].inheritable = (uint32_t)(inh >> 32);
	return (int)syscall(SYS_capset, &hdr, d);
}

/* apply_caps sets the five sets (process.ApplyCapabilities' rules): the
 * ones the runtime cannot grant are left out with a warning each. */
static void apply_caps(void)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	uint64_t cur_p, cur_i, cur_b = 0, want_b, want_e, want_p, want_i, want_a, warned = 0;
	char why[128], nb[32], refused[2048] = "";
	int lasterr = 0;

	if (syscall(SYS_capget, &hdr, d) < 0)
		failf("capabilities: process: read capabilities: capget: %s", WHY(errno));
	cur_p = (uint64_t)d[1].permitted << 32 | d[0].permitted;
	cur_i = (uint64_t)d[1].inheritable << 32 | d[0].inheritable;
	for (unsigned i = 0; i <= F.lastcap && i < 64; i++)
		if (prctl(PR_CAPBSET_READ, i, 0, 0, 0) == 1)
			cur_b |= 1ULL << i;
	want_b = F.caps[0];
	want_e = F.caps[1];
	want_p = F.caps[2];
	want_i = F.caps[3];
	want_a = F.caps[4];
	for (unsigned i = 0; i <= F.lastcap && i < 64; i++) {
		uint64_t m = 1ULL << i;
		int drop = ((want_b & m) && !(cur_b & m)) || ((want_e & m) && !(cur_p & m)) ||
			   ((want_p & m) && !(cur_p & m)) || ((want_i & m) && !(cur_p & m) && !(cur_i & m)) ||
			   ((want_a & m) && !(cur_p & m));
		if (!drop)
			continue;
		if (!(warned & m)) {
			warned |= m;
			warn("ignoring capability: the runtime does not hold it, so it cannot be granted", "capability",
			     capname(i, nb, sizeof(nb)), NULL, NULL);
		}
		if (!(cur_b & m))
			want_b &= ~m;
		if (!(cur_p & m)) {
			want_e &= ~m;
			want_p &= ~m;
			want_a &= ~m;
			if (!(cur_i & m))
				want_i &= ~m;
		}
	}
	/* The effective set raised to the permitted one, so that CAP_SETPCAP
	 * (to drop from the bounding set) is usable after set_user. */
	if (capset3(cur_p, cur_p, cur_i) < 0)
		failf("capabilities: process: raise effective capabilities: %s", WHY(errno));
	for (unsigned i = 0; i <= F.lastcap && i < 64; i++) {
		if (bit(cur_b, i) && !bit(want_b, i)) {
			if (!bit(cur_p, CAP_SETPCAP))
				failf("capabilities: process: drop %s from the bounding set: CAP_SETPCAP is not permitted",
				      capname(i, nb, sizeof(nb)));
			if (prctl(PR_CAPBSET_DROP, i, 0, 0, 0) < 0)
				failf("capabilities: process: drop bounding capabilities: %s", WHY(errno));
		}
	}
	if (capset3(want_e, want_p, want_i) < 0)
		failf("capabilities: process: set capabilities: %s", WHY(errno));
	/* Ambient: each raise on its own, a refusal is a warning (the kernel
	 * needs it permitted and inheritable; runc goes on without it). */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		failf("capabilities: process: reset ambient capabilities: %s", WHY(errno));
	for (unsigned i = 0; i <= F.lastcap && i < 64; i++) {
		if (!bit(want_a, i))
			continue;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, i, 0, 0) < 0) {
			size_t l = strlen(refused);
			lasterr = errno;
			snprintf(refused + l, sizeof(refused) - l, "%s%s", l ? "," : "", capname(i, nb, sizeof(nb)));
		}
	}
	if (refused[0])
		warn("cannot raise ambient capabilities (each must be permitted and inheritable)", "capabilities", refused,
		     "error", WHY(lasterr));
}

static int executable(const char *p, int *err)
{
	struct stat st;

	if (stat(p, &st) < 0) {
		*err = errno;
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		*err = EISDIR;
		return -2;
	}
	if ((st.st_mode & 0111) == 0) {
		*err = EACCES;
		return -2;
	}
	return 0;
}

/* lookpath resolves argv[0] as execvp(3) would, with PATH from the
 * process's environment, inside the container. */
static void lookpath(void)
{
	const char *name = F.argv[0], *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	char why[128];
	int err, r;

	if (strchr(name, '/')) {
		r = executable(name, &err);
		if (r == -1)
			failf("exec: stat %s: %s", name, WHY(err));
		if (r == -2)
			failf("exec: exec %s: %s", name, WHY(err));
		snprintf(F.path, sizeof(F.path), "%s", name);
		return;
	}
	for (int i = 0; i < F.envc; i++)
		if (!strncmp(F.envp[i], "PATH=", 5))
			path = F.envp[i] + 5;
	while (1) {
		const char *end = strchr(path, ':');
		size_t n = end ? (size_t)(end - path) : strlen(path);
		if (n == 0)
			snprintf(F.path, sizeof(F.path), "%s", name);
		else
			snprintf(F.path, sizeof(F.path), "%.*s/%s", (int)n, path, name);
		if (executable(F.path, &err) == 0)
			return;
		if (end == NULL)
			break;
		path = end + 1;
	}
	failf("exec: \"%s\": executable file not found in $PATH", name);
}

static void change_dir(void)
{
	const char *cwd = F.cwd && F.cwd[0] ? F.cwd : "/";
	char why[128], wd[PATH_MAX];
	long n;

	if (chdir(cwd) < 0)
		failf("cwd: chdir %s: %s", cwd, WHY(errno));
	/* A cwd such as /proc/self/fd/N lands where descriptor N points: one
	 * the runtime holds would leave the program outside its root
	 * (CVE-2024-21626); the kernel then answers "(unreachable)...". A
	 * seccomp filter refusing getcwd(2) cannot tell (see procsetup). */
	n = syscall(SYS_getcwd, wd, sizeof(wd));
	if ((n < 0 && errno == ENOENT) || (n > 0 && wd[0] != '/'))
		failf("cwd: %s is outside the container's root filesystem", cwd);
}

static void set_cpus(const char *what, struct cpuset *c)
{
	char why[128];

	if (c->mask == NULL || c->len == 0)
		return;
	if (sched_setaffinity(0, c->len, (cpu_set_t *)c->mask) < 0)
		failf("%s: process: set cpu affinity %s: %s", what, c->label, WHY(errno));
}

/* close_from marks every descriptor from low on close-on-exec. */
static void close_from(int low)
{
	char why[128];
	struct dirent *de;
	DIR *d;
	int fd;

	if (syscall(SYS_close_range, low, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	fd = openat(procroot(), "thread-self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || (d = fdopendir(fd)) == NULL)
		failf("close descriptors: open thread-self/fd: %s", WHY(errno));
	while ((de = readdir(d)) != NULL) {
		int n = atoi(de->d_name);
		if (de->d_name[0] >= '0' && de->d_name[0] <= '9' && n >= low && n != fd)
			fcntl(n, F_SETFD, FD_CLOEXEC);
	}
	closedir(d);
}

/* The affinity an init takes back before its execve (see "cpus" in
 * nsenter.c), if it was started on one CPU. */
static cpu_set_t init_cpus;
static int init_pinned;

void ocikit_init_cpus(const char *words)
{
	char *end;
	size_t i;

	CPU_ZERO(&init_cpus);
	for (i = 0; i < sizeof(init_cpus.__bits) / sizeof(init_cpus.__bits[0]); i++) {
		unsigned long w = strtoul(words, &end, 16);
		if (end == words)
			break;
		init_cpus.__bits[i] = w;
		words = end;
	}
	if (i == 0)
		return;
	/* Here: the execve that started this process could still move it
	 * to the idlest CPU (sched_exec), now it stays. */
	{
		cpu_set_t one;
		int cpu = sched_getcpu();
		CPU_ZERO(&one);
		if (cpu >= 0) {
			CPU_SET(cpu, &one);
			init_pinned = sched_setaffinity(0, sizeof(one), &one) == 0;
		}
	}
}

/* restore_cpus gives the calling process the runtime's affinity back,
 * which the kernel intersects with the cpuset the container is in; if
 * none of it is in there, that cpuset's CPUs, as the kernel does when it
 * moves a task into a cpuset that has none of its CPUs. -1 with errno. */
static int restore_cpus(void)
{
	cpu_set_t all;

	if (sched_setaffinity(0, sizeof(init_cpus), &init_cpus) == 0)
		return 0;
	memset(&all, 0xff, sizeof(all));
	return sched_setaffinity(0, sizeof(all), &all);
}

/* unpin ends the init's stay on one CPU: right before the program's
 * execve, or before a seccomp filter that is loaded earlier (without
 * no_new_privs, while the init still has CAP_SYS_ADMIN), since a filter
 * may refuse sched_setaffinity; the execve's charges then come from
 * wherever it runs. */
static void unpin(void)
{
	char why[128];

	if (!init_pinned)
		return;
	init_pinned = 0;
	if (restore_cpus() < 0)
		failf("restore CPU affinity: %s", WHY(errno));
}

/* setup gives the calling thread the process's attributes short of what
 * must come last (procsetup's order), and resolves the program. */
static void setup(int sock)
{
	char why[128];

	if (ocikit_oom_errno)
		failf("oomScoreAdj: set %s: write /proc/self/oom_score_adj: %s", ocikit_oom_val, WHY(ocikit_oom_errno));
	if (F.has_sched && syscall(SYS_sched_setattr, 0, F.sched, 0) < 0)
		failf("scheduler: process: set scheduler %s: %s", F.sched_label, WHY(errno));
	if (F.has_ioprio && syscall(SYS_ioprio_set, 1, 0, (int)F.ioprio) < 0)
		failf("ioPriority: process: set ioPriority %s: %s", F.ioprio_label, WHY(errno));
	if (F.has_pers && syscall(SYS_personality, (unsigned long)F.pers) < 0)
		failf("personality: process: set personality %s: %s", F.pers_label, WHY(errno));
	if (F.has_mpol &&
	    syscall(SYS_set_mempolicy, F.mpol_mode, F.mpol_words ? F.mpol_mask : NULL,
		    F.mpol_words ? F.mpol_words * 64 + 1 : 0) < 0)
		failf("memoryPolicy: process: set memoryPolicy %s: %s", F.mpol_label, WHY(errno));
	if (F.apparmor) {
		const char *subs[] = {"attr/apparmor/exec", "attr/exec", NULL};
		char data[1024];
		snprintf(data, sizeof(data), "exec %s", F.apparmor);
		writeattr("apparmor", F.apparmor, subs, data);
	}
	if (F.selinux) {
		const char *subs[] = {"attr/exec", NULL};
		writeattr("selinux label", F.selinux, subs, F.selinux);
	}
	/* The program gets the transparent huge pages its caller had (the
	 * setting is kept across execve): turned back on here, before any
	 * seccomp filter, which may refuse prctl, once the stage's own
	 * memory is touched. */
	if (ocikit_thp_restore)
		prctl(PR_SET_THP_DISABLE, 0, 0, 0, 0);
	/* Without no_new_privs loading a filter needs CAP_SYS_ADMIN: before
	 * the capabilities are dropped. With it, last (ocikit_final_exec). */
	if (F.bpf && !F.nnp) {
		unpin();
		load_seccomp(sock, 1);
	}
	rlimits_early();
	fix_stdio_owner();
	set_user();
	apply_caps();
	if (F.nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		failf("noNewPrivileges: process: set no_new_privs: %s", WHY(errno));
	change_dir();
	lookpath();
}

int ocikit_final_setup(const unsigned char *plan, size_t len, int syncfd)
{
	ocikit_syncfd = syncfd;
	parse(plan, len);
	setup(syncfd);
	return 0;
}

/* close_above closes every descriptor from low on but keep: the runtime's
 * own (its binary, namespaces, pipes) are close-on-exec already, but a
 * program named /proc/self/fd/N would be resolved through them by the
 * execve itself. Best effort: a seccomp filter may refuse close_range. */
static void close_above(int low, int keep)
{
	if (low < 0)
		return;
	if (keep < low) {
		syscall(SYS_close_range, low, ~0U, 0);
		return;
	}
	if (keep > low)
		syscall(SYS_close_range, low, keep - 1, 0);
	syscall(SYS_close_range, keep + 1, ~0U, 0);
}

void ocikit_final_exec(int errfd)
{
	char why[128];

	if (errfd >= 0)
		ocikit_set_rawerr(errfd);
	close_above(F.close_from, errfd >= 0 ? errfd : ocikit_syncfd);
	/* The address-space rlimits last: nothing is mapped after them. */
	rlimits_late();
	unpin();
	if (F.bpf && F.nnp)
		load_seccomp(errfd >= 0 ? errfd : ocikit_syncfd, errfd < 0);
	execve(F.path, F.argv, F.envp ? F.envp : (char *[]){NULL});
	failf("exec %s: %s", F.argv[0], WHY(errno));
}

/* readall reads the plan from fd until EOF. */
static unsigned char *readall(int fd, size_t *len)
{
	size_t cap = 8192, n = 0;
	unsigned char *buf = malloc(cap);

	for (;;) {
		ssize_t r;
		if (buf == NULL)
			failf("final: out of memory");
		if (n == cap)
			buf = realloc(buf, cap *= 2);
		if (buf == NULL)
			failf("final: out of memory");
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			char why[128];
			failf("final: read plan: %s", WHY(errno));
		}
		if (r == 0)
			break;
		n += r;
	}
	close(fd);
	*len = n;
	return buf;
}

/* console makes the pty slave fd the controlling terminal (the process
 * leads a session) and stdio, with the plan's size. */
static void console(int fd)
{
	char why[128];

	if (ioctl(fd, TIOCSCTTY, 0) < 0)
		failf("console: set controlling terminal: %s", WHY(errno));
	if (F.console_size) {
		struct winsize ws = {.ws_row = F.rows, .ws_col = F.cols};
		if (ioctl(fd, TIOCSWINSZ, &ws) < 0)
			failf("console: set console size: %s", WHY(errno));
	}
	for (int i = 0; i < 3; i++)
		if (dup3(fd, i, 0) < 0)
			failf("console: dup console: %s", WHY(errno));
	if (fd > 2)
		close(fd);
}

/* recvfd receives one message and the descriptor riding along (-1: none)
 * from the sync socket; the message must be {"type":"ok"}, or the process
 * exits quietly (the runtime reports the error). */
static int recvfd(void)
{
	char buf[256], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {buf, sizeof(buf) - 1};
	struct msghdr mh = {0};
	struct cmsghdr *c;
	ssize_t n;
	int fd = -1;

	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	do
		n = recvmsg(ocikit_syncfd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		_exit(1);
	buf[n] = 0;
	c = CMSG_FIRSTHDR(&mh);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	if (strstr(buf, "\"type\":\"ok\"") == NULL)
		_exit(1);
	return fd;
}

/* oneline folds in (n bytes) into one line in out, as the Go side's
 * oneLine: trimmed, CRs dropped, each newline "; ", blanks collapsed. */
static void oneline(const char *in, size_t n, char *out, size_t size)
{
	size_t i = 0, o = 0;
	int space = 0;

	while (n > 0 && (in[n - 1] == ' ' || (in[n - 1] >= '\t' && in[n - 1] <= '\r')))
		n--;
	while (i < n && (in[i] == ' ' || (in[i] >= '\t' && in[i] <= '\r')))
		i++;
	for (; i < n && o + 3 < size; i++) {
		char c = in[i];
		if (c == '\r')
			continue;
		if (c == '\n') {
			if (space && o > 0)
				out[o++] = ' ';
			out[o++] = ';';
			space = 1;
			continue;
		}
		if (c == ' ' || (c >= '\t' && c <= '\r')) {
			space = 1;
			continue;
		}
		if (space && o > 0)
			out[o++] = ' ';
		space = 0;
		out[o++] = c;
	}
	out[o] = 0;
}

/* run_hooks runs the startContainer hooks in order (runtime.md
 * "Lifecycle" step 7), as runHooks does in Go: the state on stdin, stdout
 * and stderr kept (4096 bytes) for the error, a timeout, at most a second
 * of waiting for output once the hook exited (a daemon it left may hold
 * the pipe). The first failure is reported to `start` over errfd and ends
 * the process. */
static void run_hooks(int errfd)
{
	char why[128];

	for (int k = 0; k < F.nhooks; k++) {
		struct hook *h = &F.hooks[k];
		char out[4097], line[4200], msg[4600];
		size_t got = 0;
		int in[2], op[2], status = 0, exited = 0, timedout = 0;
		struct timespec start, now;
		pid_t pid;

		if (pipe2(in, O_CLOEXEC) < 0 || pipe2(op, O_CLOEXEC) < 0)
			failf("startContainer hook %s: pipe: %s", h->path, WHY(errno));
		pid = fork();
		if (pid < 0)
			failf("startContainer hook %s: fork: %s", h->path, WHY(errno));
		if (pid == 0) {
			dup2(in[0], 0);
			dup2(op[1], 1);
			dup2(op[1], 2);
			if (ocikit_thp_restore)
				prctl(PR_SET_THP_DISABLE, 0, 0, 0, 0);
			/* A hook is not the init: the runtime's affinity
			 * (best effort; the hook's own failure says more). */
			if (init_pinned)
				restore_cpus();
			execve(h->path, h->argv, h->envp);
			_exit(127);
		}
		close(in[0]);
		close(op[1]);
		for (size_t off = 0; off < F.hookstate_len;) {
			ssize_t w = write(in[1], F.hookstate + off, F.hookstate_len - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			off += w;
		}
		close(in[1]);
		clock_gettime(CLOCK_MONOTONIC, &start);
		for (;;) {
			struct pollfd pfd = {op[0], POLLIN, 0};
			char buf[4096];
			long ms;
			int r;

			if (!exited && waitpid(pid, &status, WNOHANG) == pid) {
				exited = 1;
				clock_gettime(CLOCK_MONOTONIC, &start);
			}
			clock_gettime(CLOCK_MONOTONIC, &now);
			ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
			if (exited && ms >= 1000)
				break;
			if (!exited && h->timeout && ms >= (long)h->timeout * 1000) {
				kill(pid, SIGKILL);
				waitpid(pid, &status, 0);
				timedout = 1;
				break;
			}
			r = poll(&pfd, 1, 100);
			if (r < 0 && errno != EINTR)
				break;
			if (r <= 0)
				continue;
			r = read(op[0], buf, sizeof(buf));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				if (!exited)
					waitpid(pid, &status, 0);
				break;
			}
			if (got < sizeof(out) - 1) {
				size_t c = (size_t)r < sizeof(out) - 1 - got ? (size_t)r : sizeof(out) - 1 - got;
				memcpy(out + got, buf, c);
				got += c;
			}
		}
		close(op[0]);
		oneline(out, got, line, sizeof(line));
		if (timedout)
			snprintf(msg, sizeof(msg), "startContainer hook %s: timed out after %us", h->path, h->timeout);
		else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			continue;
		else if (WIFEXITED(status))
			snprintf(msg, sizeof(msg), "startContainer hook %s: exit status %d%s%s", h->path, WEXITSTATUS(status),
				 line[0] ? ": " : "", line);
		else {
			/* Go's signal names are strsignal's, lower-cased. */
			snprintf(why, sizeof(why), "%s", strsignal(WTERMSIG(status)));
			if (why[0] >= 'A' && why[0] <= 'Z')
				why[0] += 'a' - 'A';
			snprintf(msg, sizeof(msg), "startContainer hook %s: signal: %s%s%s", h->path, why,
				 line[0] ? ": " : "", line);
		}
		while (write(errfd, msg, strlen(msg)) < 0 && errno == EINTR)
			;
		_exit(1);
	}
}

/* ocikit_init_run is a container init that never starts Go: the runtime
 * prepares the root filesystem from a thread of its own that joined this
 * process's namespaces (runtime/cinit_linux.go), this process only does
 * what must be done by a member of its pid and cgroup namespaces, then
 * the final stage. The steps, each answered by the runtime over sync:
 *   1. fsopen("proc"): a procfs context of its pid namespace, sent to the
 *      runtime ("procfs"), which configures, mounts and moves it;
 *   2. born in its cgroup (cgroup v2), or once the runtime moved it
 *      ("ok", waitcgroup): unshare the cgroup namespace (cgroupns), rooted
 *      there, and say so ("cgroupns"); with latecgroup that comes after
 *      step 5, once the runtime has moved it meanwhile ("ok");
 *   4. read the final plan from planfd, written once the root
 *      filesystem is ready (pivot_root by the runtime's thread moved this
 *      process's root and working directory with it);
 *   5. with a terminal, receive the pty slave ("ok" with the descriptor);
 *      then the root the runtime's thread ended in (the same way), to
 *      chroot there;
 *   6. the process's attributes, "ready", accept(2) on the start socket,
 *      then the execve, errors going to `start` over the connection. */
void ocikit_init_run(int planfd, int cgroupns, int late)
{
	char why[128];
	size_t len;
	unsigned char *plan;
	int fs, conn;

	prctl(PR_SET_NAME, "ocikit:init", 0, 0, 0);
	/* The working directory follows pivot_root only from the old root. */
	if (chdir("/") < 0)
		failf("chdir /: %s", WHY(errno));
	if (setsid() < 0)
		failf("setsid: %s", WHY(errno));
	fs = syscall(SYS_fsopen, "proc", FSOPEN_CLOEXEC);
	if (fs < 0)
		failf("fsopen proc: %s", WHY(errno));
	if (ocikit_sendfd(ocikit_syncfd, "{\"type\":\"procfs\"}", fs) < 0)
		_exit(1);
	close(fs);
	if (late != 1) {
		/* Born in its cgroup (cgroup v2) or moved now (late == 2: the
		 * runtime answers once it has): the runtime's thread joins the
		 * cgroup namespace, which a cgroup2 mount is rooted at. */
		if (late == 2)
			waitok();
		if (cgroupns && unshare(CLONE_NEWCGROUP) < 0)
			failf("unshare cgroup namespace: %s", WHY(errno));
		ocikit_send_json("{\"type\":\"cgroupns\"}");
	}
	plan = readall(planfd, &len);
	parse(plan, len);
	if (F.consolefd >= 0) {
		int fd = recvfd();
		if (fd < 0)
			failf("console: no pty from the runtime");
		console(fd);
	}
	/* The root the runtime's thread ended in, over sync: its chroot(2)
	 * (--no-pivot, no mount namespace) moved that thread only, and its
	 * pivot_root(2) moved this process only if the runtime was not
	 * chroot'ed itself. */
	if (F.rootfd >= 0) {
		int fd = recvfd();
		if (fd < 0)
			failf("root: no root from the runtime");
		if (fchdir(fd) < 0)
			failf("root: fchdir: %s", WHY(errno));
		if (chroot(".") < 0)
			failf("root: chroot .: %s", WHY(errno));
		if (chdir("/") < 0)
			failf("root: chdir /: %s", WHY(errno));
		close(fd);
	}
	if (F.keyring && syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, F.keyring) < 0 && errno != ENOSYS)
		failf("join session keyring: %s", WHY(errno));
	if (F.close_from >= 0)
		close_from(F.close_from);
	if (late == 1) {
		/* In the container's cgroup by now (the runtime moved it
		 * while this process waited for its plan, and says so): what
		 * it touched before stays charged to the runtime's. Then the
		 * cgroup namespace, rooted there. */
		waitok();
		if (cgroupns && unshare(CLONE_NEWCGROUP) < 0)
			failf("unshare cgroup namespace: %s", WHY(errno));
	}
	setup(ocikit_syncfd);
	ocikit_send_json("{\"type\":\"ready\"}");
	close(ocikit_syncfd);
	ocikit_syncfd = -1;
	for (;;) {
		conn = accept4(F.startfd, NULL, NULL, SOCK_CLOEXEC);
		if (conn >= 0)
			break;
		if (errno != EINTR)
			_exit(1);
	}
	close(F.startfd);
	run_hooks(conn);
	ocikit_final_exec(conn);
}

/* ocikit_final_run is an exec'd process after nsenter joined the
 * container's namespaces: execConfig's steps in C, then the execve. */
void ocikit_final_run(int planfd)
{
	char why[128];
	size_t len;
	unsigned char *plan = readall(planfd, &len);

	parse(plan, len);
	if (F.name)
		prctl(PR_SET_NAME, F.name, 0, 0, 0);
	set_cpus("execCPUAffinity", &F.cpu_initial);
	if (F.setsid && setsid() < 0)
		failf("setsid: %s", WHY(errno));
	if (F.consolefd >= 0)
		console(F.consolefd);
	/* Joining the mount namespace put us at its root; the container's
	 * root is the init's (a --no-pivot container chroot'ed into it). */
	if (F.rootfd >= 0) {
		if (fchdir(F.rootfd) < 0)
			failf("root: fchdir: %s", WHY(errno));
		if (chroot(".") < 0)
			failf("root: chroot .: %s", WHY(errno));
		close(F.rootfd);
	}
	if (F.keyring && syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, F.keyring) < 0 && errno != ENOSYS)
		failf("join session keyring: %s", WHY(errno));
	if (F.cgroup_sync) {
		/* Into the container's cgroup (the runtime moves us). */
		ocikit_send_json("{\"type\":\"cgroup\"}");
		waitok();
	}
	set_cpus("execCPUAffinity", &F.cpu_final);
	/* Everything but stdio and the preserved descriptors is closed by the
	 * execve, the sync socket included: exec sees EOF. */
	if (F.close_from >= 0)
		close_from(F.close_from);
	setup(ocikit_syncfd);
	ocikit_final_exec(-1);
}
