package convert

import (
	"fmt"
	"os"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// openInRoot opens the regular file name for reading, resolving the path
// as if root were "/" (pathrs-lite: safe against symlinks pointing out of
// root and against concurrent renames). Anything but a regular file is
// refused so a FIFO or device planted by an image cannot block or harm
// the reader.
func openInRoot(root, name string) (*os.File, error) {
	h, err := pathrs.OpenInRoot(root, name)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(h.Fd()), &st); err != nil {
		return nil, &os.PathError{Op: "fstat", Path: name, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%s: not a regular file", name)
	}
	return pathrs.Reopen(h, unix.O_RDONLY|unix.O_CLOEXEC)
}
