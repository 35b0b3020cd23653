package vm

import (
	"os"
	"os/user"
	"strconv"

	"golang.org/x/sys/unix"
)

// QemuUser is the system user qemu runs as when ocikit runs as root and
// the host has it (`useradd --system --no-create-home ocikit-vm`); else
// qemu runs as nobody. A user of its own, which no other process has,
// keeps a compromised qemu from signalling other daemons' processes.
const QemuUser = "ocikit-vm"

// qemuUser is the uid and gid qemu runs as.
type qemuUser struct {
	UID uint32 `json:"uid"`
	GID uint32 `json:"gid"`
}

// qemuCaps are the capabilities qemu keeps (ambient, so they survive
// its exec) when it runs as a qemuUser: what 9p's passthrough security
// model needs to serve the bundle's files as the guest's root sees them
// (any file's contents and ownership, device nodes, setuid bits and file
// capabilities). It has none of the others: no CAP_SYS_ADMIN (mounts,
// namespaces), CAP_SYS_PTRACE, CAP_KILL, CAP_NET_*, CAP_SYS_MODULE,
// CAP_SETUID/SETGID.
var qemuCaps = []uintptr{
	unix.CAP_CHOWN, unix.CAP_DAC_OVERRIDE, unix.CAP_DAC_READ_SEARCH, unix.CAP_FOWNER,
	unix.CAP_FSETID, unix.CAP_MKNOD, unix.CAP_SETFCAP,
}

// qemuUserFor is whom qemu runs as: nil (as the caller) when ocikit is
// not root, else QemuUser's uid and gid, else nobody's (65534).
func qemuUserFor() *qemuUser {
	if os.Geteuid() != 0 {
		return nil
	}
	for _, name := range []string{QemuUser, "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 == nil && err2 == nil && uid != 0 {
			return &qemuUser{UID: uint32(uid), GID: uint32(gid)}
		}
	}
	return &qemuUser{UID: 65534, GID: 65534}
}
