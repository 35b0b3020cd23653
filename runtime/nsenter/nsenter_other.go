//go:build !linux || !cgo

package nsenter

// Available reports whether the constructor is linked in (cgo builds).
const Available = false

// OOMErrno is 0: there is no constructor.
func OOMErrno() int { return 0 }
