package rootfs

import (
	"errors"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// MountOverlay mounts the overlay that data (AnnotationOverlay's value)
// describes onto target, in the caller's mount namespace: the VM runtime
// mounts it on the host and shares target with the guest.
func MountOverlay(data, target string) error { return mountOverlayRoot(data, target) }

// mountOverlayRoot mounts the overlay that data (overlayfs's option
// syntax, AnnotationOverlay) describes onto rootPath. Through fsopen(2) it
// adds the lower directories one by one ("lowerdir+", Linux 6.8), so the
// stack is not bounded by mount(2)'s one page of options (about 40 layers
// with the store's paths); older kernels get mount(2).
func mountOverlayRoot(data, rootPath string) error {
	err := mountOverlayFD(data, rootPath)
	if err == nil {
		return nil
	}
	if errors.Is(err, errNoLowerdirPlus) {
		return mount("overlay", rootPath, "overlay", 0, data, rootPath)
	}
	return err
}

var errNoLowerdirPlus = errors.New("overlay: no lowerdir+")

func mountOverlayFD(data, rootPath string) error {
	opts := splitEscaped(data, ',')
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return errNoLowerdirPlus
	}
	defer unix.Close(fsfd)
	for _, o := range opts {
		k, v, hasValue := strings.Cut(o, "=")
		switch {
		case k == "lowerdir":
			for i, l := range splitEscaped(v, ':') {
				if err := unix.FsconfigSetString(fsfd, "lowerdir+", unescape(l)); err != nil {
					if i == 0 {
						return errNoLowerdirPlus
					}
					return &os.PathError{Op: "fsconfig lowerdir+", Path: l, Err: err}
				}
			}
		case !hasValue:
			if err := unix.FsconfigSetFlag(fsfd, k); err != nil {
				return &os.PathError{Op: "fsconfig " + k, Path: rootPath, Err: err}
			}
		default:
			if err := unix.FsconfigSetString(fsfd, k, unescape(v)); err != nil {
				return &os.PathError{Op: "fsconfig " + k, Path: unescape(v), Err: err}
			}
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return &os.PathError{Op: "fsconfig create overlay", Path: rootPath, Err: err}
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "fsmount overlay", Path: rootPath, Err: err}
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, rootPath, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return &os.PathError{Op: "move_mount", Path: rootPath, Err: err}
	}
	return nil
}

// splitEscaped splits s at every sep not escaped by a backslash, keeping
// the escapes (overlayfs's syntax for ',' and ':' in paths).
func splitEscaped(s string, sep byte) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// unescape drops the backslash escapes.
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
