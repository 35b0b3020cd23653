package runtime

import (
	"bytes"
	"os"
	"path/filepath"
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
		m, err := readFile("/proc/self/uid_map")
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

// DefaultRoot is the state root when --root is not given, as runc chooses
// its own: $XDG_RUNTIME_DIR/ocikit for an unprivileged user, and for root
// of a user namespace other than the host's unless $USER is "root" (a
// rootless podman runs its runtime so and passes no --root; `podman
// unshare` as the host's root keeps USER=root); /run/ocikit otherwise.
func DefaultRoot() string {
	if xdg := os.Getenv("XDG_RUNTIME_DIR"); xdg != "" && honorXDG() {
		return filepath.Join(xdg, "ocikit")
	}
	return "/run/ocikit"
}

func honorXDG() bool {
	if os.Geteuid() != 0 {
		return true
	}
	m, err := readFile("/proc/self/uid_map")
	if err != nil || isHostUIDMap(m) {
		return false
	}
	u, ok := os.LookupEnv("USER")
	return !ok || u != "root"
}
