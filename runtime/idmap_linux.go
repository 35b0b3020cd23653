package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"

	"github.com/ocikit/ocikit/internal/userns"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Where shadow's newuidmap and newgidmap read the grants (subuid(5)).
const (
	subUIDFile = "/etc/subuid"
	subGIDFile = "/etc/subgid"
)

// idMapWriter writes the id maps of the init's new user namespace. Root
// (of the host's user namespace, or of the one a rootless engine runs the
// runtime in) writes /proc/<pid>/uid_map and gid_map itself. An
// unprivileged caller may write them itself only when each maps its own
// id alone, gid_map after denying setgroups(2) (user_namespaces(7)); any
// other map is written by the setuid helpers newuidmap and newgidmap
// within the subordinate ranges of /etc/subuid and /etc/subgid, as runc
// and crun do.
type idMapWriter struct {
	// uidTool, gidTool: the helper's path when the map needs it, "" to
	// write the file directly.
	uidTool, gidTool string
	// denySetgroups: write "deny" to /proc/<pid>/setgroups before a
	// gid_map the caller writes itself. newgidmap decides on its own:
	// "allow" when a subordinate range is mapped, else "deny".
	denySetgroups bool
}

// newIDMapWriter decides how the maps of l are written, and checks before
// anything is created what newuidmap and newgidmap would refuse: a
// missing helper, no subordinate range, a mapping outside it, each in one
// line naming the id and the file.
func newIDMapWriter(l *specs.Linux) (*idMapWriter, error) {
	w := &idMapWriter{}
	if os.Geteuid() == 0 {
		return w, nil
	}
	w.denySetgroups = true
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	name := ""
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		name = u.Username
	}
	var err error
	if !ownIDOnly(l.UIDMappings, uint32(os.Geteuid())) {
		if w.uidTool, err = mapTool("newuidmap", "uidMappings", "uid", uid); err != nil {
			return nil, err
		}
		if err := checkGrants("uid", subUIDFile, name, uid, uid, "uidMappings", l.UIDMappings); err != nil {
			return nil, err
		}
	}
	if !ownIDOnly(l.GIDMappings, uint32(os.Getegid())) {
		if w.gidTool, err = mapTool("newgidmap", "gidMappings", "gid", gid); err != nil {
			return nil, err
		}
		if err := checkGrants("gid", subGIDFile, name, uid, gid, "gidMappings", l.GIDMappings); err != nil {
			return nil, err
		}
		w.denySetgroups = false
	}
	return w, nil
}

// ownIDOnly reports whether m maps the id alone, the one map an
// unprivileged process may write itself (user_namespaces(7)).
func ownIDOnly(m []specs.LinuxIDMapping, id uint32) bool {
	return len(m) == 1 && m[0].Size == 1 && m[0].HostID == id
}

// mapTool finds newuidmap or newgidmap in $PATH, as runc does.
func mapTool(tool, field, kind string, id uint32) (string, error) {
	p, err := exec.LookPath(tool)
	if err != nil {
		return "", errorf(ErrNotSupported, "%s: mapping more than %s %d without root needs %s (Debian's uidmap package), not found in $PATH",
			field, kind, id, tool)
	}
	return p, nil
}

// checkGrants checks m against the ranges file grants the user name with
// uid, whose own id (uid or gid) is id (see subIDs.check); a missing file
// grants nothing. Where nsswitch.conf names
// another source of subordinate ids (shadow's libsubid, e.g. sssd), the
// helpers alone decide.
func checkGrants(kind, file, name string, uid, id uint32, field string, m []specs.LinuxIDMapping) error {
	if nss, err := os.ReadFile("/etc/nsswitch.conf"); err == nil && !subIDsFromFiles(nss) {
		return nil
	}
	content, err := os.ReadFile(file)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", field, err)
	}
	s := &subIDs{kind: kind, file: file, user: name, uid: uid, id: id, ranges: parseSubIDs(content, name, uid)}
	return s.check(field, m)
}

// write writes the maps of process pid's user namespace: uid_map first,
// then setgroups and gid_map.
func (w *idMapWriter) write(pid int, uids, gids []specs.LinuxIDMapping) error {
	if err := writeMap(pid, w.uidTool, "uid_map", uids); err != nil {
		return step("uidMappings", err)
	}
	if w.denySetgroups {
		if err := writeProcPid(pid, "setgroups", []byte("deny")); err != nil {
			return step("gidMappings", err)
		}
	}
	if err := writeMap(pid, w.gidTool, "gid_map", gids); err != nil {
		return step("gidMappings", err)
	}
	return nil
}

// writeMap writes one map: through tool (newuidmap PID ID HOSTID SIZE
// ...) when set, else to /proc/<pid>/<file>.
func writeMap(pid int, tool, file string, m []specs.LinuxIDMapping) error {
	if tool == "" {
		return writeProcPid(pid, file, userns.MapText(m))
	}
	args := []string{strconv.Itoa(pid)}
	for _, e := range m {
		args = append(args, strconv.FormatUint(uint64(e.ContainerID), 10), strconv.FormatUint(uint64(e.HostID), 10),
			strconv.FormatUint(uint64(e.Size), 10))
	}
	out, err := exec.Command(tool, args...).CombinedOutput()
	if err != nil {
		if msg := oneLine(string(out)); msg != "" {
			return fmt.Errorf("%s: %w: %s", tool, err, msg)
		}
		return fmt.Errorf("%s: %w", tool, err)
	}
	return nil
}

// subIDsFromFiles reports whether nsswitch.conf (its content) leaves
// subordinate ids to /etc/subuid and /etc/subgid: no "subid:" line, or
// one naming "files" alone (subid(5)).
func subIDsFromFiles(nss []byte) bool {
	for _, line := range strings.Split(string(nss), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		if src, ok := strings.CutPrefix(strings.TrimSpace(line), "subid:"); ok {
			f := strings.Fields(src)
			return len(f) == 0 || (len(f) == 1 && f[0] == "files")
		}
	}
	return true
}
