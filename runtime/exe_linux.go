package runtime

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// initBinary returns the path the container init is executed from: a
// read-only bind mount of ocikit's own binary under the root, made once per
// binary (keyed by device and inode). A container process that reaches the
// init's executable through /proc/<pid>/exe then finds a read-only mount:
// writing fails with EROFS instead of replacing the host's binary
// (CVE-2019-5736).
func (r *Runtime) initBinary() (string, error) {
	var self unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &self); err != nil {
		return "", &os.PathError{Op: "stat", Path: "/proc/self/exe", Err: err}
	}
	target := filepath.Join(r.root, fmt.Sprintf(".ocikit-%x-%x", self.Dev, self.Ino))
	if isROCopy(target, &self) {
		return target, nil
	}
	// Serialize the one-time mount between concurrent creates.
	lf, err := os.OpenFile(filepath.Join(r.root, ".exe.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", fmt.Errorf("protect binary: %w", err)
	}
	defer lf.Close()
	if err := flock(lf, unix.LOCK_EX); err != nil {
		return "", fmt.Errorf("protect binary: %w", err)
	}
	if isROCopy(target, &self) {
		return target, nil
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_RDONLY, 0o500)
	if err != nil {
		return "", fmt.Errorf("protect binary: %w", err)
	}
	f.Close()
	if err := unix.Mount("/proc/self/exe", target, "", unix.MS_BIND, ""); err != nil {
		return "", fmt.Errorf("protect binary: bind %s: %w", target, err)
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV)
	if err := unix.Mount("", target, "", flags, ""); err != nil {
		unix.Unmount(target, unix.MNT_DETACH)
		return "", fmt.Errorf("protect binary: remount %s read-only: %w", target, err)
	}
	return target, nil
}

// isROCopy reports whether path is the binary self on a read-only mount.
func isROCopy(path string, self *unix.Stat_t) bool {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil || st.Dev != self.Dev || st.Ino != self.Ino {
		return false
	}
	var fs unix.Statfs_t
	return unix.Statfs(path, &fs) == nil && fs.Flags&unix.ST_RDONLY != 0
}
