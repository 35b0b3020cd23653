package imagerun

import (
	"context"
	"errors"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/ocikit/ocikit/runtime"
)

// WaitAndDelete waits for the program of container id to exit and then
// deletes the container (and with it its directory): what `image run -d
// --rm` leaves running in the background, since no caller waits for a
// detached container. The wait is on a pidfd of the container's init, so
// nothing polls.
func WaitAndDelete(ctx context.Context, rt StateDeleter, id string) error {
	st, err := rt.State(ctx, id)
	if err != nil {
		return err
	}
	if st.Status != specs.StateStopped && st.Pid > 0 {
		pfd, err := unix.PidfdOpen(st.Pid, 0)
		if err != nil && !errors.Is(err, unix.ESRCH) {
			return os.NewSyscallError("pidfd_open", err)
		}
		if err == nil {
			fds := []unix.PollFd{{Fd: int32(pfd), Events: unix.POLLIN}}
			for {
				_, err := unix.Poll(fds, -1)
				if err != unix.EINTR {
					break
				}
			}
			unix.Close(pfd)
		}
	}
	if err := rt.Delete(ctx, id, true); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	return nil
}
