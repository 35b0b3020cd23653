/* What nsenter.c and final.c share. */
#ifndef OCIKIT_NSENTER_H
#define OCIKIT_NSENTER_H

#include <stddef.h>

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

/* The final stage (final.c): see final.go. */
void ocikit_final_run(int planfd) __attribute__((noreturn));
int ocikit_final_setup(const unsigned char *plan, size_t len, int syncfd);
void ocikit_final_exec(int errfd) __attribute__((noreturn));
void ocikit_init_run(int planfd, int cgroupns, int late) __attribute__((noreturn));

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
	int other;		   /* what only Go handles: host mounts, systemd, rootless */
	int npaths;
	char *paths[OCIKIT_FAST_MAXPATHS]; /* cgroup directories (in the buffer) */
};

/* ocikit_fast_parse reads state.json (buf, modified) as fast.c does: 1 when
 * it is of the exact form the runtime writes for container id. */
int ocikit_fast_parse(char *buf, size_t len, const char *id, struct ocikit_fast_record *r);

#endif
