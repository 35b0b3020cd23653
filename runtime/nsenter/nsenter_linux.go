//go:build linux && cgo

package nsenter

/*
#cgo CFLAGS: -Wall -O2
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
