//go:build !linux || !cgo

package nsenter

// Available reports whether the constructor is linked in (cgo builds).
const Available = false
