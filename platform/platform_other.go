//go:build !linux

package platform

// armVariant assumes ARMv7 where /proc/cpuinfo is not available.
func armVariant() string { return "v7" }
