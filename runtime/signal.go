package runtime

import (
	"strconv"
	"strings"
	"syscall"
)

// ParseSignal parses a signal as `kill` accepts it: a name with or without
// the SIG prefix, in any case ("TERM", "sigkill"), or a number; 0 is the
// null signal, which only checks that the container's init lives.
func ParseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > maxSignal {
			return 0, errorf(ErrInvalidSpec, "invalid signal %q", s)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig, ok := signalByName(name); ok {
		return sig, nil
	}
	return 0, errorf(ErrInvalidSpec, "unknown signal %q", s)
}
