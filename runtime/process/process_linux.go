package process

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ocikit/ocikit/convert"
	"github.com/ocikit/ocikit/runtime/rules"
	"golang.org/x/sys/unix"
)

// maxPasswd bounds how much of a container's /etc/passwd HomeDir reads.
const maxPasswd = 16 << 20

// HomeDir returns the home directory of uid in the passwd(5) file at path,
// read as the calling process sees it (inside the container: after
// pivot_root or chroot), or "/" when there is no such entry, as runc does
// for HOME. The file comes from the container: anything but a regular
// file (a FIFO would block), or a broken one, counts as no entry.
func HomeDir(path string, uid uint32) string {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return "/"
	}
	defer f.Close()
	return homeDir(f, uid)
}

// HomeDirIn is HomeDir for the etc/passwd of the root directory root (an
// O_PATH descriptor such as /proc/<init>/root), resolved inside it as the
// container would (openat2 RESOLVE_IN_ROOT): a symbolic link cannot lead
// out of it.
func HomeDirIn(root *os.File, uid uint32) string {
	fd, err := unix.Openat2(int(root.Fd()), "etc/passwd", &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_NONBLOCK | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return "/"
	}
	f := os.NewFile(uintptr(fd), "/etc/passwd")
	defer f.Close()
	return homeDir(f, uid)
}

func homeDir(f *os.File, uid uint32) string {
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return "/"
	}
	entries, err := convert.ParsePasswd(io.LimitReader(f, maxPasswd))
	if err != nil {
		return "/"
	}
	for _, e := range entries {
		if e.UID == uid && e.Home != "" {
			return e.Home
		}
	}
	return "/"
}

// AppArmorEnabled reports whether AppArmor is enabled on this host.
func AppArmorEnabled() bool {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	if err != nil || !bytes.HasPrefix(b, []byte("Y")) {
		return false
	}
	_, err = os.Stat("/sys/kernel/security/apparmor")
	return err == nil
}

// SELinuxEnabled reports whether SELinux is enabled on this host.
func SELinuxEnabled() bool {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/selinux", &st); err != nil || st.Type != unix.SELINUX_MAGIC {
		return false
	}
	_, err := os.Stat("/sys/fs/selinux/enforce")
	return err == nil
}

// WriteSysctls writes linux.sysctl under /proc/sys of the calling
// process's namespaces. Keys must be namespaced sysctls (SysctlNamespace);
// create should have run ValidateSysctls against linux.namespaces, which
// also checks that the container has the namespace each key needs.
func WriteSysctls(sysctl map[string]string) error {
	for _, k := range sortedKeys(sysctl) {
		if SysctlNamespace(k) == "" || strings.Contains(k, "..") {
			return invalid("sysctl %q: not namespaced, it would change the host", k)
		}
		p := "sys/" + strings.ReplaceAll(k, ".", "/")
		if strings.Contains(k, "/") {
			p = "sys/" + k
		}
		if err := writeProc(procRoot, p, []byte(sysctl[k])); err != nil {
			return fmt.Errorf("process: sysctl %s=%s: %w", k, sysctl[k], err)
		}
	}
	return nil
}

// rlimitResource is the resource number of a validated rlimit type.
func rlimitResource(name string) int {
	n, _ := rules.Rlimit(name)
	return n
}
