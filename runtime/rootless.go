package runtime

import (
	"bytes"
	"os"
)

// RootlessCgroups decides runc's --rootless: "true" and "false" as said,
// "auto" (or "") rootless unless the caller is root of the host's user
// namespace (a rootless podman runs the runtime as root of a user
// namespace of its own, where cgroups are not its to manage).
func RootlessCgroups(mode string) (bool, error) {
	switch mode {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "auto", "":
		if os.Geteuid() != 0 {
			return true, nil
		}
		m, err := os.ReadFile("/proc/self/uid_map")
		if err != nil {
			return false, nil
		}
		return !isHostUIDMap(m), nil
	}
	return false, errorf(ErrInvalidSpec, "--rootless %q: want true, false or auto", mode)
}

// isHostUIDMap reports whether uid_map is the initial user namespace's
// ("0 0 4294967295").
func isHostUIDMap(m []byte) bool {
	f := bytes.Fields(m)
	return len(f) == 3 && string(f[0]) == "0" && string(f[1]) == "0" && string(f[2]) == "4294967295"
}
