package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocikit/ocikit/internal/testutil"
)

// TestImageRunVM runs the demo image in the VM runtime (image run --vm):
// the program sees the guest's kernel, its exit status passes through, a
// write lands in the container's own layer, and nothing of the store is
// left mounted after --rm, after delete --force of a detached container,
// or after its monitor is killed.
func TestImageRunVM(t *testing.T) {
	if testing.Short() {
		t.Skip("boots virtual machines")
	}
	e := newIREnv(t)
	testutil.RequireTool(t, "qemu-system-x86_64")
	t.Cleanup(func() {
		out, _ := exec.Command(e.bin, "--root", e.root, "--vm", "list", "-q").Output()
		for _, id := range strings.Fields(string(out)) {
			exec.Command(e.bin, "--root", e.root, "--vm", "delete", "--force", id).Run()
		}
	})
	host, err := exec.Command("uname", "-r").Output()
	if err != nil {
		t.Fatal(err)
	}
	ref := demoImage(t, e.bin)

	out, errs, code := e.imageRun("--vm", "--rm", "--name", "vmrun-fg", ref, "--",
		"-c", "uname -r; cat /root/NOTE; echo changed > /root/NOTE; exit 7")
	if code != 7 {
		t.Fatalf("exit %d, want 7; stdout %q stderr %q", code, out, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || lines[0] == "" || lines[1] != "from layer 2" {
		t.Fatalf("output %q: want the guest's release and the image's file", out)
	}
	if lines[0] == strings.TrimSpace(string(host)) {
		t.Errorf("uname -r in the VM is the host's %q", lines[0])
	}
	e.checkClean()

	// Detached, then its monitor killed: the container reads as
	// stopped, and delete --force unmounts the overlay and removes the
	// container's directory; the write above never reached the image.
	out, errs, code = e.imageRun("--vm", "-d", "--name", "vmrun-d", ref, "--", "-c", "cat /root/NOTE > /dev/kmsg; sleep 300")
	if code != 0 || out != "vmrun-d\n" {
		t.Fatalf("-d: exit %d output %q stderr %q", code, out, errs)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if !strings.Contains(string(mi), filepath.Join(e.store, "containers", "vmrun-d")) {
		t.Errorf("no overlay on the host for the running VM container")
	}
	var st struct {
		Pid    int    `json:"pid"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(e.must("--vm", "state", "vmrun-d")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Status != "running" || st.Pid <= 0 {
		t.Fatalf("state: %+v", st)
	}
	if err := syscall.Kill(st.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(e.must("--vm", "state", "vmrun-d"), `"stopped"`) {
		if time.Now().After(deadline) {
			t.Fatal("container not stopped after its monitor was killed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.must("--vm", "delete", "--force", "vmrun-d")
	e.checkClean()
	out, _, _ = e.imageRun("--vm", "--rm", ref, "--", "-c", "cat /root/NOTE")
	if out != "from layer 2\n" {
		t.Errorf("a container's write reached the image: %q", out)
	}
	e.checkClean()
}
