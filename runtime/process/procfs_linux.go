package process

import (
	"fmt"
	"io"
	"os"
	"strconv"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	"golang.org/x/sys/unix"
)

// The process attributes set through /proc (LSM exec labels, sysctls, the
// setgroups policy, the thread list, the descriptor list) are set by the
// container's init and by exec after they joined the container's mount
// namespace: the /proc they see there may be a mount the container made
// (a container holding CAP_SYS_ADMIN can cover /proc, or /proc/self, with
// its own files, CVE-2025-52881). They are never opened by path: each goes
// through pathrs-lite's procfs handle, a private procfs instance (fsopen or
// a clone of the /proc mount) verified to be the root of a real procfs,
// with every lookup in it confined to that mount (no symbolic links, no
// mounts crossed). Where no verified procfs can be had, the operation fails.

// procBase is the directory of procfs a file is looked up in.
type procBase int

const (
	procThreadSelf procBase = iota // /proc/thread-self: the calling thread
	procSelf                       // /proc/self: the calling process
	procRoot                       // /proc: global files (/proc/sys)
)

func (b procBase) String() string {
	switch b {
	case procThreadSelf:
		return "/proc/thread-self/"
	case procSelf:
		return "/proc/self/"
	}
	return "/proc/"
}

// openProc opens subpath of base in a verified procfs with flags (O_RDONLY,
// O_WRONLY, O_DIRECTORY …). The returned done must be called once the file
// is closed: for procThreadSelf the calling goroutine stays locked to its
// thread until then, so the file keeps naming the thread that uses it.
func openProc(base procBase, subpath string, flags int) (f *os.File, done func(), err error) {
	name := base.String() + subpath
	proc, err := procfs.OpenProcRoot()
	if err != nil {
		return nil, nil, fmt.Errorf("open procfs for %s: %w", name, err)
	}
	defer proc.Close()
	var h *os.File
	done = func() {}
	switch base {
	case procThreadSelf:
		var closer procfs.ProcThreadSelfCloser
		h, closer, err = proc.OpenThreadSelf(subpath)
		if closer != nil {
			done = closer
		}
	case procSelf:
		h, err = proc.OpenSelf(subpath)
	default:
		h, err = proc.OpenRoot(subpath)
	}
	if err != nil {
		done()
		return nil, nil, err
	}
	defer h.Close()
	// The handle is O_PATH; open the file it holds (through the verified
	// procfs's /proc/thread-self/fd), never its path again.
	f, err = pathrs.Reopen(h, flags|unix.O_CLOEXEC)
	if err != nil {
		done()
		return nil, nil, fmt.Errorf("open %s: %w", name, err)
	}
	return f, done, nil
}

// writeProc writes data to subpath of base in a verified procfs, in one
// write(2) as the kernel's attribute files expect.
func writeProc(base procBase, subpath string, data []byte) error {
	f, done, err := openProc(base, subpath, unix.O_WRONLY)
	if err != nil {
		return err
	}
	defer done()
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return &os.PathError{Op: "write", Path: base.String() + subpath, Err: underlying(err)}
	}
	return nil
}

// readProc reads subpath of base in a verified procfs.
func readProc(base procBase, subpath string) ([]byte, error) {
	f, done, err := openProc(base, subpath, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer done()
	defer f.Close()
	return io.ReadAll(f)
}

// readProcDir lists directory subpath of base in a verified procfs.
func readProcDir(base procBase, subpath string) ([]string, error) {
	f, done, err := openProc(base, subpath, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	defer done()
	defer f.Close()
	return f.Readdirnames(-1)
}

// underlying strips the *os.PathError os.File adds (its name is the
// descriptor's, not the procfs path).
func underlying(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// OpenDescriptors lists the open descriptors of the calling process from
// a verified procfs's /proc/thread-self/fd, for a caller that cannot use
// close_range(2): a covered /proc/self/fd could hide a descriptor that
// must not reach the container.
func OpenDescriptors() ([]int, error) {
	names, err := readProcDir(procThreadSelf, "fd")
	if err != nil {
		return nil, fmt.Errorf("process: list descriptors: %w", err)
	}
	fds := make([]int, 0, len(names))
	for _, n := range names {
		if fd, err := strconv.Atoi(n); err == nil {
			fds = append(fds, fd)
		}
	}
	return fds, nil
}
