package vm

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ocikit/ocikit/internal/fsutil"
)

// kvmUsable reports whether qemu can run a guest with KVM here: /dev/kvm
// opens for reading and writing, and qemu started on it (the microvm
// with -cpu host that qemuArgs asks for, its vCPU paused) gets through
// its initialisation, which resets the vCPU. Nested KVM under some
// hypervisors passes the first test and fails the second (qemu aborts:
// "kvm_buf_set_msrs: Assertion ... failed", an MSR the host refuses);
// the guest then runs under TCG. The probe takes ~40 ms; its answer is
// kept for the host's boot in the cache directory.
func (r *Runtime) kvmUsable(ctx context.Context, qemu string) bool {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	f.Close()
	var mark string
	if boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil && r.cache != "" {
		mark = filepath.Join(r.cache, "kvm-"+strings.TrimSpace(string(boot)))
		if data, err := os.ReadFile(mark); err == nil {
			return string(data) == "ok"
		}
	}
	ok := probeKVM(ctx, qemu)
	if mark != "" {
		verdict := "broken"
		if ok {
			verdict = "ok"
		}
		if err := os.MkdirAll(r.cache, 0o700); err == nil {
			if err := fsutil.WriteFile(mark, []byte(verdict), 0o600, fsutil.NoSync()); err != nil {
				r.log.Debug("vm: keep kvm probe", "error", err)
			}
		}
	}
	if !ok {
		r.log.Debug("vm: /dev/kvm is there but qemu cannot use it: TCG")
	}
	return ok
}

// probeKVM starts qemu with KVM, paused, and asks it its status over
// QMP: qemu answers commands once its initialisation is done, the vCPU's
// reset included, after which a broken KVM has made it abort (its
// greeting comes before).
func probeKVM(ctx context.Context, qemu string) bool {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, "-M", "microvm", "-accel", "kvm", "-cpu", "host", "-m", "32",
		"-nodefaults", "-no-user-config", "-display", "none", "-S", "-qmp", "stdio")
	in, err := cmd.StdinPipe()
	if err != nil {
		return false
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return false
	}
	if err := cmd.Start(); err != nil {
		return false
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	io.WriteString(in, `{"execute":"qmp_capabilities"}`+"\n"+`{"execute":"query-status"}`+"\n")
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"status"`) {
			return true
		}
	}
	return false
}
