package testutil

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// CgroupDir is the host directory of pid's cgroup for controller: the v1
// hierarchy's that has the controller, or on a cgroup v2 host (where
// /proc/PID/cgroup has only the "0::" line) the unified one.
func CgroupDir(t testing.TB, pid int, controller string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	unified, v1 := "", false
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[0] == "0" && f[1] == "" {
			unified = f[2]
			continue
		}
		v1 = true
		if slices.Contains(strings.Split(f[1], ","), controller) {
			return filepath.Join("/sys/fs/cgroup", controller, f[2])
		}
	}
	if unified != "" && !v1 {
		return filepath.Join("/sys/fs/cgroup", unified)
	}
	t.Fatalf("no %s cgroup for %d:\n%s", controller, pid, b)
	return ""
}
