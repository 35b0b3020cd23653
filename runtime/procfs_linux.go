package runtime

import (
	"fmt"
	"os"
	"strconv"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	"golang.org/x/sys/unix"
)

// writeProcPid writes data, in one write(2), to /proc/<pid>/<name> of a
// procfs verified to be one (pathrs-lite's procfs handle: a private
// instance or the mount at /proc checked to be a procfs root, lookups
// confined to it), not through whatever is mounted at that path.
func writeProcPid(pid int, name string, data []byte) error {
	p := "/proc/" + strconv.Itoa(pid) + "/" + name
	proc, err := procfs.OpenProcRoot()
	if err != nil {
		return fmt.Errorf("open procfs for %s: %w", p, err)
	}
	defer proc.Close()
	h, err := proc.OpenPid(pid, name)
	if err != nil {
		return err
	}
	defer h.Close()
	f, err := pathrs.Reopen(h, unix.O_WRONLY|unix.O_CLOEXEC)
	if err != nil {
		return fmt.Errorf("open %s: %w", p, err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		if pe, ok := err.(*os.PathError); ok {
			err = pe.Err
		}
		return &os.PathError{Op: "write", Path: p, Err: err}
	}
	return nil
}
