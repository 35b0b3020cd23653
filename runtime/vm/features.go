package vm

import (
	"maps"
	"slices"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// Annotations of Features: what VM mode does not do, each a
// comma-separated list (features.md has no field for "recognized but not
// applied", and an empty hooks list would read as "unknown").
const (
	// FeatureVM is "true" in VM mode's features.
	FeatureVM = "org.ocikit.vm"
	// FeatureIgnored names the parts of a configuration the VM runtime
	// accepts but does not apply inside the guest (a warning each).
	FeatureIgnored = "org.ocikit.vm.ignored"
	// FeatureUnsupportedCommands names the commands that fail with --vm.
	FeatureUnsupportedCommands = "org.ocikit.vm.unsupported-commands"
)

// ignored is what guestSpec drops, with a warning each; unsupported the
// commands cmd/ocikit refuses with --vm (errNoVM).
var (
	ignored     = []string{"hooks", "namespace paths", "systemd cgroupsPath"}
	unsupported = []string{"checkpoint", "restore", "exec --preserve-fds"}
)

// Features returns what VM mode supports, from the plain runtime's
// features (the guest runs the same runtime code, so namespaces,
// capabilities, seccomp and memory policies are the same), with what the
// guest changes: a pure cgroup v2 hierarchy without systemd, bind mounts
// of host paths as 9p shares (binds_linux.go; no idmapped mounts), no
// hooks, AppArmor or SELinux (the guest loads no profiles or policy: a
// configuration naming one is refused there), no
// network devices; what is accepted but not applied, and the commands
// --vm lacks, are named in annotations. base is not modified.
func Features(base *features.Features) *features.Features {
	f := *base
	yes, no := true, false
	// Hooks are host programs, never run: listing none would be omitted
	// (nil means "unknown"), so the annotation says it.
	f.Hooks = nil
	f.MountOptions = slices.DeleteFunc(slices.Clone(base.MountOptions), func(o string) bool {
		switch o {
		case "idmap", "ridmap":
			return true
		}
		return false
	})
	f.Annotations = maps.Clone(base.Annotations)
	if f.Annotations == nil {
		f.Annotations = map[string]string{}
	}
	f.Annotations[FeatureVM] = "true"
	f.Annotations[FeatureIgnored] = strings.Join(ignored, ",")
	f.Annotations[FeatureUnsupportedCommands] = strings.Join(unsupported, ",")
	// The kernel and initramfs annotations name host files to boot.
	f.PotentiallyUnsafeConfigAnnotations = append(slices.Clone(base.PotentiallyUnsafeConfigAnnotations), AnnotationKernel, AnnotationInitrd)
	if base.Linux != nil {
		l := *base.Linux
		l.Cgroup = &features.Cgroup{V1: &no, V2: &yes, Systemd: &no, SystemdUser: &no}
		if base.Linux.Cgroup != nil {
			l.Cgroup.Rdma = base.Linux.Cgroup.Rdma
		}
		l.Apparmor = &features.Apparmor{Enabled: &no}
		l.Selinux = &features.Selinux{Enabled: &no}
		l.IntelRdt = &features.IntelRdt{Enabled: &no}
		l.NetDevices = &features.NetDevices{Enabled: &no}
		l.MountExtensions = &features.MountExtensions{IDMap: &features.IDMap{Enabled: &no}}
		f.Linux = &l
	}
	return &f
}
