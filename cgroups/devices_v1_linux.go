package cgroups

import (
	"errors"
	"fmt"

	lc "github.com/opencontainers/cgroups"
	devcfg "github.com/opencontainers/cgroups/devices/config"
	"golang.org/x/sys/unix"
)

// setDevicesV1 writes the device allow-list to a cgroup v1 devices
// controller in config order. config-linux.md "Allowed Device list" says
// the entries are applied in order, and the v1 controller is the interface
// the spec describes: so rather than the library's emulator, which writes a
// minimal transition and leaves devices.list in its own order, a deny of
// "a" clears the list and each rule is written to devices.allow or
// devices.deny as listed (the spec's entries, then the default devices,
// as deviceRules orders them). The kernel then holds
// exactly the listed exceptions in that order.
//
// Between the clearing deny and the last allow the cgroup's processes
// could not open a device: live is true for a container whose processes
// run (an update), which is then frozen around the rewrite unless it is
// already paused. At create the init is blocked on its configuration and
// opens nothing.
//
// The kernel refuses the clearing deny (EINVAL) for a cgroup with
// children, which a container with a cgroup namespace may have created,
// and every write (EPERM) in a user namespace: then, with nothing changed
// yet, the library's transition (which never clears the list, and skips
// the controller in a user namespace) does the work.
func (m *Manager) setDevicesV1(dir string, rules []*devcfg.Rule, live bool) error {
	if live && m.m.Path("freezer") != "" {
		frozen, err := m.Frozen()
		if err != nil {
			return err
		}
		if !frozen {
			if err := m.Freeze(); err != nil {
				return err
			}
			defer m.Thaw()
		}
	}
	err := lc.WriteFile(dir, "devices.deny", "a *:* rwm")
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EPERM) {
		return lc.DevicesSetV1(dir, &lc.Resources{Devices: rules})
	}
	if err != nil {
		return err
	}
	for i, r := range rules {
		file := "devices.deny"
		if r.Allow {
			file = "devices.allow"
		}
		if err := lc.WriteFile(dir, file, r.CgroupString()); err != nil {
			return fmt.Errorf("device rule %d (%s to %s): %w", i, r.CgroupString(), file, err)
		}
	}
	return nil
}
