package cgroups

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"slices"
	"strings"

	systemdDbus "github.com/coreos/go-systemd/v22/dbus"
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
	if strings.HasSuffix(name, ".slice") {
		// systemd places a slice by its name (a-b.slice in a.slice), not
		// by the Wants= the library gives it: the cgroup directory the
		// library computes (SLICE/NAME) is the unit's only when SLICE is
		// the name's parent. An empty SLICE is that parent.
		own, err := systemd.ExpandSlice(name)
		if err != nil {
			return "", "", "", fmt.Errorf("%w: %q: %v", ErrInvalidPath, p, err)
		}
		parent := "-.slice"
		if i := strings.LastIndexByte(strings.TrimSuffix(name, ".slice"), '-'); i > 0 {
			parent = name[:i] + ".slice"
		}
		if slice == "" {
			slice = parent
		}
		in, _ := systemd.ExpandSlice(slice)
		if path.Join(in, name) != own {
			return "", "", "", fmt.Errorf("%w: %q: systemd puts %s in %s, not in %s", ErrInvalidPath, p, name, parent, slice)
		}
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

// propertyPrefix marks the annotations that become properties of the
// container's unit, as runc reads them: org.systemd.property.NAME=VALUE,
// VALUE in GVariant text form ("'yes'", "uint64 100", "true"); a NAME
// ending in a lowercase letter and "Sec" is converted to NAMEUSec with
// the value in microseconds (TimeoutStopSec=5 -> TimeoutStopUSec=5000000).
const propertyPrefix = "org.systemd.property."

// systemdProps returns the unit properties the annotations ask for (see
// propertyPrefix). Unless an annotation says otherwise, the unit is given
// CollectMode=inactive-or-failed: systemd unloads it when it fails too (an
// OOM-killed scope, a runtime killed before its rollback), instead of
// keeping a failed unit whose name blocks the next container's.
func systemdProps(annotations map[string]string) ([]systemdDbus.Property, error) {
	var props []systemdDbus.Property
	if _, ok := annotations[propertyPrefix+"CollectMode"]; !ok {
		props = append(props, systemdDbus.Property{Name: "CollectMode", Value: dbus.MakeVariant("inactive-or-failed")})
	}
	for _, k := range slices.Sorted(maps.Keys(annotations)) {
		name, ok := strings.CutPrefix(k, propertyPrefix)
		if !ok {
			continue
		}
		v := annotations[k]
		if len(name) < 3 || strings.IndexFunc(name, func(r rune) bool { return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') }) >= 0 {
			return nil, fmt.Errorf("%w: annotation %s: the property name must be at least 3 ASCII letters", ErrInvalidResources, k)
		}
		value, err := dbus.ParseVariant(v, dbus.Signature{})
		if err != nil {
			return nil, fmt.Errorf("%w: annotation %s=%s: %v", ErrInvalidResources, k, v, err)
		}
		if trim, ok := strings.CutSuffix(name, "Sec"); ok && trim[len(trim)-1] >= 'a' && trim[len(trim)-1] <= 'z' {
			if value, err = secToUSec(value); err != nil {
				return nil, fmt.Errorf("%w: annotation %s=%s: %v", ErrInvalidResources, k, v, err)
			}
			name = trim + "USec"
		}
		props = append(props, systemdDbus.Property{Name: name, Value: value})
	}
	return props, nil
}

// secToUSec converts a number of seconds to microseconds (uint64, as
// systemd's *USec properties are), as runc's convertSecToUSec.
func secToUSec(v dbus.Variant) (dbus.Variant, error) {
	const M = 1000000
	var f float64
	switch x := v.Value().(type) {
	case byte:
		f = float64(x)
	case int16:
		f = float64(x)
	case uint16:
		f = float64(x)
	case int32:
		f = float64(x)
	case uint32:
		f = float64(x)
	case int64:
		f = float64(x)
	case uint64:
		return dbus.MakeVariant(x * M), nil
	case float64:
		f = x
	default:
		return v, errors.New("not a number of seconds")
	}
	if f < 0 {
		return v, errors.New("negative number of seconds")
	}
	return dbus.MakeVariant(uint64(f * M)), nil
}
