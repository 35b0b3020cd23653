package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// initBinary returns a descriptor of the file the container init is
// executed from (through /proc/self/fd/N), a view of ocikit's own binary
// that nobody can write: a container process reaching the init's
// executable through /proc/<pid>/exe must not be able to replace the
// host's binary (CVE-2019-5736).
//
//   - With the privilege to mount (root, or root of the user and mount
//     namespaces a rootless podman runs us in): a detached read-only bind
//     mount of the binary (open_tree(2) OPEN_TREE_CLONE, mount_setattr(2)
//     MOUNT_ATTR_RDONLY). Writes through it fail with EROFS. The mount is
//     attached nowhere and is freed with its last user (our descriptor,
//     the init until its execve): nothing is left under the root, so a
//     throwaway root can simply be removed, and it costs no more than
//     checking a shared mount would (two syscalls, ~0.1 ms).
//   - Without it (EPERM: an unprivileged user), when the caller cannot
//     write the binary (a root-owned /usr/bin/ocikit): the binary itself.
//     The container's credentials are at most the caller's (a rootless
//     container maps the caller's own uid and gid; capabilities in its
//     user namespace do not reach files whose owner is not mapped there),
//     so what the caller cannot write, the container cannot either.
//   - Otherwise (a binary the user owns, or kernels before 5.12 without
//     mount_setattr): a sealed memfd copy of the binary (memfd_create(2),
//     F_SEAL_WRITE and friends), which costs a copy per container.
func initBinary() (*os.File, error) {
	f, err := detachedBinary()
	if err == nil {
		return f, nil
	}
	if !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EACCES) {
		return nil, fmt.Errorf("protect binary: %w", err)
	}
	if errors.Is(err, unix.EPERM) && os.Geteuid() != 0 {
		if f, ok := unwritableBinary(); ok {
			return f, nil
		}
	}
	f, merr := sealedBinary()
	if merr != nil {
		return nil, fmt.Errorf("protect binary: %w (read-only mount: %v)", merr, err)
	}
	return f, nil
}

// detachedBinary clones the mount of /proc/self/exe, restricted to the
// binary, and makes the clone read-only, nosuid and nodev.
func detachedBinary() (*os.File, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, "/proc/self/exe", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return nil, &os.PathError{Op: "open_tree", Path: "/proc/self/exe", Err: err}
	}
	f := os.NewFile(uintptr(fd), "ocikit")
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		f.Close()
		return nil, &os.PathError{Op: "mount_setattr", Path: "/proc/self/exe", Err: err}
	}
	return f, nil
}

// unwritableBinary opens the binary (O_PATH) when the caller may not
// write it, judged on the open file: its effective ids, groups and the
// file's mode and ACL (faccessat2(2) AT_EACCESS through /proc/self/fd).
func unwritableBinary() (*os.File, bool) {
	f, err := os.OpenFile("/proc/self/exe", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false
	}
	p := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	err = unix.Faccessat2(unix.AT_FDCWD, p, unix.W_OK, unix.AT_EACCESS)
	if err != unix.EACCES && err != unix.EROFS && err != unix.EPERM {
		f.Close()
		return nil, false
	}
	return f, true
}

// sealedBinary copies the binary into a memfd sealed against any change.
func sealedBinary() (*os.File, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, err
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("ocikit", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, os.NewSyscallError("memfd_create", err)
	}
	f := os.NewFile(uintptr(fd), "memfd:ocikit")
	if err := copyFile(f, src); err != nil {
		f.Close()
		return nil, fmt.Errorf("copy binary to memfd: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, os.NewSyscallError("fcntl F_ADD_SEALS", err)
	}
	return f, nil
}

// copyFile copies src to dst in the kernel with sendfile(2) (which, unlike
// copy_file_range(2), also copies across filesystems, as into a memfd).
func copyFile(dst, src *os.File) error {
	for {
		n, err := unix.Sendfile(int(dst.Fd()), int(src.Fd()), nil, 1<<30)
		switch {
		case err == unix.EINTR || err == unix.EAGAIN:
		case err == unix.EINVAL || err == unix.ENOSYS:
			// Not a file sendfile(2) reads from: copy through us.
			_, err = io.Copy(dst, src)
			return err
		case err != nil:
			return os.NewSyscallError("sendfile", err)
		case n == 0:
			return nil
		}
	}
}
