package vm

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ocikit/ocikit/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// guestBinds is where the guest's agent mounts the bind mounts' shares
// (outside the container's root: the container sees only its mounts).
const guestBinds = "/run/vm/binds"

// share is a host directory given to the guest as a 9p share of its own.
type share struct {
	Tag      string // the 9p mount tag, "bindN"
	Path     string // the host directory, symlinks resolved
	Readonly bool   // qemu refuses writes (readonly=on), the guest mounts it ro
}

// isBind says whether m is a bind mount (type "bind", or the "bind" or
// "rbind" option as runc accepts on any type; config-linux.md).
func isBind(m specs.Mount) bool {
	return m.Type == "bind" || hasOption(m.Options, "bind") || hasOption(m.Options, "rbind")
}

// readonlyMount says whether m's options end up read-only: the last of
// "ro" and "rw" wins, as mount(8) reads them.
func readonlyMount(m specs.Mount) bool {
	ro := false
	for _, o := range m.Options {
		switch o {
		case "ro":
			ro = true
		case "rw":
			ro = false
		}
	}
	return ro
}

// bindShares turns each bind mount of spec into a 9p share and rewrites
// the mount to bind from the share's guest mount point; the mount keeps
// its destination, type and options (ro, nosuid, ...), so the guest's
// runtime applies them as the plain runtime would. A source is resolved
// on the host (relative to the bundle, as config.md says for bind
// mounts; symbolic links followed) and must exist. A directory is shared
// as it is. A regular file is given by sharing its parent directory: the
// guest's agent sees the siblings, the container only the file. Other
// kinds (device nodes, sockets) are refused: a node on a 9p share opens
// the guest's device, not the host's.
func bindShares(spec *specs.Spec, bundle string) ([]share, error) {
	var shares []share
	for i, m := range spec.Mounts {
		if !isBind(m) {
			continue
		}
		src := m.Source
		if !filepath.IsAbs(src) {
			src = filepath.Join(bundle, src)
		}
		real, err := filepath.EvalSymlinks(src)
		if err != nil {
			return nil, fmt.Errorf("%w: vm: bind mount %s: source %s: %v", runtime.ErrInvalidSpec, m.Destination, m.Source, unwrapPath(err))
		}
		fi, err := os.Stat(real)
		if err != nil {
			return nil, fmt.Errorf("%w: vm: bind mount %s: source %s: %v", runtime.ErrInvalidSpec, m.Destination, m.Source, unwrapPath(err))
		}
		sh := share{Path: real, Readonly: readonlyMount(m)}
		file := ""
		switch {
		case fi.IsDir():
		case fi.Mode().IsRegular():
			sh.Path, file = filepath.Dir(real), filepath.Base(real)
		default:
			return nil, fmt.Errorf("%w: vm: bind mount %s: source %s is a %s: only directories and regular files can be shared with the guest",
				runtime.ErrInvalidSpec, m.Destination, m.Source, kindOf(fi.Mode()))
		}
		// One share per directory and mode: podman's /etc/hosts,
		// /etc/resolv.conf and /etc/hostname share one device.
		sh.Tag = "bind" + strconv.Itoa(len(shares))
		if j := slices.IndexFunc(shares, func(x share) bool { return x.Path == sh.Path && x.Readonly == sh.Readonly }); j >= 0 {
			sh = shares[j]
		} else {
			shares = append(shares, sh)
		}
		spec.Mounts[i].Source = filepath.Join(guestBinds, sh.Tag, file)
	}
	return shares, nil
}

func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func kindOf(m os.FileMode) string {
	switch {
	case m&os.ModeDevice != 0:
		return "device node"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	}
	return "special file"
}

// shareArgs are qemu's arguments for the shares: one 9p device each,
// with passthrough as the root filesystem's share (ownership means the
// same in the guest as on the host). qemu's local backend opens every
// path below the share's root with O_NOFOLLOW, component by component, so
// neither ".." nor a symbolic link in the share leads the guest outside
// it.
func shareArgs(shares []share, kvm bool) []string {
	bus := "pci"
	if kvm {
		bus = "device"
	}
	var args []string
	for _, s := range shares {
		ro := ""
		if s.Readonly {
			ro = ",readonly=on"
		}
		args = append(args,
			"-fsdev", "local,id="+s.Tag+",path="+strings.ReplaceAll(s.Path, ",", ",,")+",security_model=passthrough"+ro,
			"-device", "virtio-9p-"+bus+",fsdev="+s.Tag+",mount_tag="+s.Tag)
	}
	return args
}

// mountBindShares runs in the guest: it mounts each share a bind mount of
// spec names (rewritten by bindShares) at its mount point under
// guestBinds, read-only where the mount is.
func mountBindShares(spec *specs.Spec) error {
	done := map[string]bool{}
	for _, m := range spec.Mounts {
		if !isBind(m) || !strings.HasPrefix(m.Source, guestBinds+"/") {
			continue
		}
		tag, _, _ := strings.Cut(strings.TrimPrefix(m.Source, guestBinds+"/"), "/")
		if done[tag] {
			continue
		}
		done[tag] = true
		dst := filepath.Join(guestBinds, tag)
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return err
		}
		var flags uintptr
		if readonlyMount(m) {
			flags |= unix.MS_RDONLY
		}
		if err := unix.Mount(tag, dst, "9p", flags, "trans=virtio,version=9p2000.L,msize=524288"); err != nil {
			return &os.PathError{Op: "mount 9p share " + tag, Path: dst, Err: err}
		}
	}
	return nil
}
