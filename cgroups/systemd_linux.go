package cgroups

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/godbus/dbus/v5"
	"github.com/opencontainers/cgroups/systemd"
)

// The systemd driver: the container's cgroup is a transient unit that
// systemd creates over D-Bus (org.freedesktop.systemd1.Manager.
// StartTransientUnit), with the library's systemd managers doing the
// talking: a scope PREFIX-NAME.scope in SLICE (Delegate=yes, the init's pid
// as PIDs, accounting on), or the slice NAME when NAME ends in ".slice".
// Limits are unit properties where systemd knows them (MemoryMax,
// CPUWeight, CPUQuotaPerSecUSec, TasksMax, AllowedCPUs, ...) and are
// written to the cgroup files as well, for everything else.

// privateSocket is systemd's private D-Bus socket, which go-systemd uses
// for root (sd_booted(3) looks at /run/systemd/system; the socket is what
// must answer).
const privateSocket = "/run/systemd/private"

// systemdReachable checks, before anything is created, that a systemd
// manager can create the unit: the system manager's private socket for
// root, the user manager's bus (DBUS_SESSION_BUS_ADDRESS or
// $XDG_RUNTIME_DIR/bus) for a rootless container.
func systemdReachable(rootless bool) error {
	if rootless {
		if !systemd.IsRunningSystemd() {
			return fmt.Errorf("%w (no /run/systemd/system: not the init system)", ErrSystemdUnavailable)
		}
		if _, err := systemd.DetectUserDbusSessionBusAddress(); err != nil {
			return fmt.Errorf("%w (no user manager: no $DBUS_SESSION_BUS_ADDRESS or $XDG_RUNTIME_DIR/bus): %v", ErrSystemdUnavailable, err)
		}
		return nil
	}
	if _, err := os.Stat(privateSocket); err != nil {
		return fmt.Errorf("%w (no %s): %v", ErrSystemdUnavailable, privateSocket, err)
	}
	return nil
}

// systemdPath splits cgroupsPath as runc does for --systemd-cgroup:
// exactly "slice:prefix:name"; an empty slice is the default one.
func systemdPath(p string) (slice, prefix, name string, err error) {
	parts := strings.Split(p, ":")
	if len(parts) != 3 || parts[2] == "" {
		return "", "", "", fmt.Errorf("%w: %q: the systemd driver wants slice:prefix:name", ErrInvalidPath, p)
	}
	slice, prefix, name = parts[0], parts[1], parts[2]
	if slice != "" {
		// Checked here rather than when the unit is started (the
		// library's ExpandSlice): an invalid slice fails before any
		// process exists.
		if _, err := systemd.ExpandSlice(slice); err != nil {
			return "", "", "", fmt.Errorf("%w: %q: %v", ErrInvalidPath, p, err)
		}
	}
	if strings.Contains(name, "/") || strings.Contains(prefix, "/") {
		return "", "", "", fmt.Errorf("%w: %q: prefix and name must not contain \"/\"", ErrInvalidPath, p)
	}
	return slice, prefix, name, nil
}

// unitName is the name of the container's unit, as the library names it.
func (m *Manager) unitName() string {
	_, prefix, name, _ := systemdPath(m.st.CgroupsPath)
	if strings.HasSuffix(name, ".slice") {
		return name
	}
	return prefix + "-" + name + ".scope"
}

// applySystemd starts the container's unit with pid in it. A slice cannot
// be given processes when it is started (systemd's PIDs property is a
// scope's), so pid joins a slice's cgroup directly, as it would join an
// existing cgroup. A unit of that name that exists already (another
// container's scope) fails with ErrUnitExists and is not this Manager's
// to stop.
func (m *Manager) applySystemd(pid int) error {
	unit := m.unitName()
	slice := strings.HasSuffix(unit, ".slice")
	start := pid
	if slice {
		start = -1
	}
	if err := m.m.Apply(start); err != nil {
		if isUnitExists(err) {
			m.foreign = true
			return fmt.Errorf("%w: %s", ErrUnitExists, unit)
		}
		// The library's message lists every property sent: keep the cause.
		if inner := errors.Unwrap(err); inner != nil && strings.HasPrefix(err.Error(), "unable to start unit") {
			err = inner
		}
		return fmt.Errorf("cgroups: start unit %s: %w", unit, err)
	}
	m.st.Paths = m.m.GetPaths()
	if slice && pid > 0 {
		return m.Enter(pid)
	}
	return nil
}

// enterSystemd moves pid into the unit's cgroup through systemd
// (AttachProcessesToUnit) when writing cgroup.procs is not allowed: a
// rootless caller may own the delegated cgroup without owning the common
// ancestor that cgroup v2 migration needs write access to.
func (m *Manager) enterSystemd(pid int, werr error) error {
	if !errors.Is(werr, os.ErrPermission) {
		return werr
	}
	if err := m.m.AddPid("", pid); err != nil {
		return fmt.Errorf("%w (through systemd: %v)", werr, err)
	}
	return nil
}

func isUnitExists(err error) bool {
	var derr dbus.Error
	return errors.As(err, &derr) && strings.Contains(derr.Name, "org.freedesktop.systemd1.UnitExists")
}

// SystemdUserAvailable reports whether the systemd driver can work for a
// rootless container: a user manager's bus is there.
func SystemdUserAvailable() bool {
	return systemdReachable(true) == nil
}
