package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Finish makes the root filesystem prepared by Prepare (the working
// directory) the process's root: pivot_root, or MS_MOVE and chroot with
// opts.NoPivot; then it applies rootfsPropagation, remounts a read-only
// /dev tmpfs, masks maskedPaths, makes readonlyPaths read-only and remounts
// the root read-only when root.readonly is set.
func Finish(spec *specs.Spec, opts Options) error {
	if spec == nil {
		return errors.New("rootfs: no config")
	}
	prop, err := rootPropagation(spec)
	if err != nil {
		return err
	}
	switch {
	case opts.NoMountNS:
		// runc does the same: pivot_root and MS_MOVE would change the
		// host's root; no propagation to set on the host's mounts.
		prop.after = 0
		err = chrootHere()
	case opts.NoPivot:
		err = moveRoot()
	default:
		err = pivotRoot()
	}
	if err != nil {
		return err
	}
	if prop.after != 0 {
		if err := mount("", "/", "", prop.after, "", "/"); err != nil {
			return fmt.Errorf("set rootfsPropagation: %w", err)
		}
	}
	for _, m := range spec.Mounts {
		o, err := parseMount(&m)
		if err == nil && devReadonlyLater(&m, o) {
			if err := mount("", "/dev", "", unix.MS_REMOUNT|o.flags, o.dataString(), "/dev"); err != nil {
				return mountErr(&m, "remount read-only", err)
			}
		}
	}
	if spec.Linux != nil && len(spec.Linux.MaskedPaths)+len(spec.Linux.ReadonlyPaths) > 0 {
		// The paths are resolved below the new root, by handle (mask_linux.go).
		root, err := os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open root: %w", err)
		}
		defer root.Close()
		label := mountLabel(spec)
		for _, p := range spec.Linux.MaskedPaths {
			if err := maskPath(root, p, label); err != nil {
				return fmt.Errorf("masked path %s: %w", p, err)
			}
		}
		for _, p := range spec.Linux.ReadonlyPaths {
			if err := readonlyPath(root, p); err != nil {
				return fmt.Errorf("readonly path %s: %w", p, err)
			}
		}
	}
	if spec.Root != nil && spec.Root.Readonly {
		if err := remountBind("/", unix.MS_RDONLY, 0, "/"); err != nil {
			return fmt.Errorf("read-only root: %w", err)
		}
	}
	return nil
}

// pivotRoot makes the working directory the root with the
// pivot_root(".", ".") idiom: the old root ends up mounted on top of the
// new one and is detached from there, without a directory for it.
func pivotRoot() error {
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: "/", Err: err}
	}
	defer unix.Close(oldroot)
	if err := unix.PivotRoot(".", "."); err != nil {
		return &os.PathError{Op: "pivot_root", Path: ".", Err: err}
	}
	// The working directory is the old root now; make sure of it.
	if err := unix.Fchdir(oldroot); err != nil {
		return &os.PathError{Op: "fchdir", Path: "old root", Err: err}
	}
	// An unmount must not propagate to the host through a shared mount.
	if err := mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, "", "old root"); err != nil {
		return err
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return &os.PathError{Op: "umount", Path: "old root", Err: err}
	}
	if err := unix.Chdir("/"); err != nil {
		return &os.PathError{Op: "chdir", Path: "/", Err: err}
	}
	return nil
}

// chrootHere makes the working directory the root with chroot(2) alone.
func chrootHere() error {
	if err := unix.Chroot("."); err != nil {
		return &os.PathError{Op: "chroot", Path: ".", Err: err}
	}
	if err := unix.Chdir("/"); err != nil {
		return &os.PathError{Op: "chdir", Path: "/", Err: err}
	}
	return nil
}

// MountsUnder returns the ids of the mounts at or under dir (an absolute
// path without symbolic links), for UnmountUnder to keep: a root
// filesystem may be a mount the caller made (containerd's overlay).
func MountsUnder(dir string) ([]int, error) {
	ms, err := mountsUnder(dir)
	if err != nil {
		return nil, err
	}
	ids := make([]int, 0, len(ms))
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	return ids, nil
}

