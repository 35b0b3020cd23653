package vm

import (
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go/features"
)

func TestFeatures(t *testing.T) {
	yes := true
	base := &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: "1.3.0",
		Hooks:         []string{"prestart", "poststop"},
		MountOptions:  []string{"bind", "idmap", "nosuid", "rbind", "ridmap", "ro"},
		Linux: &features.Linux{
			Namespaces:      []string{"mount", "pid"},
			Capabilities:    []string{"CAP_CHOWN"},
			Cgroup:          &features.Cgroup{V1: &yes, V2: &yes, Systemd: &yes, SystemdUser: &yes, Rdma: &yes},
			Apparmor:        &features.Apparmor{Enabled: &yes},
			Selinux:         &features.Selinux{Enabled: &yes},
			MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: &yes}},
		},
		Annotations: map[string]string{"org.ocikit.version": "v1"},
	}
	f := Features(base)
	on := func(b *bool) bool { return b != nil && *b }
	tests := []struct {
		name      string
		got, want any
	}{
		{"versions kept", f.OCIVersionMin + ".." + f.OCIVersionMax, "1.0.0..1.3.0"},
		{"no hooks", len(f.Hooks), 0},
		{"mount options without idmap", strings.Join(f.MountOptions, ","), "bind,nosuid,rbind,ro"},
		{"namespaces kept", strings.Join(f.Linux.Namespaces, ","), "mount,pid"},
		{"capabilities kept", strings.Join(f.Linux.Capabilities, ","), "CAP_CHOWN"},
		{"cgroup v1", on(f.Linux.Cgroup.V1), false},
		{"cgroup v2", on(f.Linux.Cgroup.V2), true},
		{"systemd", on(f.Linux.Cgroup.Systemd), false},
		{"systemd user", on(f.Linux.Cgroup.SystemdUser), false},
		{"apparmor", on(f.Linux.Apparmor.Enabled), false},
		{"selinux", on(f.Linux.Selinux.Enabled), false},
		{"idmap", on(f.Linux.MountExtensions.IDMap.Enabled), false},
		{"net devices", on(f.Linux.NetDevices.Enabled), false},
		{"vm annotation", f.Annotations[FeatureVM], "true"},
		{"version annotation kept", f.Annotations["org.ocikit.version"], "v1"},
		{"hooks named ignored", strings.Contains(f.Annotations[FeatureIgnored], "hooks"), true},
		{"checkpoint named unsupported", slices.Contains(strings.Split(f.Annotations[FeatureUnsupportedCommands], ","), "checkpoint"), true},
		{"pause supported", slices.Contains(strings.Split(f.Annotations[FeatureUnsupportedCommands], ","), "pause"), false},
		{"kernel annotation unsafe", slices.Contains(f.PotentiallyUnsafeConfigAnnotations, AnnotationKernel), true},
		// The plain runtime's features are not changed.
		{"base hooks", len(base.Hooks), 2},
		{"base mount options", len(base.MountOptions), 6},
		{"base cgroup v1", on(base.Linux.Cgroup.V1), true},
		{"base annotations", len(base.Annotations), 1},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}
