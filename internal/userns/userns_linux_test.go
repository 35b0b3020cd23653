package userns

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

var maps = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 340000, Size: 65536}}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// TestNew: the handle is a user namespace other than the caller's, with
// the maps asked for, and the helper is gone when New returns.
func TestNew(t *testing.T) {
	needRoot(t)
	ns, err := New(maps, maps)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	var own, got unix.Stat_t
	if err := unix.Stat("/proc/self/ns/user", &own); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fstat(int(ns.Fd()), &got); err != nil {
		t.Fatal(err)
	}
	if got.Ino == own.Ino {
		t.Fatal("New returned the caller's own user namespace")
	}
	// The maps, as a process that joins the namespace sees them.
	cmd := exec.Command("nsenter", "--user=/proc/self/fd/3", "cat", "/proc/self/uid_map", "/proc/self/gid_map")
	cmd.ExtraFiles = []*os.File{ns}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("nsenter: %v: %s", err, out)
	}
	if f := strings.Fields(string(out)); len(f) != 6 || f[0] != "0" || f[1] != "340000" || f[2] != "65536" || f[4] != "340000" {
		t.Errorf("maps seen in the namespace: %q", out)
	}
	if _, err := New(nil, maps); err == nil {
		t.Error("New with no uid mappings: no error")
	}
}

// TestHelperUnreachable: a uid-0 process without capabilities in the
// host's pid namespace (a container sharing it, say) owns every user
// namespace the root runtime makes, and so has every capability in it. It
// can reach a process executed in one through /proc/<pid>/root, as the
// control shows; it must not reach the helper, forked and non-dumpable.
func TestHelperUnreachable(t *testing.T) {
	needRoot(t)
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv (util-linux) not installed")
	}
	if !cgoHelper {
		t.Skip("built without cgo: the helper is executed, and reachable")
	}
	// noCaps runs ls on /proc/<pid>/root as uid 0 with no capability.
	noCaps := func(pid int) error {
		dir := "/proc/" + strconv.Itoa(pid) + "/root/"
		return exec.Command("setpriv", "--bounding-set=-all", "--inh-caps=-all", "--", "ls", dir).Run()
	}
	// The control: sleep executed in a user namespace.
	ctl := exec.Command("unshare", "--user", "--map-root-user", "sleep", "60")
	if err := ctl.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { ctl.Process.Kill(); ctl.Wait() }()
	var err error
	for range 100 { // until unshare has executed sleep
		if err = noCaps(ctl.Process.Pid); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("control: a process executed in a user namespace is not reachable either (%v): the test proves nothing", err)
	}

	h, err := start(maps, maps)
	if err != nil {
		t.Fatal(err)
	}
	defer h.end()
	if err := exec.Command("ls", "/proc/"+strconv.Itoa(h.pid)+"/root/").Run(); err != nil {
		t.Fatalf("the helper is not reachable with every capability either (%v): the test proves nothing", err)
	}
	if err := noCaps(h.pid); err == nil {
		t.Fatal("a uid-0 process without capabilities lists the helper's /proc/<pid>/root")
	}
}
