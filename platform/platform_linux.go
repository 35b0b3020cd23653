package platform

import (
	"bufio"
	"os"
	"strings"
)

// armVariant reads the 32-bit ARM CPU's architecture version from
// /proc/cpuinfo ("CPU architecture: 7"), as containerd does; v7 if unknown.
func armVariant() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "v7"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(key) != "CPU architecture" {
			continue
		}
		val = strings.TrimSpace(val)
		switch {
		case val == "AArch64" || val == "8":
			return "v8"
		case len(val) == 1 && val[0] >= '5' && val[0] <= '7':
			return "v" + val
		}
		break
	}
	return "v7"
}
