package userns

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// New returns a handle on a new user namespace with the given mappings
// (neither may be empty). /proc must show the caller's pid namespace: the
// maps are written through /proc/<pid> of the helper.
func New(uids, gids []specs.LinuxIDMapping) (*os.File, error) {
	if len(uids) == 0 || len(gids) == 0 {
		return nil, errors.New("userns: no uid or gid mappings")
	}
	h, err := start(uids, gids)
	if err != nil {
		return nil, fmt.Errorf("userns: helper: %w", err)
	}
	defer h.end()
	ns, err := os.Open("/proc/" + strconv.Itoa(h.pid) + "/ns/user")
	if err != nil {
		return nil, fmt.Errorf("userns: %w", err)
	}
	return ns, nil
}

// SysProcIDMaps are the mappings as syscall.SysProcAttr takes them.
func SysProcIDMaps(m []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(m))
	for i, e := range m {
		out[i] = syscall.SysProcIDMap{ContainerID: int(e.ContainerID), HostID: int(e.HostID), Size: int(e.Size)}
	}
	return out
}

// writeMaps writes the uid and gid maps of pid.
func writeMaps(pid int, uids, gids []specs.LinuxIDMapping) error {
	dir := "/proc/" + strconv.Itoa(pid)
	if err := writeMap(dir+"/uid_map", uids); err != nil {
		return err
	}
	return writeMap(dir+"/gid_map", gids)
}

// MapText is the content of a uid_map or gid_map file for the mappings
// (user_namespaces(7)), to be written in one write(2).
func MapText(ids []specs.LinuxIDMapping) []byte {
	var b strings.Builder
	for _, m := range ids {
		fmt.Fprintf(&b, "%d %d %d\n", m.ContainerID, m.HostID, m.Size)
	}
	return []byte(b.String())
}

// writeMap writes an id map file in one write(2), as the kernel wants it.
func writeMap(path string, ids []specs.LinuxIDMapping) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, MapText(ids)); err != nil {
		return &os.PathError{Op: "write", Path: path, Err: err}
	}
	return nil
}
