//go:build !linux

package process

import specs "github.com/opencontainers/runtime-spec/specs-go"

func SetRlimits([]specs.POSIXRlimit) error                        { return ErrNotSupported }
func SetRlimitsEarly([]specs.POSIXRlimit) error                   { return ErrNotSupported }
func SetRlimitsLate([]specs.POSIXRlimit) error                    { return ErrNotSupported }
func SetUser(*specs.Process) error                                { return ErrNotSupported }
func ApplyCapabilities(*specs.LinuxCapabilities, ...Option) error { return ErrNotSupported }
func SetNoNewPrivileges() error                                   { return ErrNotSupported }
func SetOOMScoreAdj(*int) error                                   { return ErrNotSupported }
func SetScheduler(*specs.Scheduler) error                         { return ErrNotSupported }
func SetIOPriority(*specs.LinuxIOPriority) error                  { return ErrNotSupported }
func SetPersonality(*specs.LinuxPersonality) error                { return ErrNotSupported }
func SetMemoryPolicy(*specs.LinuxMemoryPolicy) error              { return ErrNotSupported }
func AppArmorEnabled() bool                                       { return false }
func ApplyAppArmor(string) error                                  { return ErrNotSupported }
func SELinuxEnabled() bool                                        { return false }
func SetSELinuxLabel(string) error                                { return ErrNotSupported }
func WriteSysctls(map[string]string) error                        { return ErrNotSupported }
func SetCPUAffinity(string) error                                 { return ErrNotSupported }
func HomeDir(string, uint32) string                               { return "/" }
