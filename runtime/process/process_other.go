//go:build !linux

package process

func AppArmorEnabled() bool                { return false }
func SELinuxEnabled() bool                 { return false }
func WriteSysctls(map[string]string) error { return ErrNotSupported }
func HomeDir(string, uint32) string        { return "/" }
