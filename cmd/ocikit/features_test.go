package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"testing"

	"github.com/ocikit/ocikit/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

func TestFeaturesCommand(t *testing.T) {
	out, err := exec.Command(testutil.Binary(t), "features").Output()
	if err != nil {
		t.Fatal(err)
	}
	var f features.Features
	if err := json.Unmarshal(out, &f); err != nil {
		t.Fatalf("features output is not JSON: %v", err)
	}
	if f.OCIVersionMin != "1.0.0" || f.OCIVersionMax != specs.Version {
		t.Errorf("versions %s..%s", f.OCIVersionMin, f.OCIVersionMax)
	}
	l := f.Linux
	if l == nil || l.Cgroup == nil || l.Seccomp == nil || l.Apparmor == nil || l.Selinux == nil || l.MemoryPolicy == nil {
		t.Fatalf("linux features incomplete: %s", out)
	}
	for _, want := range []string{"CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_CHECKPOINT_RESTORE"} {
		if !slices.Contains(l.Capabilities, want) {
			t.Errorf("capabilities lack %s", want)
		}
	}
	for _, want := range []string{"mount", "pid", "network", "user", "cgroup"} {
		if !slices.Contains(l.Namespaces, want) {
			t.Errorf("namespaces lack %s", want)
		}
	}
	for _, want := range []string{"ro", "bind", "rbind", "nosuid"} {
		if !slices.Contains(f.MountOptions, want) {
			t.Errorf("mountOptions lack %s", want)
		}
	}
	if f.Annotations["org.ocikit.version"] == "" {
		t.Error("no org.ocikit.version annotation")
	}
	if l.Seccomp.Enabled != nil && *l.Seccomp.Enabled {
		for _, fl := range l.Seccomp.SupportedFlags {
			if !slices.Contains(l.Seccomp.KnownFlags, fl) {
				t.Errorf("supported flag %s not among the known flags", fl)
			}
		}
		if !slices.Contains(l.Seccomp.Operators, "SCMP_CMP_MASKED_EQ") {
			t.Error("operators lack SCMP_CMP_MASKED_EQ")
		}
	}
	// The systemd cgroup driver is claimed only where systemd runs (it is
	// the init system when /run/systemd/system exists, sd_booted(3)).
	_, err = os.Stat("/run/systemd/system")
	if l.Cgroup.Systemd == nil || *l.Cgroup.Systemd != (err == nil) {
		t.Errorf("cgroup.systemd = %v, but /run/systemd/system: %v", l.Cgroup.Systemd, err)
	}
	// runc is the reference: every capability it recognizes, we do too.
	if runc, err := exec.LookPath("runc"); err == nil {
		rout, err := exec.Command(runc, "features").Output()
		if err == nil {
			var rf features.Features
			if json.Unmarshal(rout, &rf) == nil && rf.Linux != nil {
				for _, c := range rf.Linux.Capabilities {
					if !slices.Contains(l.Capabilities, c) {
						t.Errorf("runc recognizes %s, ocikit does not", c)
					}
				}
			}
		}
	}
}
