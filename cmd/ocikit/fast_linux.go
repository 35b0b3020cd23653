//go:build linux && cgo

package main

// `ocikit start`, `delete`, `kill`, `state`, `exec`, `create` and `run` in
// their common cases run before the Go runtime starts, in C
// (runtime/nsenter/fast.c, fastexec.c, fastcreate.c): the
// constructor below hands it the command line, and it returns, having
// changed nothing, for every case it does not take. Registered here, in
// the command, so that programs importing the runtime package keep their
// own command lines. The reference is weak: cgo links this package's C
// alone first, without package nsenter's.
//
// It used to map the binary's read-only segments in one
// madvise(MADV_POPULATE_READ) first when the command went on to Go: a
// gain where a page fault cost ~12 us, a loss on a machine where faults
// are cheap (populating every page one by one costs more than the ~160
// faults it saves, each of which maps 16 pages): `ocikit --version`
// 3.7-4.0 ms with it against 3.3 without, `create` 12.8 against 11.2 ms.

/*
extern void ocikit_fast(int argc, char **argv) __attribute__((weak));

static void __attribute__((constructor)) ocikit_fast_ctor(int argc, char **argv)
{
	if (ocikit_fast)
		ocikit_fast(argc, argv);
}
*/
import "C"
