//go:build linux && cgo

package nsenter

/*
#cgo CFLAGS: -Wall -O2
extern void ocikit_nsenter(void);
void __attribute__((constructor)) ocikit_nsenter_ctor(void) { ocikit_nsenter(); }
*/
import "C"

// Available reports whether the constructor is linked in (cgo builds).
const Available = true
