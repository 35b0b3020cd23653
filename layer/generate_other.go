//go:build !linux

package layer

import "os"

func genLstat(p string) (genMeta, error) {
	return genMeta{}, &os.PathError{Op: "lstat", Path: p, Err: ErrNotSupported}
}

func genOpen(p string) (*os.File, error) {
	return nil, &os.PathError{Op: "open", Path: p, Err: ErrNotSupported}
}

// Xattrs returns the extended attributes of p; not supported on this
// platform.
func Xattrs(p string) (map[string]string, error) {
	return nil, &os.PathError{Op: "llistxattr", Path: p, Err: ErrNotSupported}
}
