package fsutil

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

// TestCopyBufsHugePage checks that Copy's buffers lie in one 2 MiB-aligned
// mapping advised MADV_HUGEPAGE (smaps VmFlags "hg"), so that filling them
// takes one page fault rather than 512.
func TestCopyBufsHugePage(t *testing.T) {
	bufs := newCopyBufs()
	if len(bufs) != hugePage/copyBufSize {
		t.Fatalf("%d buffers, want %d", len(bufs), hugePage/copyBufSize)
	}
	start := uintptr(unsafe.Pointer(&bufs[0][0]))
	if start%hugePage != 0 {
		t.Fatalf("buffers start at %#x, not 2 MiB-aligned", start)
	}
	for i, b := range bufs {
		if len(b) != copyBufSize || cap(b) != copyBufSize {
			t.Fatalf("buffer %d: len %d cap %d, want %d", i, len(b), cap(b), copyBufSize)
		}
		if p := uintptr(unsafe.Pointer(&b[0])); p != start+uintptr(i*copyBufSize) {
			t.Fatalf("buffer %d at %#x, want %#x", i, p, start+uintptr(i*copyBufSize))
		}
	}
	flags := vmFlags(t, start)
	if !strings.Contains(" "+flags+" ", " hg ") {
		t.Fatalf("mapping at %#x has VmFlags %q, want hg (MADV_HUGEPAGE)", start, flags)
	}
}

// vmFlags is the VmFlags line of the mapping holding addr in
// /proc/self/smaps.
func vmFlags(t *testing.T, addr uintptr) string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skipf("no smaps: %v", err)
	}
	in := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		first, _, _ := strings.Cut(line, " ")
		if n, _ := fmt.Sscanf(first, "%x-%x", &lo, &hi); n == 2 && !strings.HasSuffix(first, ":") {
			in = lo <= addr && addr < hi
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmFlags:"))
		}
	}
	t.Fatalf("no mapping holds %#x", addr)
	return ""
}

// TestCopyConcurrent runs more copies at once than one mapping has
// buffers: each gets a buffer of its own and copies its input whole.
func TestCopyConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := bytes.Repeat([]byte{byte(i)}, 3*copyBufSize+i)
			var out bytes.Buffer
			n, err := Copy(&out, bytes.NewReader(in))
			if err == nil && (n != int64(len(in)) || !bytes.Equal(out.Bytes(), in)) {
				err = fmt.Errorf("copy %d: %d bytes, content differs: %v", i, n, !bytes.Equal(out.Bytes(), in))
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
