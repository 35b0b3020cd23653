//go:build linux && cgo

package nsenter

/*
#cgo CFLAGS: -Wall -O2
#cgo LDFLAGS: -ljansson -lpthread -lseccomp
#include <stdlib.h>
#include "nsenter.h"
extern void ocikit_nsenter(void);
extern int ocikit_oom_errno;
void __attribute__((constructor)) ocikit_nsenter_ctor(void) { ocikit_nsenter(); }
*/
import "C"

import "unsafe"

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

// FastRecord is what the C start, delete, kill and state (fast.c) read of
// a container's state.json.
type FastRecord struct {
	Pid       int
	InitStart uint64
	Status    string
	// Hooks is record.Hooks; Other says the record needs Go's delete (host
	// mounts, the systemd driver, rootless cgroups), ExecOther Go's exec
	// (host mounts, rootless cgroups); Systemd is the systemd driver.
	Hooks, Other, ExecOther, Systemd bool
	// Paths are the cgroup directories.
	Paths []string
	// State is the state object as recorded, pid and status included.
	State []byte
}

// ParseFastRecord reads data, a state.json of container id, with the C
// reader of fast.c. ok is false when the C path would leave the command
// to Go: data is not of the exact form the runtime writes. Tests hold it
// against the runtime's writer.
func ParseFastRecord(data []byte, id string) (rec FastRecord, ok bool) {
	// The C reader wants a terminating NUL; the copy keeps data as it is.
	buf := C.CBytes(append(data[:len(data):len(data)], 0))
	defer C.free(buf)
	cid := C.CString(id)
	defer C.free(unsafe.Pointer(cid))
	var r C.struct_ocikit_fast_record
	if C.ocikit_fast_parse((*C.char)(buf), C.size_t(len(data)), cid, &r) == 0 {
		return FastRecord{}, false
	}
	rec = FastRecord{
		Pid:       int(r.pid),
		InitStart: uint64(r.initstart),
		Status:    C.GoString(&r.status[0]),
		Hooks:     r.hooks != 0,
		Other:     r.systemd != 0 || r.execother != 0,
		ExecOther: r.execother != 0,
		Systemd:   r.systemd != 0,
		State:     C.GoBytes(unsafe.Add(buf, r.stateoff), C.int(r.stateend-r.stateoff)),
	}
	for i := 0; i < int(r.npaths); i++ {
		rec.Paths = append(rec.Paths, C.GoString(r.paths[i]))
	}
	return rec, true
}

// SeccompHeader is the header the C create (cseccomp.c) looks for in the
// seccomp cache for linux.seccomp given as JSON; ok is false when the C
// create leaves that configuration to Go. Tests hold it against
// seccomp.CEntry.
func SeccompHeader(js []byte) (header []byte, ok bool) {
	p := C.CBytes(js)
	defer C.free(p)
	var out *C.char
	var n C.size_t
	if C.ocikit_seccomp_header((*C.char)(p), C.size_t(len(js)), &out, &n) != 0 {
		return nil, false
	}
	defer C.free(unsafe.Pointer(out))
	return C.GoBytes(unsafe.Pointer(out), C.int(n)), true
}
