package integration

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/ocikit/ocikit/internal/testutil"
)

// TestSystemdDriverVM boots a virtual machine with systemd as PID 1 on pure
// cgroup v2 (test/vm/systemd.sh: a debootstrap bookworm image with systemd,
// dbus and podman, cached under /var/cache/ocikit/vm-systemd) and reports
// each check of the systemd cgroup driver as a subtest: the scope and its
// unit properties, exec, update, pause and resume, delete, a failed create
// leaving no unit, podman --cgroup-manager systemd --runtime ocikit and a
// rootless container under the user manager. The first run builds the
// image (about 6 minutes here); then a run takes about 2.5 (the VM uses
// software emulation, TCG).
func TestSystemdDriverVM(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a virtual machine")
	}
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "qemu-system-x86_64")
	testutil.RequireTool(t, "debootstrap")
	testutil.RequireTool(t, "mke2fs")
	testutil.RequireTool(t, "jq")
	script := filepath.Join(testutil.ModuleRoot(t), "test", "vm", "systemd.sh")
	bin := testutil.Binary(t)

	runVMChecks(t, 20*time.Minute, bin, script)
}
