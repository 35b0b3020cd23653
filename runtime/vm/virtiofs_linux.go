package vm

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"time"
)

// The root filesystem of a writable root is shared with virtio-fs, served
// by virtiofsd, where the host has it (Debian 12's qemu ships it), rather
// than with qemu's 9p: Debian's qemu 7.2 carries the fix of CVE-2023-2861,
// which refuses to open anything but regular files and directories, and
// its passthrough mknod, which sets the new node's mode through an
// O_PATH open, then fails every FIFO, socket and device node with ENXIO
// ("broken or compromised client detected" in qemu.log); the mapped
// security models would store special files as regular files but cannot
// read the image's symbolic links. virtiofsd creates FIFOs and sockets as
// they are, owned as the guest says (ownership is the host's, as with 9p
// passthrough), and runs without CAP_MKNOD (modcaps=-mknod), so that no
// device node the container makes on its root filesystem ever exists on
// the host: mknod of a device there fails with EPERM, as for a rootless
// container; the container's /dev is a tmpfs in the guest, where device
// nodes are the guest's. virtiofsd confines itself (sandbox=namespace:
// mount, pid and network namespaces of its own, pivot_root into the
// shared directory, a seccomp filter, the capabilities its file
// operations need).

// virtiofsParams is what the monitor starts virtiofsd with.
type virtiofsParams struct {
	Bin    string `json:"bin"`
	Source string `json:"source"`
}

// vhostUserDirs are where qemu's vhost-user back ends describe themselves
// (qemu's docs/interop/vhost-user.json): the administrator's first.
func vhostUserDirs() []string {
	return []string{"/etc/qemu/vhost-user", "/usr/share/qemu/vhost-user"}
}

// findVirtiofsd returns the virtio-fs daemon the first vhost-user
// descriptor of type "fs" in dirs names (an executable file), "" when
// there is none.
func findVirtiofsd(dirs []string) string {
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		sort.Strings(files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			var d struct {
				Type   string `json:"type"`
				Binary string `json:"binary"`
			}
			if json.Unmarshal(b, &d) != nil || d.Type != "fs" || d.Binary == "" {
				continue
			}
			if fi, err := os.Stat(d.Binary); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
				return d.Binary
			}
		}
	}
	return ""
}

// virtiofsdArgs is virtiofsd's command line for the shared directory
// source, with its listening vhost-user socket as descriptor 3: its own
// sandbox, no CAP_MKNOD, extended attributes passed through as 9p's
// passthrough did, the guest's default caching (its page cache and
// attributes for a second; the guest's own writes go through at once),
// and the host's open-file limit left alone.
func virtiofsdArgs(source string) []string {
	return []string{
		"--fd=3", "-o", "source=" + source, "-o", "sandbox=namespace", "-o", "modcaps=-mknod",
		"-o", "xattr", "-o", "cache=auto", "-o", "log_level=warn", "--rlimit-nofile=0",
	}
}

// startVirtiofsd starts virtiofsd for p on a socket in the state
// directory (the current one) that only u, qemu's user (nil: the
// monitor's), may connect to; its log goes to vfsLog. It dies with the
// calling thread (Pdeathsig) and exits by itself when qemu disconnects.
func startVirtiofsd(p virtiofsParams, u *qemuUser) (*exec.Cmd, error) {
	os.Remove(vfsSocket)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: vfsSocket, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("virtiofsd socket: %w", err)
	}
	ln.SetUnlinkOnClose(false)
	defer ln.Close()
	if err := os.Chmod(vfsSocket, 0o600); err != nil {
		return nil, err
	}
	if u != nil {
		if err := os.Chown(vfsSocket, int(u.UID), int(u.GID)); err != nil {
			return nil, err
		}
	}
	f, err := ln.File()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	log, err := os.OpenFile(vfsLog, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command(p.Bin, virtiofsdArgs(p.Source)...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.ExtraFiles = []*os.File{f}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("virtiofsd: %w", err)
	}
	return cmd, nil
}

// stopVirtiofsd waits for virtiofsd, which exits when qemu has gone, for
// a moment, then kills it, so that the monitor leaves no orphan.
func stopVirtiofsd(cmd *exec.Cmd) {
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	select {
	case <-exited:
	case <-time.After(2 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
}
