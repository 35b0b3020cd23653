package runtime

import (
	"github.com/ocikit/ocikit/cgroups"
	"github.com/ocikit/ocikit/runtime/process"
	"github.com/ocikit/ocikit/runtime/rootfs"
	"github.com/ocikit/ocikit/runtime/rules"
	"github.com/ocikit/ocikit/seccomp"
	"github.com/ocikit/ocikit/version"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// Features returns what this runtime implements, as `features` prints it
// (features.md: the lists are what the runtime recognizes, independent of
// the host). The one host-dependent answer is the systemd cgroup driver,
// which cannot work without a running systemd.
func Features() (*features.Features, error) {
	yes, no := true, false
	systemd, systemdUser := cgroups.SystemdAvailable(), cgroups.SystemdUserAvailable()
	v := version.Get()
	ann := map[string]string{"org.ocikit.version": v.Version}
	if v.Commit != "" {
		ann["org.ocikit.commit"] = v.Commit
	}
	if lv := seccomp.LibraryVersion(); lv != "" {
		ann["org.ocikit.libseccomp.version"] = lv
	}
	return &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         rules.Hooks(),
		MountOptions:  rootfs.MountOptions(),
		Linux: &features.Linux{
			Namespaces:   rules.NamespaceTypes(),
			Capabilities: rules.Capabilities(),
			// The systemd driver needs a running systemd (its D-Bus API
			// creates the scopes): claimed only where it can work.
			Cgroup: &features.Cgroup{
				V1: &yes, V2: &yes, Systemd: &systemd, SystemdUser: &systemdUser, Rdma: &yes,
			},
			Seccomp:  seccomp.Features(),
			Apparmor: &features.Apparmor{Enabled: &yes},
			Selinux:  &features.Selinux{Enabled: &yes},
			IntelRdt: &features.IntelRdt{Enabled: &no},
			MemoryPolicy: &features.MemoryPolicy{
				Modes: process.MemoryPolicyModes(),
				Flags: process.MemoryPolicyFlags(),
			},
			// runtime/rootfs makes idmapped mounts from a mount's
			// uidMappings/gidMappings (and the idmap/ridmap options).
			MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: &yes}},
			NetDevices:      &features.NetDevices{Enabled: &no},
		},
		Annotations: ann,
	}, nil
}
