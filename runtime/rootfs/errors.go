package rootfs

import (
	"errors"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// MountError reports a failed spec mount in one line:
// "mount proc on /proc: operation not permitted". Err keeps the
// *os.PathError of the failing system call.
type MountError struct {
	Source      string // the mount's source, or its type when it has none
	Destination string // the container path
	Step        string // the step that failed after the mount itself ("remount", "set propagation", ...), or ""
	Err         error
}

func (e *MountError) Error() string {
	msg := e.Err.Error()
	var pe *os.PathError
	if errors.As(e.Err, &pe) && pe.Err != nil && e.Err == error(pe) {
		msg = pe.Err.Error()
	}
	if e.Step != "" {
		msg = e.Step + ": " + msg
	}
	return "mount " + e.Source + " on " + e.Destination + ": " + msg
}

func (e *MountError) Unwrap() error { return e.Err }

func mountErr(m *specs.Mount, step string, err error) error {
	src := m.Source
	if src == "" {
		src = m.Type
	}
	if src == "" {
		src = "none"
	}
	return &MountError{Source: src, Destination: containerPath(m.Destination), Step: step, Err: err}
}
