#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <pthread.h>
#include <unistd.h>

/*
 * ocikit_userns_fork forks the helper of package userns and returns its pid
 * (or -errno). The child, a copy of the calling thread only, makes only
 * system calls: with every signal blocked (the Go runtime's handlers must
 * never run in it) it becomes non-dumpable, unshares its user namespace,
 * writes one byte to ready (0, or the errno of what failed) and waits until
 * hold reads end of file: the parent closed its write end (hold_w, closed
 * here in the child) or is gone.
 */
int ocikit_userns_fork(int ready, int hold, int hold_w)
{
	sigset_t all, old;
	sigfillset(&all);
	if (pthread_sigmask(SIG_SETMASK, &all, &old) != 0)
		return -EINVAL;
	/* fork(2) without the C library's atfork handlers. */
	long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	if (pid != 0) {
		int err = errno;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return pid < 0 ? -err : (int)pid;
	}
	unsigned char b = 0;
	syscall(SYS_close, hold_w);
	if (syscall(SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		b = (unsigned char)errno;
	else if (syscall(SYS_unshare, CLONE_NEWUSER) < 0)
		b = (unsigned char)errno;
	if (syscall(SYS_write, ready, &b, 1) != 1 || b != 0)
		syscall(SYS_exit_group, 1);
	while (syscall(SYS_read, hold, &b, 1) < 0 && errno == EINTR)
		;
	syscall(SYS_exit_group, 0);
	return 0; /* not reached */
}
