package vm

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// jailPath is a host path qemu opens (the kernel, the initramfs, the
// shares), visible at the same path in its jail, read-only unless
// Writable.
type jailPath struct {
	Path     string `json:"path"`
	Writable bool   `json:"writable,omitempty"`
	flat     bool   // bound without the mounts below it
}

// jailDir is where, in the state directory, the jail's root is mounted
// (in qemu's mount namespace only; on the host it stays an empty
// directory).
const jailDir = "jail"

// systemPaths are what qemu itself needs from the host, read-only: its
// binary, libraries and firmware (/usr, with the merged-/usr links or
// directories at the top), the loader's cache, and the few devices it
// opens (and /dev/kvm when it exists).
var systemPaths = []jailPath{
	{Path: "/usr"}, {Path: "/bin"}, {Path: "/sbin"}, {Path: "/lib"}, {Path: "/lib64"}, {Path: "/lib32"}, {Path: "/libx32"},
	{Path: "/etc/ld.so.cache"},
	{Path: "/dev/null", Writable: true}, {Path: "/dev/zero", Writable: true}, {Path: "/dev/urandom", Writable: true},
	{Path: "/dev/random", Writable: true}, {Path: "/dev/kvm", Writable: true},
}

// makeJail confines qemu's view of the host's files, since its 9p
// capabilities (CAP_DAC_OVERRIDE above all) would let a compromised qemu
// open any host file it can name: it unshares the calling thread's mount
// namespace (the caller has locked the goroutine to its thread, and
// starts qemu from it), and mounts on stateDir/jail a tmpfs holding only
// systemPaths, the state directory (qemu's sockets and console log) and
// paths, each bound at its own path, read-only but for the state
// directory and writable shares, and a procfs (jailProc's, once qemu
// runs); the tmpfs is then made read-only. qemu
// chroots into the returned directory. Nothing of this reaches the host's
// mount namespace, and it all goes when qemu exits. A ".." at the root of
// a bound path leads to the jail's tmpfs, not to the host's parent.
func makeJail(stateDir string, paths []jailPath) (string, error) {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return "", os.NewSyscallError("unshare mount namespace", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return "", &os.PathError{Op: "make mounts private", Path: "/", Err: err}
	}
	jail := filepath.Join(stateDir, jailDir)
	if err := os.Mkdir(jail, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return "", err
	}
	if err := unix.Mount("ocikit-vm-jail", jail, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0755,size=64k"); err != nil {
		return "", &os.PathError{Op: "mount tmpfs", Path: jail, Err: err}
	}
	all := append(slices.Clone(systemPaths), paths...)
	// The state directory holds the jail: bound alone, not with the
	// mounts below it.
	all = append(all, jailPath{Path: stateDir, Writable: true, flat: true})
	// Parents before children: a path inside one already bound exists
	// there already (it is the same file system).
	sort.SliceStable(all, func(i, j int) bool { return len(all[i].Path) < len(all[j].Path) })
	for _, p := range all {
		if err := jailBind(jail, p); err != nil {
			return "", err
		}
	}
	// qemu's 9p changes modes through /proc/self/fd/N (fchmodat has no
	// AT_SYMLINK_NOFOLLOW), so it needs a procfs. jailProc mounts over
	// this one that of qemu's own pid namespace; this one, in case that
	// fails, shows only the processes of qemu's own user
	// (hidepid=invisible) and nothing but processes (subset=pid, Linux
	// 5.8; older kernels show the rest too). Through /proc/PID/root of
	// another process of its user, qemu would reach that process's
	// files: hence also a user of its own (QemuUser).
	proc := filepath.Join(jail, "proc")
	if err := os.Mkdir(proc, 0o555); err != nil {
		return "", err
	}
	const procFlags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	if err := unix.Mount("proc", proc, "proc", procFlags, "hidepid=invisible,subset=pid"); err != nil {
		if err := unix.Mount("proc", proc, "proc", procFlags, "hidepid=2"); err != nil {
			return "", &os.PathError{Op: "mount proc", Path: proc, Err: err}
		}
	}
	for _, flags := range []uintptr{unix.MS_REMOUNT, unix.MS_BIND | unix.MS_REMOUNT} {
		if err := unix.Mount("", jail, "", flags|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return "", &os.PathError{Op: "remount read-only", Path: jail, Err: err}
		}
	}
	return jail, nil
}

