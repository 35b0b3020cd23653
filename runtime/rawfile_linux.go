package runtime

import (
	"os"

	"golang.org/x/sys/unix"
)

// readFile reads a small file whole, as os.ReadFile does, with plain
// system calls: os.Open registers every descriptor with Go's poller
// (four fcntl(2) calls and an epoll_ctl(2) that regular and /proc files
// refuse), and the first one sets the poller up. State, start, kill and
// delete read only such files (state.json, /proc/<pid>/stat); left
// unused, the poller never starts.
func readFile(name string) ([]byte, error) {
	fd, err := openRaw(name, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	// One read for a regular file (its size, plus one byte to see the
	// end); /proc files report 0.
	size := 1024
	var st unix.Stat_t
	if unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size > 0 && st.Size < 1<<30 {
		size = int(st.Size) + 1
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		switch {
		case err == unix.EINTR:
		case err != nil:
			return nil, &os.PathError{Op: "read", Path: name, Err: err}
		case n == 0:
			return buf, nil
		default:
			buf = buf[:len(buf)+n]
		}
	}
}

// openFile opens name (close-on-exec) as an *os.File outside Go's poller,
// for descriptors that are only passed on, locked or statted.
func openFile(name string, flags int) (*os.File, error) {
	fd, err := openRaw(name, flags)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

func openRaw(name string, flags int) (int, error) {
	for {
		fd, err := unix.Open(name, flags|unix.O_CLOEXEC, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, &os.PathError{Op: "open", Path: name, Err: err}
		}
		return fd, nil
	}
}
