package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ocikit/ocikit/internal/testutil"
)

// TestCRIUVM boots the test VM (test/vm/criu.sh: Debian 12's own kernel,
// pure cgroup v2, with CRIU, its run-time needs and runc in the
// initramfs) and reports each checkpoint/restore check it ran through the
// ocikit CLI as a subtest, with the measured checkpoint and restore times
// of ocikit and runc logged. The host's kernel may be one CRIU cannot
// handle; the VM's is one it can. About two minutes under emulation on
// an idle machine (five with a load of 8 on 2 cores).
func TestCRIUVM(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a virtual machine")
	}
	testutil.RequireRoot(t)
	top := testutil.ModuleRoot(t)
	if os.Getenv("CI") != "" {
		if out, err := exec.Command("bash", filepath.Join(top, "test", "vm", "run.sh"), "deps").CombinedOutput(); err != nil {
			t.Fatalf("test/vm/run.sh deps: %v\n%s", err, out)
		}
	}
	testutil.RequireTool(t, "qemu-system-x86_64")
	testutil.RequireTool(t, "cpio")
	testutil.RequireTool(t, "criu")
	testutil.RequireTool(t, "iptables-restore")
	testutil.RequireTool(t, "ip")
	bin := testutil.Binary(t)

	runVMChecks(t, 10*time.Minute, bin, filepath.Join(top, "test", "vm", "criu.sh"))
}
