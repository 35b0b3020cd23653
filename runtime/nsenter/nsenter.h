/* What nsenter.c and final.c share. */
#ifndef OCIKIT_NSENTER_H
#define OCIKIT_NSENTER_H

#include <stddef.h>
#include <sys/types.h>

/* The socket for messages to the runtime (-1: none). */
extern int ocikit_syncfd;

/* Whether the final stage turns transparent huge pages back on before the
 * program's execve: the runtime turned them off for this process
 * (_OCIKIT_THP, see runtime/launch_linux.go noHugePages). */
extern int ocikit_thp_restore;

/* The root of the runtime's procfs (O_PATH), or -1. */
extern int ocikit_procfd;

/* ocikit_set_rawerr sends later errors to fd as plain text. */
void ocikit_set_rawerr(int fd);

/* sendmsg_json writes one JSON message to the runtime over ocikit_syncfd. */
void ocikit_send_json(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* json_escape copies s into out, escaping what JSON requires. */
void ocikit_json_escape(char *out, size_t size, const char *s);

/* ocikit_fail reports "<what> <arg>: <strerror(err)>" to the runtime as one
 * line and exits 1. */
void ocikit_fail(const char *what, const char *arg, int err) __attribute__((noreturn));

/* ocikit_reason writes strerror(err) into buf lower-cased, as Go's errors
 * read ("invalid argument"), and returns buf. */
const char *ocikit_reason(int err, char *buf, size_t size);

/* ocikit_failmsg reports msg as it is and exits 1. */
void ocikit_failmsg(const char *msg) __attribute__((noreturn));

/* A failed write of process.oomScoreAdj by the constructor: its errno
 * and the value. */
extern int ocikit_oom_errno;
extern char ocikit_oom_val[32];

/* Record tags: keep in step with final.go. */
enum {
	F_ARG = 1,
	F_ENV,
	F_CWD,
	F_UMASK,
	F_USER,
	F_GROUPS,
	F_CAPS,
	F_NNP,
	F_RLIMIT,
	F_SECCOMP,
	F_SCHED,
	F_IOPRIO,
	F_PERSONALITY,
	F_MEMPOLICY,
	F_APPARMOR,
	F_SELINUX,
	F_NAME,
	F_CPU_INITIAL,
	F_CPU_FINAL,
	F_SETSID,
	F_CONSOLE,
	F_ROOTFD,
	F_KEYRING,
	F_CGROUP_SYNC,
	F_CLOSE_FROM,
	F_START,
	F_HOOK,
	F_HOOKSTATE,
};

/* Capability names by number (final.c), as moby/sys/capability names them. */
extern const char *const ocikit_capnames[];
extern const int ocikit_ncapnames;

/* The final stage (final.c): see final.go. */
void ocikit_final_run(int planfd) __attribute__((noreturn));
int ocikit_final_setup(const unsigned char *plan, size_t len, int syncfd);
void ocikit_final_exec(int errfd) __attribute__((noreturn));
void ocikit_init_run(int planfd, int cgroupns, int late) __attribute__((noreturn));
void ocikit_init_cpus(const char *words);

/* What the C start, delete, kill and state (fast.c) read of state.json. */
#define OCIKIT_FAST_MAXPATHS 32
struct ocikit_fast_record {
	long pid;
	unsigned long long initstart;
	char status[16];
	size_t statusoff;	   /* where the status word starts */
	size_t pidoff, pidend;	   /* the pid's digits */
	size_t stateoff, stateend; /* the state object, braces included */
	int hooks;		   /* record.Hooks: poststart/poststop hooks, a listener */
	int systemd;		   /* the systemd driver: delete is Go's (the unit), exec not */
	int execother;		   /* what only Go's exec and delete handle: host mounts, rootless */
	int nonewkeyring;	   /* record.NoNewKeyring */
	int npaths;
	char *paths[OCIKIT_FAST_MAXPATHS]; /* cgroup directories (in the buffer) */
};

/* ocikit_fast_parse reads state.json (buf, modified) as fast.c does: 1 when
 * it is of the exact form the runtime writes for container id. */
int ocikit_fast_parse(char *buf, size_t len, const char *id, struct ocikit_fast_record *r);

/* ocikit_seccomp_header is cseccomp.c's seccomp.CEntry header for a
 * linux.seccomp object in JSON: 0, or -1 when the C create leaves it to Go. */
int ocikit_seccomp_header(const char *js, size_t n, char **out, size_t *len);

/* alive is runtime's alive() (fast.c): 1 live and started at start, 0
 * gone, -1 unknown. */
int ocikit_fast_alive(long pid, unsigned long long start);
int ocikit_fast_procstat(long pid, char *state, unsigned long long *start);

/* ocikit_readfd reads the regular file fd, if its size is at most max,
 * into a NUL-terminated buffer (*out, to free) and sets *size to its size:
 * the bytes read (fewer than *size when it shrank meanwhile or a read
 * failed), -1 when it is no regular file, too large or memory is short. */
ssize_t ocikit_readfd(int fd, size_t max, char **out, size_t *size);

/* ocikit_readfull is ocikit_readfd that takes only the whole file: 1 and
 * the buffer (to free) and its length, or 0. */
int ocikit_readfull(int fd, size_t max, char **out, size_t *len);

/* ocikit_fast_readall reads the regular file name under dirfd (at most
 * 1 MiB), NUL-terminated: 1 on success. */
int ocikit_fast_readall(int dirfd, const char *name, char **out, size_t *len);

/* ocikit_prime_cgroup writes pid to the cgroup.procs file procs on a
 * detached thread with every signal blocked: on cgroup v1 a no-op move
 * that starts the RCU grace period a later migration would wait for
 * (fast.c primeself, exec's primeMigration). */
void ocikit_prime_cgroup(const char *procs, long pid);

/* Where the C commands log (--log, --log-format). */
struct ocikit_fast_log {
	const char *path; /* NULL: stderr */
	int json;
};

/* ocikit_fast_warn writes a warning record as cmd/ocikit's slog handler
 * does, with attrs as key, value pairs (nattrs counts both). */
void ocikit_fast_warn(const struct ocikit_fast_log *l, const char *msg, const char **attrs, int nattrs);

/* What `ocikit exec` asks for (fastexec.c). */
#define OCIKIT_EXEC_MAXENV 256
struct ocikit_exec_args {
	const char *id;
	const char *process; /* --process */
	const char *pidfile; /* --pid-file */
	const char *cwd;     /* --cwd */
	const char *user;    /* --user */
	const char *env[OCIKIT_EXEC_MAXENV]; /* --env */
	int nenv;
	int detach;
	int tty;	     /* --tty */
	const char *console; /* --console-socket */
	char **argv; /* the command after the id */
	int argc;
};

/* ocikit_sendfd sends the message msg with fd over the socket sock
 * (final.c): 0, or -1 with errno. */
struct ocikit_create_args {
	const char *id;
	const char *bundle;  /* --bundle (default ".") */
	const char *pidfile; /* --pid-file */
	int nopivot, nonewkeyring, nosubreaper;
	int run, detach, keep; /* run's */
};

/* What create leaves `run` (in the foreground: the init's stdio relayed,
 * every signal blocked and read from sfd). */
struct ocikit_run_state {
	int dirfd; /* the state directory, locked */
	pid_t pid;
	int relay[3];
	int sfd;
};

int ocikit_create_parse(int argc, char **argv, int i, int run, struct ocikit_create_args *c);
int ocikit_fast_create(const struct ocikit_create_args *x, const char *root, const struct ocikit_fast_log *log,
		       struct ocikit_run_state *rs, char *msg, size_t msglen);
int ocikit_fast_run(const struct ocikit_create_args *x, const char *root, const struct ocikit_fast_log *log,
		    char *msg, size_t msglen);
int ocikit_fast_start(int dirfd, const char *id, char *msg, size_t msglen);
int ocikit_fast_delete(const char *root, const char *id, char *msg, size_t msglen);
int ocikit_fast_writestate(int dirfd, const char *buf, size_t len);
int ocikit_fast_clearstatedir(int dirfd);

int ocikit_sendfd(int sock, const char *msg, int fd);

/* ocikit_exec_parse reads exec's flags and arguments from argv[i] on: 1
 * when this path takes them all. */
int ocikit_exec_parse(int argc, char **argv, int i, struct ocikit_exec_args *x);

/* ocikit_fast_exec runs exec with the state directory dirfd (locked) and
 * its record r: -1 when it leaves the command to Go with nothing changed,
 * 1 with msg set when exec failed; it exits itself on success. */
int ocikit_fast_exec(const struct ocikit_exec_args *x, int dirfd, struct ocikit_fast_record *r,
		     const struct ocikit_fast_log *log, char *msg, size_t msglen);

#endif
