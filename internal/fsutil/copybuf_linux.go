package fsutil

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the size of a transparent huge page on amd64 and arm64
// (with 4 KiB base pages).
const hugePage = 2 << 20

// newCopyBufs maps a huge page's worth of copy buffers outside the Go
// heap and asks the kernel to back them with a transparent huge page
// (MADV_HUGEPAGE, which the default THP mode "madvise" honours): the first
// write then faults once for all of them instead of once per 4 KiB page,
// and on a virtual machine each fault costs tens of microseconds: 256 of
// them per 1 MiB buffer are a visible part of a pull. Where the mapping
// or the advice fails, the buffers come from the Go heap.
func newCopyBufs() [][]byte {
	mem, err := unix.Mmap(-1, 0, 2*hugePage, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return heapCopyBufs()
	}
	// The huge page must be aligned: take the aligned 2 MiB inside the
	// 4 MiB mapped (the rest is never touched, so it costs no memory).
	off := 0
	if rem := int(uintptr(unsafe.Pointer(&mem[0])) % hugePage); rem != 0 {
		off = hugePage - rem
	}
	mem = mem[off : off+hugePage : off+hugePage]
	_ = unix.Madvise(mem, unix.MADV_HUGEPAGE)
	bufs := make([][]byte, 0, hugePage/copyBufSize)
	for i := 0; i+copyBufSize <= len(mem); i += copyBufSize {
		bufs = append(bufs, mem[i:i+copyBufSize:i+copyBufSize])
	}
	return bufs
}
