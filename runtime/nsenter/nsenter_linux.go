//go:build linux && cgo

package nsenter

/*
#cgo CFLAGS: -Wall -O2
#include <stdlib.h>
#include "nsenter.h"
extern void ocikit_nsenter(void);
extern int ocikit_oom_errno;
void __attribute__((constructor)) ocikit_nsenter_ctor(void) { ocikit_nsenter(); }
*/
import "C"

// Available reports whether the constructor is linked in (cgo builds).
const Available = true

// OOMErrno is the errno of the constructor's failed write of
// process.oomScoreAdj (_OCIKIT_OOM) to /proc/self/oom_score_adj, 0 if it
// succeeded or had nothing to write.
func OOMErrno() int { return int(C.ocikit_oom_errno) }

// FinalSetup gives the calling thread the attributes of the plan f short
// of the last ones (see Final), and resolves the program. It must run on
// the locked OS thread that later calls FinalExec. A failure is reported
// to the runtime over the socket syncFD as one line and ends the process:
// FinalSetup returns only on success.
func FinalSetup(f *Final, syncFD int) {
	plan := f.Encode()
	p := C.CBytes(plan)
	C.ocikit_final_setup((*C.uchar)(p), C.size_t(len(plan)), C.int(syncFD))
	C.free(p)
}

// FinalExec sets what must come last (the address-space rlimits, a
// seccomp filter with no_new_privs) and executes the program FinalSetup
// resolved. A failure is written to errFD as one line of text (a seccomp
// notify descriptor goes there too) and ends the process: it never
// returns.
func FinalExec(errFD int) {
	C.ocikit_final_exec(C.int(errFD))
}
