package runtime

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/checkpoint-restore/go-criu/v8/rpc"
	"golang.org/x/sys/unix"
)

// criuSwrk is one `criu swrk` process serving RPC requests (CRIU's
// protobuf messages, go-criu's types) on a SOCK_SEQPACKET socket. Unlike
// go-criu's own client it is started here, so that the runtime chooses
// what it inherits (the images directory, the container's stdio, the
// namespaces given by path), knows its pid (restore puts it into the
// container's cgroup, as runc does) and receives the descriptors CRIU
// sends with a notification (the pty master of --orphan-pts-master).
type criuSwrk struct {
	cmd *exec.Cmd
	sk  *os.File
}

// criuBinary finds criu in PATH.
func criuBinary() (string, error) {
	p, err := exec.LookPath("criu")
	if err != nil {
		return "", errorf(ErrNotSupported, "criu not found in PATH: checkpoint and restore need CRIU")
	}
	return p, nil
}

// startCriu starts `criu swrk` with stdio as its descriptors 0-2 (nil:
// /dev/null) and files as 3, 4, ...; cgroupFD, when >= 0, has it born in
// that cgroup (clone3 CLONE_INTO_CGROUP).
func startCriu(stdio [3]*os.File, files []*os.File, cgroupFD int) (*criuSwrk, error) {
	bin, err := criuBinary()
	if err != nil {
		return nil, err
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socketpair", err)
	}
	cln := os.NewFile(uintptr(fds[0]), "criu-rpc")
	srv := os.NewFile(uintptr(fds[1]), "criu-rpc-srv")
	defer srv.Close()
	extra := append([]*os.File{srv}, files...)
	cmd := exec.Command(bin, "swrk", "3")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio[0], stdio[1], stdio[2]
	cmd.ExtraFiles = extra
	if cgroupFD >= 0 {
		cmd.SysProcAttr = &unix.SysProcAttr{UseCgroupFD: true, CgroupFD: cgroupFD}
	}
	if err := cmd.Start(); err != nil {
		cln.Close()
		return nil, fmt.Errorf("start criu: %w", err)
	}
	return &criuSwrk{cmd: cmd, sk: cln}, nil
}

// fdOf is the descriptor number the i-th of startCriu's files has in criu.
func fdOf(i int) int32 { return int32(4 + i) }

// close ends the session: criu exits when its socket closes.
func (c *criuSwrk) close() error {
	if c.cmd == nil {
		return nil
	}
	c.sk.Close()
	err := c.cmd.Wait()
	c.cmd = nil
	if err != nil {
		return fmt.Errorf("criu swrk: %w", err)
	}
	return nil
}

// criuNotify handles a notification (a "script" name, the pid it is
// about, and a descriptor criu sent with it or -1); an error makes criu
// abort the operation.
type criuNotify func(script string, pid int, fd int) error

