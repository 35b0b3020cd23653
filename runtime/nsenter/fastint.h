/* fastint.h: what the C fast paths (fastexec.c, fastcreate.c) share:
 * the final stage's plan encoder, the process read from a configuration,
 * the launch of ocikit's binary into a container. Internal to the
 * package. */
#ifndef OCIKIT_FASTINT_H
#define OCIKIT_FASTINT_H

#include <signal.h>
#include <stdint.h>
#include <jansson.h>

#include "nsenter.h"

#define MAXNS 8
/* stdio, the binary, the plan, sync; the namespaces; the root, the
 * terminal, nsenter's plan */
#define MAXFDS (6 + MAXNS + 3)

/* A growing buffer for the final stage's plan. */
struct buf {
	unsigned char *p;
	size_t n, cap;
	int bad;
};

/* proc is the process exec runs, as execProcess and process.Final derive
 * it from the configuration and exec's flags. */
struct proc {
	const char **args, **env;
	int nargs, nenv, ownargs;
	const char *cwd;
	uint32_t uid, gid, umask;
	int has_umask;
	json_t *groups; /* user.additionalGids (numbers, checked) */
	uint64_t caps[5]; /* nsenter.Final's order */
	int last;	  /* the kernel's last capability */
	int nnp, oom, has_oom;
	json_t *rlimits; /* checked */
	int terminal, has_size;
	uint32_t rows, cols; /* consoleSize: height, width */
};

/* The launch: what the process gets and what the runtime keeps. */
struct launch {
	int fds[MAXFDS]; /* the process's descriptors 0.. (-1: /dev/null) */
	int nfds;
	char *env[8];
	int nenv;
	char nsplan[4096];
	struct buf plan;
	int fork;    /* nsenter forks (a pid or time namespace) */
	int cgfd;    /* the cgroup v2 directory to be born in, or -1 */
	unsigned long long cloneflags; /* CLONE_NEW* of an init's namespaces */
	int fg; /* the runtime waits in the foreground, catching every signal */
	int relay[3]; /* the runtime's ends of the stdio pipes (foreground) */
};

void fx_put(struct buf *b, const void *d, size_t n);
void fx_put32(struct buf *b, uint32_t v);
void fx_put64(struct buf *b, uint64_t v);
size_t fx_rec(struct buf *b, uint32_t tag);
void fx_recend(struct buf *b, size_t at);
void fx_recstr(struct buf *b, uint32_t tag, const char *s);
int fx_known(json_t *o, const char *const *names);
int fx_absent(json_t *o, const char *k);
json_t *fx_member(json_t *o, const char *k);
int fx_str(json_t *o, const char *k, const char **out);
int fx_plain(const char *s);
json_t *fx_loadconf(const char *buf, size_t len);
int ocikit_seccomp_cached(json_t *sec, const char *root, char **payload, size_t *len);
int fx_u32(json_t *o, const char *k, uint32_t *out);
int fx_strs(json_t *o, const char *k, const char ***out);
uint32_t fx_hostid(json_t *maps, uint32_t id);
void fx_addenv(struct launch *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int fx_addfd(struct launch *l, int fd);
int fx_protected(void);
int fx_launchenv(struct launch *l, const struct proc *pr, int nsenterfd, int *thp);
int fx_writepid(const char *path, pid_t pid, char *msg, size_t msglen);
pid_t fx_spawn(struct launch *l, int exefd, const sigset_t *mask, int *born);
void fx_logwarn(const struct ocikit_fast_log *log, const char *id, json_t *m);
void fx_freeproc(struct proc *o);
void fx_foreground(pid_t pid, int sfd, int relay[3], void (*onexit)(void *), void *arg) __attribute__((noreturn));
int fx_readproc(json_t *p, const struct ocikit_exec_args *x, struct proc *o);
const char **fx_environment(const struct proc *o, const struct ocikit_exec_args *x, int rootfd, int *n, char **home);

/* The final stage's plan of an exec'd process (startfd < 0) or of a
 * container init (startfd: its start socket). */
struct fx_plan {
	const char *sc; /* exec.seccomp's content (flags, BPF), or NULL */
	size_t sclen;
	int rootfd;	     /* the root's descriptor number in the process */
	int consolefd;	     /* the terminal's, -1: none */
	const char *keyring; /* NULL: --no-new-keyring */
	int startfd;	     /* an init's listening start socket, -1: exec */
};
void fx_encode(struct buf *b, const struct proc *o, const char **env, int nenv, const struct fx_plan *f);

#endif