func mountsUnder(dir string) ([]*mountinfo.Info, error) {
	if !filepath.IsAbs(dir) || filepath.Clean(dir) != dir || dir == "/" {
		return nil, fmt.Errorf("rootfs: mounts under %q: not an absolute path below /", dir)
	}
	ms, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return nil, fmt.Errorf("mounts under %s: %w", dir, err)
	}
	return ms, nil
}

// UnmountUnder detaches every mount at or under dir (an absolute path
// without symbolic links) but those in keep, deepest first: what a
// container without a mount namespace left in the host's mount table. A
// mount is unmounted only while it is the top one at its path (statx
// STATX_MNT_ID), so a kept mount below it is never hit.
func UnmountUnder(dir string, keep []int) error {
	kept := make(map[int]bool, len(keep))
	for _, id := range keep {
		kept[id] = true
	}
	// A few rounds: a mount hidden under another one is the top one only
	// once the upper one is gone.
	for round := 0; round < 16; round++ {
		all, err := mountsUnder(dir)
		if err != nil {
			return err
		}
		var ms []*mountinfo.Info
		for _, m := range all {
			if !kept[m.ID] {
				ms = append(ms, m)
			}
		}
		if len(ms) == 0 {
			return nil
		}
		sort.SliceStable(ms, func(i, j int) bool { return len(ms[i].Mountpoint) > len(ms[j].Mountpoint) })
		for _, m := range ms {
			var stx unix.Statx_t
			err := unix.Statx(unix.AT_FDCWD, m.Mountpoint, unix.AT_SYMLINK_NOFOLLOW|unix.AT_NO_AUTOMOUNT, unix.STATX_MNT_ID, &stx)
			if err != nil || stx.Mask&unix.STATX_MNT_ID == 0 || int(stx.Mnt_id) != m.ID {
				continue // hidden, or gone with its parent
			}
			err = unix.Unmount(m.Mountpoint, unix.MNT_DETACH)
			if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
				return &os.PathError{Op: "umount", Path: m.Mountpoint, Err: err}
			}
		}
	}
	return fmt.Errorf("rootfs: unmount under %s: mounts remain", dir)
}

// moveRoot is --no-pivot: it detaches every mount outside the root
// filesystem (they would stay reachable from the namespace), moves the root
// onto "/" and chroots into it.
func moveRoot() error {
	// getcwd(2) itself: os.Getwd may answer with $PWD, another name.
	cwd, err := unix.Getwd()
	if err != nil {
		return &os.PathError{Op: "getcwd", Path: ".", Err: err}
	}
	// The calling thread's mount table (see privateParent).
	f, err := os.Open("/proc/thread-self/mountinfo")
	if err != nil {
		return fmt.Errorf("no-pivot: %w", err)
	}
	ms, err := mountinfo.GetMountsFromReader(f, nil)
	f.Close()
	if err != nil {
		return fmt.Errorf("no-pivot: %w", err)
	}
	// Deepest first, so children go before their parents.
	sort.Slice(ms, func(i, j int) bool { return len(ms[i].Mountpoint) > len(ms[j].Mountpoint) })
	for _, m := range ms {
		p := m.Mountpoint
		if p == "/" || p == cwd || strings.HasPrefix(p, cwd+"/") || strings.HasPrefix(cwd, p+"/") {
			continue
		}
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			// A locked mount (user namespace) cannot go: hide it.
			if err := mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, "size=0", p); err != nil {
				return fmt.Errorf("no-pivot: hide %s: %w", p, err)
			}
		}
	}
	if err := mount(cwd, "/", "", unix.MS_MOVE, "", "/"); err != nil {
		return fmt.Errorf("no-pivot: move root: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return &os.PathError{Op: "chroot", Path: cwd, Err: err}
	}
	if err := unix.Chdir("/"); err != nil {
		return &os.PathError{Op: "chdir", Path: "/", Err: err}
	}
	return nil
}
