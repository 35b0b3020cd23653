package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

const exePrefix = ".ocikit-"

// initBinary opens (O_PATH) the file the container init is executed from:
// a read-only bind mount of ocikit's own binary under the root, made once
// per binary (keyed by device and inode). A container process that
// reaches the init's executable through /proc/<pid>/exe then finds a
// read-only mount: writing fails with EROFS instead of replacing the
// host's binary (CVE-2019-5736).
//
// The check and the open happen under a shared lock on <root>/.exe.lock;
// making a new mount takes it exclusively and unmounts the mounts of
// earlier binaries that nothing uses any more (an upgrade leaves none
// behind).
func (r *Runtime) initBinary() (*os.File, error) {
	var self unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &self); err != nil {
		return nil, &os.PathError{Op: "stat", Path: "/proc/self/exe", Err: err}
	}
	target := filepath.Join(r.root, fmt.Sprintf("%s%x-%x", exePrefix, self.Dev, self.Ino))
	lf, err := os.OpenFile(filepath.Join(r.root, ".exe.lock"), os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("protect binary: %w", err)
	}
	defer lf.Close()
	if err := flock(lf, unix.LOCK_SH); err != nil {
		return nil, fmt.Errorf("protect binary: %w", err)
	}
	if isROCopy(target, &self) {
		return openPath(target)
	}
	if err := flock(lf, unix.LOCK_EX); err != nil {
		return nil, fmt.Errorf("protect binary: %w", err)
	}
	if !isROCopy(target, &self) {
		if err := r.mountBinary(target); err != nil {
			return nil, err
		}
	}
	return openPath(target)
}

func (r *Runtime) mountBinary(target string) error {
	f, err := os.OpenFile(target, os.O_CREATE|os.O_RDONLY, 0o500)
	if err != nil {
		return fmt.Errorf("protect binary: %w", err)
	}
	f.Close()
	if err := unix.Mount("/proc/self/exe", target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("protect binary: bind %s: %w", target, err)
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV)
	if err := unix.Mount("", target, "", flags, ""); err != nil {
		unix.Unmount(target, unix.MNT_DETACH)
		return fmt.Errorf("protect binary: remount %s read-only: %w", target, err)
	}
	// Mounts of earlier binaries: a plain unmount fails with EBUSY while
	// an init still runs from one (or a create holds it open).
	ents, _ := os.ReadDir(r.root)
	for _, e := range ents {
		p := filepath.Join(r.root, e.Name())
		if !strings.HasPrefix(e.Name(), exePrefix) || p == target {
			continue
		}
		if err := unix.Unmount(p, 0); err == nil || err == unix.EINVAL {
			os.Remove(p)
		}
	}
	return nil
}

func openPath(p string) (*os.File, error) {
	f, err := os.OpenFile(p, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open init binary: %w", err)
	}
	return f, nil
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
