//go:build linux && cgo

package main

// `ocikit start`, `delete`, `kill` and `state` in their common cases run
// before the Go runtime starts, in C (runtime/nsenter/fast.c): the
// constructor below hands it the command line, and it returns, having
// changed nothing, for every case it does not take. Registered here, in
// the command, so that programs importing the runtime package keep their
// own command lines. The reference is weak: cgo links this package's C
// alone first, without package nsenter's.
//
// When the Go runtime is to start, the constructor first maps the
// binary's read-only segments (code, read-only data, the pcln tables) in
// one madvise(MADV_POPULATE_READ) call (Linux 5.14; older kernels refuse
// it and nothing changes). The Go runtime and the packages' init
// functions touch pages all over them, and each first touch is a page
// fault: on this machine (a page fault costs ~12 us) the populate saves
// ~0.5 ms per command with the binary freshly written to the page cache,
// and ~1 ms once it was read back from disk (fewer pages per fault come
// mapped then). The pages are the page cache's, shared by every ocikit
// process and charged once; page tables for them take at most ~30 KB.
// Not in the container's processes (the init and exec stages, which
// never start Go, or start it in the init's cgroup).

/*
#define _GNU_SOURCE
#include <link.h>
#include <stdlib.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

extern void ocikit_fast(int argc, char **argv) __attribute__((weak));

static int ocikit_prefault(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	(void)data;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W))
			continue;
		unsigned long start = (info->dlpi_addr + ph->p_vaddr) & ~4095UL;
		unsigned long end = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz + 4095) & ~4095UL;
		madvise((void *)start, end - start, MADV_POPULATE_READ);
	}
	return 1; // the program itself only
}

static void __attribute__((constructor)) ocikit_fast_ctor(int argc, char **argv)
{
	if (ocikit_fast)
		ocikit_fast(argc, argv);
	if (!getenv("_OCIKIT_NSENTER") && !getenv("_OCIKIT_FINAL") && !getenv("_OCIKIT_INITFD") && !getenv("_OCIKIT_NOPREFAULT"))
		dl_iterate_phdr(ocikit_prefault, NULL);
}
*/
import "C"
