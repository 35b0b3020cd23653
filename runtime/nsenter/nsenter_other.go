//go:build !linux || !cgo

package nsenter

// Available reports whether the constructor is linked in (cgo builds).
const Available = false

// OOMErrno is 0: there is no constructor.
func OOMErrno() int { return 0 }

// FinalSetup needs the C side: builds without cgo cannot run a container
// process (the runtime refuses before it gets here).
func FinalSetup(*Final, int) { panic("nsenter: built without cgo") }

// FinalExec: see FinalSetup.
func FinalExec(int) { panic("nsenter: built without cgo") }
