package vm_test

import (
	"crypto/md5"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestVMEscape: the guest sees the bundle's root filesystem and nothing
// else of the host. A file outside the bundle holds a token; the container
// tries to read it by its host path, through "..", and through absolute and
// relative symbolic links it makes in the shared root (resolved by the
// guest, inside the guest), and as root through the host path given to
// qemu. The token never shows up.
func TestVMEscape(t *testing.T) {
	secretDir := t.TempDir()
	secret := filepath.Join(secretDir, "secret")
	const token = "host-secret-7f3a9c"
	if err := os.WriteFile(secret, []byte(token+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	up := strings.Repeat("../", 16)
	script := strings.Join([]string{
		"cat " + secret,
		"cat /" + up + secret,
		"ln -s " + secret + " /abs-link; cat /abs-link",
		"ln -s " + up + strings.TrimPrefix(secret, "/") + " /rel-link; cat /rel-link",
		"cd /; cd " + up + "; cat ." + secret,
		"ls -la /" + up + " /proc/1/root/ 2>&1",
		"echo done",
	}, "; ")
	e := newVMEnv(t, []string{"sh", "-c", script}, nil, func(s *specs.Spec) { s.Root.Readonly = false })
	out, errOut, code := e.ocikit("run", "vmtest-escape")
	if code != 0 || !strings.Contains(out, "done") {
		t.Fatalf("run: exit %d: %s%s", code, out, errOut)
	}
	t.Logf("container output:\n%s%s", out, errOut)
	if strings.Contains(out+errOut, token) {
		t.Errorf("the container read a host file outside its root filesystem:\n%s%s", out, errOut)
	}
	// The links it made are in the bundle, pointing where they said: the
	// host side is untouched otherwise.
	if target, err := os.Readlink(filepath.Join(e.bundle, "rootfs", "abs-link")); err != nil || target != secret {
		t.Errorf("abs-link in the bundle: %q, %v", target, err)
	}
	if b, err := os.ReadFile(secret); err != nil || string(b) != token+"\n" {
		t.Errorf("the secret changed: %q, %v", b, err)
	}
}

// sockHelper is a static program for the container (busybox makes no
// unix socket at a path): it binds a unix socket at its argument, connects
// to it and prints what came back and whether the path is a socket.
const sockHelper = `package main

import (
	"fmt"
	"net"
	"os"
)

func main() {
	ln, err := net.Listen("unix", os.Args[1])
	if err != nil {
		fmt.Println("socket:", err)
		os.Exit(1)
	}
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("pong"))
			c.Close()
		}
	}()
	c, err := net.Dial("unix", os.Args[1])
	if err != nil {
		fmt.Println("socket:", err)
		os.Exit(1)
	}
	b := make([]byte, 4)
	n, _ := c.Read(b)
	fi, err := os.Lstat(os.Args[1])
	fmt.Printf("socket %s %v\n", b[:n], err == nil && fi.Mode()&os.ModeSocket != 0)
}
`

// TestVMSpecialFiles: FIFOs and unix sockets work on the shared root
// filesystem (Debian's qemu 7.2 fails every mknod on a 9p passthrough
// share with ENXIO), and device nodes never give the container a host
// device: one it makes on the shared root is refused (virtiofsd has no
// CAP_MKNOD) and none appears in the bundle; one the host put in the
// bundle (the host's disk) opens the guest's device of that number, not
// the host's; one in the container's /dev (a tmpfs in the guest) is the
// guest's and works. The guest's device cgroup allows everything here, so
// that only the VM stands between the container and the host's devices.
func TestVMSpecialFiles(t *testing.T) {
	goBin := testutil.RequireTool(t, "go")
	helperDir := t.TempDir()
	src := filepath.Join(helperDir, "sock.go")
	if err := os.WriteFile(src, []byte(sockHelper), 0o644); err != nil {
		t.Fatal(err)
	}
	var disk unix.Stat_t
	if err := unix.Stat(helperDir, &disk); err != nil {
		t.Fatal(err)
	}
	major, minor := unix.Major(disk.Dev), unix.Minor(disk.Dev)
	script := strings.Join([]string{
		"busybox mkfifo /fifo && { cat /fifo > /fifo.out & echo via-fifo > /fifo; wait; cat /fifo.out; }",
		"/sock /sock.s",
		fmt.Sprintf("busybox mknod /newdisk b %d %d; echo mknod-share=$?", major, minor),
		"busybox mknod /dev/gzero c 1 5 && head -c 4 /dev/gzero | wc -c && echo guest-dev-ok",
		"echo hostdisk: $(head -c 4096 /hostdisk | busybox md5sum)",
		"echo done",
	}, "; ")
	e := newVMEnv(t, []string{"sh", "-c", script}, nil, func(s *specs.Spec) {
		s.Root.Readonly = false
		s.Linux.Resources = &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}}
	})
	rootfs := filepath.Join(e.bundle, "rootfs")
	build := exec.Command(goBin, "build", "-o", filepath.Join(rootfs, "sock"), src)
	build.Dir = helperDir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the socket helper: %v\n%s", err, out)
	}
	// The host's disk, as the host would put a node in an image: the
	// guest has no disk, so the container reads nothing through it.
	if err := unix.Mknod(filepath.Join(rootfs, "hostdisk"), unix.S_IFBLK|0o600, int(disk.Dev)); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := e.ocikit("run", "vmtest-special")
	t.Logf("container output:\n%s%s", out, errOut)
	if code != 0 || !strings.Contains(out, "done") {
		t.Fatalf("run: exit %d: %s%s", code, out, errOut)
	}
	for _, want := range []string{"via-fifo\n", "socket pong true\n", "guest-dev-ok\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("the container's output lacks %q", want)
		}
	}
	if strings.Contains(out, "mknod-share=0") {
		t.Errorf("mknod of a block device on the shared root succeeded")
	}
	if empty := fmt.Sprintf("hostdisk: %x", md5.Sum(nil)); !strings.Contains(out, empty) {
		t.Errorf("the container read data through the node of the host's disk %d:%d (want nothing: %q)", major, minor, empty)
	}
	// On the host: the FIFO and the socket as they are, and no device
	// node but the one the host made.
	for name, mode := range map[string]os.FileMode{"fifo": os.ModeNamedPipe, "sock.s": os.ModeSocket} {
		if fi, err := os.Lstat(filepath.Join(rootfs, name)); err != nil || fi.Mode().Type() != mode {
			t.Errorf("%s in the bundle: %v, %v; want a %v", name, fi, err, mode)
		}
	}
	filepath.WalkDir(rootfs, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type()&os.ModeDevice != 0 && p != filepath.Join(rootfs, "hostdisk") {
			t.Errorf("a device node the container made exists on the host: %s", p)
		}
		return nil
	})
}