// do sends req and serves criu's notifications until its answer.
func (c *criuSwrk) do(req *rpc.CriuReq, notify criuNotify) (*rpc.CriuResp, error) {
	want := req.GetType()
	for {
		b, err := req.MarshalVT()
		if err != nil {
			return nil, fmt.Errorf("criu rpc: %w", err)
		}
		if _, err := c.sk.Write(b); err != nil {
			return nil, fmt.Errorf("criu rpc: %w", err)
		}
		buf := make([]byte, 64*1024)
		oob := make([]byte, unix.CmsgSpace(4))
		n, oobn, _, _, err := unix.Recvmsg(int(c.sk.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err != nil {
			return nil, fmt.Errorf("criu rpc: %w", os.NewSyscallError("recvmsg", err))
		}
		if n == 0 {
			return nil, errors.New("criu rpc: criu exited")
		}
		fd := -1
		if oobn > 0 {
			if cms, perr := unix.ParseSocketControlMessage(oob[:oobn]); perr == nil && len(cms) > 0 {
				if fds, perr := unix.ParseUnixRights(&cms[0]); perr == nil && len(fds) > 0 {
					fd = fds[0]
				}
			}
		}
		resp := &rpc.CriuResp{}
		if err := resp.UnmarshalVT(buf[:n]); err != nil {
			if fd >= 0 {
				unix.Close(fd)
			}
			return nil, fmt.Errorf("criu rpc: %w", err)
		}
		if !resp.GetSuccess() {
			if fd >= 0 {
				unix.Close(fd)
			}
			return resp, criuFailed(resp)
		}
		if resp.GetType() != rpc.CriuReqType_NOTIFY {
			if fd >= 0 {
				unix.Close(fd)
			}
			if resp.GetType() != want {
				return resp, fmt.Errorf("criu rpc: answer %s to %s", resp.GetType(), want)
			}
			return resp, nil
		}
		n2 := resp.GetNotify()
		ok := true
		if notify != nil {
			if err := notify(n2.GetScript(), int(n2.GetPid()), fd); err != nil {
				// criu aborts the operation on a failed notification and
				// answers with its failure, which err explains better.
				ok = false
				nt := rpc.CriuReqType_NOTIFY
				c.send(&rpc.CriuReq{Type: &nt, NotifySuccess: &ok})
				return nil, err
			}
		} else if fd >= 0 {
			unix.Close(fd)
		}
		nt := rpc.CriuReqType_NOTIFY
		req = &rpc.CriuReq{Type: &nt, NotifySuccess: &ok}
	}
}

func (c *criuSwrk) send(req *rpc.CriuReq) {
	if b, err := req.MarshalVT(); err == nil {
		c.sk.Write(b)
	}
}

func criuFailed(resp *rpc.CriuResp) error {
	msg := resp.GetCrErrmsg()
	if msg == "" && resp.GetCrErrno() != 0 {
		msg = unix.Errno(resp.GetCrErrno()).Error()
	}
	if msg == "" {
		return errors.New("criu failed")
	}
	return fmt.Errorf("criu failed: %s", msg)
}

// criuLogError returns the error of a CRIU log that made the operation
// fail, without its source location ("Error (file.c:N): what"), or "":
// the last error before the final "... FAILED.", skipping the failures of
// helper programs CRIU runs while it cleans up (execvp, "exited,
// status=N"), which follow the cause.
func criuLogError(log []byte) string {
	var errs []string
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if e := errorText(sc.Text()); e != "" {
			errs = append(errs, e)
		}
	}
	for i := len(errs) - 1; i >= 0; i-- {
		e := errs[i]
		if strings.HasSuffix(e, "FAILED.") || helperNoise(e) {
			continue
		}
		return e
	}
	if len(errs) > 0 {
		return errs[len(errs)-1]
	}
	return ""
}

// errorText is the message of a CRIU error line, "" for another line.
func errorText(line string) string {
	i := strings.Index(line, "Error (")
	if i < 0 {
		return ""
	}
	line = line[i:]
	if j := strings.Index(line, "): "); j >= 0 {
		line = line[j+3:]
	}
	return strings.TrimSpace(line)
}

// criuFirstErrors explains why `criu check` failed: the kernel feature
// detection step that failed with the error before it (its cause), else
// the first two errors; the failures of helper programs CRIU runs
// (execvp, "exited, status=N") are left out as noise.
func criuFirstErrors(out []byte) string {
	var errs []string
	for _, line := range strings.Split(string(out), "\n") {
		e := errorText(line)
		if e == "" || helperNoise(e) || slices.Contains(errs, e) {
			continue
		}
		if strings.HasSuffix(e, "when initializing kerndat.") {
			if len(errs) > 0 {
				return errs[len(errs)-1] + "; " + e
			}
			return e
		}
		errs = append(errs, e)
	}
	if len(errs) > 2 {
		errs = errs[:2]
	}
	return strings.Join(errs, "; ")
}

func helperNoise(e string) bool {
	return strings.HasPrefix(e, "exited, status=") || strings.HasPrefix(e, "execvp(")
}

// criuUsable asks CRIU whether it can work on this host: a feature check
// over RPC (which fails when CRIU cannot even detect the kernel's
// features) and when that fails, `criu check` once for the reason (the
// RPC answer carries none). It returns nil when CRIU works, an
// ErrNotSupported error in one line otherwise.
func criuUsable(ctx context.Context) error {
	bin, err := criuBinary()
	if err != nil {
		return err
	}
	_, rpcErr := criuFeatures(&rpc.CriuFeatures{MemTrack: ptr(true)})
	if rpcErr == nil {
		return nil
	}
	out, _ := exec.CommandContext(ctx, bin, "check").CombinedOutput()
	reason := criuFirstErrors(out)
	if reason == "" {
		reason = oneLine(string(out))
	}
	if reason == "" {
		reason = rpcErr.Error()
	}
	var uts unix.Utsname
	unix.Uname(&uts)
	return errorf(ErrNotSupported, "CRIU is unusable on this host (kernel %s): %s (criu check)", unix.ByteSliceToString(uts.Release[:]), reason)
}

// criuFeatures asks CRIU which of the features set in want it has on this
// host (FEATURE_CHECK); it fails when CRIU cannot even detect the
// kernel's features.
func criuFeatures(want *rpc.CriuFeatures) (*rpc.CriuFeatures, error) {
	c, err := startCriu([3]*os.File{}, nil, -1)
	if err != nil {
		return nil, err
	}
	t := rpc.CriuReqType_FEATURE_CHECK
	resp, err := c.do(&rpc.CriuReq{Type: &t, Features: want}, nil)
	c.close()
	if err != nil {
		return nil, err
	}
	return resp.GetFeatures(), nil
}

// criuCanLazy checks that CRIU can restore memory lazily here (lazy
// pages: non-cooperative userfaultfd), in one line when it cannot.
func criuCanLazy(ctx context.Context) error {
	f, err := criuFeatures(&rpc.CriuFeatures{LazyPages: ptr(true)})
	if err != nil {
		if uerr := criuUsable(ctx); uerr != nil {
			return uerr
		}
		return fmt.Errorf("criu feature check: %w", err)
	}
	if !f.GetLazyPages() {
		return errorf(ErrNotSupported, "--lazy-pages: CRIU cannot fetch memory lazily on this host (no non-cooperative userfaultfd; see criu check --feature uffd-noncoop)")
	}
	return nil
}

// unprivilegedCRIU is the first CRIU version with a non-root mode
// (--unprivileged: CAP_CHECKPOINT_RESTORE and CAP_SYS_PTRACE instead of
// root, kernel 5.9 and later), as major*10000 + minor*100 + sublevel.
const unprivilegedCRIU = 31800

// criuVersion asks CRIU its version (VERSION request, which needs no
// privileges), as major*10000 + minor*100 + sublevel and as text.
func criuVersion() (int, string, error) {
	c, err := startCriu([3]*os.File{}, nil, -1)
	if err != nil {
		return 0, "", err
	}
	t := rpc.CriuReqType_VERSION
	resp, err := c.do(&rpc.CriuReq{Type: &t}, nil)
	c.close()
	if err != nil {
		return 0, "", fmt.Errorf("criu version: %w", err)
	}
	v := resp.GetVersion()
	return int(v.GetMajorNumber())*10000 + int(v.GetMinorNumber())*100 + int(v.GetSublevel()),
		fmt.Sprintf("%d.%d.%d", v.GetMajorNumber(), v.GetMinorNumber(), v.GetSublevel()), nil
}

// criuRootless checks, without root, that CRIU has its non-root mode:
// an older CRIU fails as a user deep in its kernel feature detection
// (3.17: kerndat_has_nftables_concat; with CAP_CHECKPOINT_RESTORE as a
// file capability, check_pagemap), which would read as "CRIU is unusable
// on this host".
func criuRootless() error {
	if os.Geteuid() == 0 {
		return nil
	}
	v, text, err := criuVersion()
	if err != nil {
		return err
	}
	if v < unprivilegedCRIU {
		return errorf(ErrNotSupported, "rootless checkpoint and restore need CRIU 3.18 or later (its non-root mode, with CAP_CHECKPOINT_RESTORE); this is CRIU %s", text)
	}
	return nil
}

// criuFailed explains a failed CRIU operation. When CRIU cannot work on
// this host at all (criuUsable), it says why, and undo removes the
// directories the operation created: nothing changed. Otherwise the error
// of its log in dir that made it fail, else the RPC answer's message.
func (r *Runtime) criuFailed(ctx context.Context, op, dir, logName string, err error, undo func()) error {
	if uerr := criuUsable(ctx); uerr != nil {
		// CRIU may have opened its log before it gave up.
		os.Remove(filepath.Join(dir, logName))
		undo()
		return uerr
	}
	if b, rerr := os.ReadFile(filepath.Join(dir, logName)); rerr == nil {
		if e := criuLogError(b); e != "" {
			return fmt.Errorf("%s: %s (log: %s)", op, e, filepath.Join(dir, logName))
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// cgroupRoots are the container's cgroups as criu's --cgroup-root wants
// them, read from /proc/<pid>/cgroup of a process in them.
func cgroupRoots(pid int) ([]*rpc.CgroupRoot, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return nil, err
	}
	return parseCgroupRoots(b), nil
}

// parseCgroupRoots reads a /proc/PID/cgroup file (cgroups(7)) into CRIU's
// cgroup roots, as runc passes them: each v1 hierarchy's path for each of
// its controllers, a named hierarchy under its "name=" (CRIU's name for
// it, as in name=systemd), and the unified hierarchy's path (the "0::"
// line of a v2 or hybrid host) as the root of every other controller.
func parseCgroupRoots(b []byte) []*rpc.CgroupRoot {
	var roots []*rpc.CgroupRoot
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		path := parts[2]
		if parts[1] == "" {
			if parts[0] == "0" {
				roots = append(roots, &rpc.CgroupRoot{Path: &path})
			}
			continue
		}
		for _, ctrl := range strings.Split(parts[1], ",") {
			roots = append(roots, &rpc.CgroupRoot{Ctrl: &ctrl, Path: &path})
		}
	}
	return roots
}
