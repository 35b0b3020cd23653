package imagerun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"

	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// errNoHelper: a rootless store lacks snapshots and no SnapshotHelper was
// given to make them.
var errNoHelper = errors.New("image run: a rootless store needs a snapshot helper")

// runHelper runs helper with "--store store dgst" in a new user and mount
// namespace that maps the caller to root (one id: the files it writes are
// the caller's), where the kernel lets it mount overlays (Linux 5.11):
// the one way an unprivileged process can make the snapshots of layers
// after the first. Its standard output (progress lines) goes to progress;
// its standard error, when it fails, becomes the error, else it follows
// the progress lines.
func runHelper(ctx context.Context, helper []string, store string, dgst digest.Digest, progress io.Writer) error {
	if len(helper) == 0 {
		return errNoHelper
	}
	argv := append(append([]string{}, helper...), "--store", store, string(dgst))
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  unix.CLONE_NEWUSER | unix.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
	}
	if progress != nil {
		cmd.Stdout = progress
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		msg = strings.TrimPrefix(msg, "ocikit: ")
		if msg == "" {
			return fmt.Errorf("snapshot helper: %w", err)
		}
		return errors.New(msg)
	}
	if progress != nil {
		// Its warnings (a snapshot made without overlay, a skipped
		// xattr) are the user's too.
		io.Copy(progress, &stderr)
	}
	return nil
}
