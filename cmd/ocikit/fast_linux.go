//go:build linux && cgo

package main

// `ocikit start`, `delete`, `kill` and `state` in their common cases run
// before the Go runtime starts, in C (runtime/nsenter/fast.c): the
// constructor below hands it the command line, and it returns, having
// changed nothing, for every case it does not take. Registered here, in the command, so that programs importing the
// runtime package keep their own command lines. The reference is weak:
// cgo links this package's C alone first, without package nsenter's.

/*
extern void ocikit_fast(int argc, char **argv) __attribute__((weak));

static void __attribute__((constructor)) ocikit_fast_ctor(int argc, char **argv)
{
	if (ocikit_fast)
		ocikit_fast(argc, argv);
}
*/
import "C"
