package rules

import (
	"testing"

	"golang.org/x/sys/unix"
)

// The table's numbers are Linux's: checked against x/sys/unix.
func TestLinuxNumbers(t *testing.T) {
	want := map[string]uintptr{
		"cgroup": unix.CLONE_NEWCGROUP, "ipc": unix.CLONE_NEWIPC, "mount": unix.CLONE_NEWNS,
		"network": unix.CLONE_NEWNET, "pid": unix.CLONE_NEWPID, "user": unix.CLONE_NEWUSER,
		"uts": unix.CLONE_NEWUTS, "time": unix.CLONE_NEWTIME,
	}
	for _, ns := range Namespaces() {
		if ns.CloneFlag != want[string(ns.Type)] {
			t.Errorf("%s: clone flag %#x, want %#x", ns.Type, ns.CloneFlag, want[string(ns.Type)])
		}
	}
	res := map[string]int{"RLIMIT_CPU": unix.RLIMIT_CPU, "RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_AS": unix.RLIMIT_AS,
		"RLIMIT_STACK": unix.RLIMIT_STACK, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_DATA": unix.RLIMIT_DATA,
		"RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
		"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK}
	for name, n := range res {
		if got, ok := Rlimit(name); !ok || got != n {
			t.Errorf("%s = %d, want %d", name, got, n)
		}
	}
}
