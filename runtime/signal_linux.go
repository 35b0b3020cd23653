package runtime

import (
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

const maxSignal = 64

func signalByName(name string) (syscall.Signal, bool) {
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, true
	}
	// Real-time signals: SIGRTMIN, SIGRTMIN+N, SIGRTMAX-N.
	const rtmin, rtmax = 34, 64
	for _, base := range []struct {
		p string
		v int
	}{{"SIGRTMIN", rtmin}, {"SIGRTMAX", rtmax}} {
		rest, ok := strings.CutPrefix(name, base.p)
		if !ok {
			continue
		}
		if rest == "" {
			return syscall.Signal(base.v), true
		}
		n, err := strconv.Atoi(rest)
		if err != nil {
			return 0, false
		}
		if v := base.v + n; v >= rtmin && v <= rtmax {
			return syscall.Signal(v), true
		}
	}
	return 0, false
}
