package layer

import (
	"errors"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func genLstat(p string) (genMeta, error) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return genMeta{}, &os.PathError{Op: "lstat", Path: p, Err: err}
	}
	return genMeta{
		mode:   st.Mode,
		uid:    st.Uid,
		gid:    st.Gid,
		size:   st.Size,
		mtime:  time.Unix(st.Mtim.Unix()),
		nlink:  uint64(st.Nlink),
		dev:    uint64(st.Dev),
		ino:    st.Ino,
		rdevMj: unix.Major(uint64(st.Rdev)),
		rdevMn: unix.Minor(uint64(st.Rdev)),
	}, nil
}

func genOpen(p string) (*os.File, error) {
	return os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
}

// Xattrs returns the extended attributes of p without following a final
// symlink; nil when there are none or the filesystem has no xattr support.
func Xattrs(p string) (map[string]string, error) {
	buf := make([]byte, 256)
	var n int
	for {
		var err error
		n, err = unix.Llistxattr(p, buf)
		if errors.Is(err, unix.ERANGE) {
			sz, err := unix.Llistxattr(p, nil)
			if err != nil {
				return nil, &os.PathError{Op: "llistxattr", Path: p, Err: err}
			}
			buf = make([]byte, sz+64)
			continue
		}
		if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM) {
			return nil, nil
		}
		if err != nil {
			return nil, &os.PathError{Op: "llistxattr", Path: p, Err: err}
		}
		break
	}
	if n == 0 {
		return nil, nil
	}
	out := map[string]string{}
	val := make([]byte, 256)
	for _, name := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		for {
			m, err := unix.Lgetxattr(p, name, val)
			if errors.Is(err, unix.ERANGE) {
				sz, err := unix.Lgetxattr(p, name, nil)
				if err != nil {
					return nil, &os.PathError{Op: "lgetxattr", Path: p, Err: err}
				}
				val = make([]byte, sz+64)
				continue
			}
			if errors.Is(err, unix.ENODATA) { // removed meanwhile
				break
			}
			if err != nil {
				return nil, &os.PathError{Op: "lgetxattr " + name, Path: p, Err: err}
			}
			out[name] = string(val[:m])
			break
		}
	}
	return out, nil
}