// jailBind makes p.Path visible at the same path under jail: a symbolic
// link is copied (/lib -> usr/lib), a file or directory bound; a missing
// optional system path (/dev/kvm, /lib32) is skipped.
func jailBind(jail string, p jailPath) error {
	fi, err := os.Lstat(p.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	dst := filepath.Join(jail, p.Path)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		target, err := os.Readlink(p.Path)
		if err != nil {
			return err
		}
		if _, err := os.Lstat(dst); err == nil {
			return nil // within a bound directory
		}
		return os.Symlink(target, dst)
	case fi.IsDir():
		if err := os.Mkdir(dst, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	default:
		f, err := os.OpenFile(dst, os.O_CREATE|os.O_RDONLY, 0o644)
		if err != nil {
			return err
		}
		f.Close()
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REC)
	if p.flat {
		flags = unix.MS_BIND
	}
	if err := unix.Mount(p.Path, dst, "", flags, ""); err != nil {
		return &os.PathError{Op: "bind into qemu's jail", Path: p.Path, Err: err}
	}
	if !p.Writable {
		// The bound mount's own flags (nosuid, nodev, noexec) are
		// kept: a remount that drops them is refused.
		var st unix.Statfs_t
		if err := unix.Statfs(dst, &st); err != nil {
			return &os.PathError{Op: "statfs", Path: dst, Err: err}
		}
		flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY)
		for _, f := range []struct{ st, ms uintptr }{
			{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC},
			{unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
		} {
			if uintptr(st.Flags)&f.st != 0 {
				flags |= f.ms
			}
		}
		if err := unix.Mount("", dst, "", flags, ""); err != nil {
			return &os.PathError{Op: "remount read-only in qemu's jail", Path: p.Path, Err: err}
		}
	}
	return nil
}

// jailPaths are the host paths of a VM that qemu opens: the kernel and
// initramfs, the root filesystem (unless rootfs is "": virtiofsd serves
// it) and the bind mounts' shares, and qemu's binary when it is outside
// /usr.
func jailPaths(qemu, kernel, initrd, rootfs string, rootReadonly bool, shares []share) []jailPath {
	ps := []jailPath{{Path: kernel}, {Path: initrd}}
	if rootfs != "" {
		ps = append(ps, jailPath{Path: rootfs, Writable: !rootReadonly})
	}
	if !strings.HasPrefix(qemu, "/usr/") {
		ps = append(ps, jailPath{Path: qemu})
	}
	for _, s := range shares {
		ps = append(ps, jailPath{Path: s.Path, Writable: !s.Readonly})
	}
	return ps
}

// JailProc mounts, on target (the /proc of qemu's jail), a procfs of the
// pid namespace it runs in: qemu's own, which the monitor's thread joined
// before starting it (jailProc), so qemu sees itself alone there.
// JailProc never returns.
func JailProc(target string) {
	const flags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	err := unix.Mount("proc", target, "proc", flags, "subset=pid")
	if err != nil {
		err = unix.Mount("proc", target, "proc", flags, "")
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "mount proc on %s: %v\n", target, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// jailProc gives qemu (pid, started in a pid namespace of its own, in
// the calling thread's mount namespace) a /proc of its pid namespace in
// its jail, over the host's procfs makeJail mounted there: the thread
// joins the namespace for its children and runs JailProc (ocikit
// vm-jail-proc), whose procfs belongs to the namespace it runs in.
func jailProc(jail string, pid int) error {
	pfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return os.NewSyscallError("pidfd_open", err)
	}
	defer unix.Close(pfd)
	if err := unix.Setns(pfd, unix.CLONE_NEWPID); err != nil {
		return os.NewSyscallError("setns pid namespace", err)
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	out, err := exec.Command(bin, "vm-jail-proc", filepath.Join(jail, "proc")).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}
