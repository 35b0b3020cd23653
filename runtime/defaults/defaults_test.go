package defaults

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestSpecIsIndependent(t *testing.T) {
	a, b := Spec(), Spec()
	a.Process.Capabilities.Bounding[0] = "CAP_SYS_ADMIN"
	a.Mounts[0].Options[0] = "changed"
	if b.Process.Capabilities.Bounding[0] == "CAP_SYS_ADMIN" || b.Mounts[0].Options[0] == "changed" {
		t.Fatal("Spec returns shared slices")
	}
}

func TestToRootless(t *testing.T) {
	s := Spec()
	ToRootlessFor(s, 1000, 1001)
	for _, n := range s.Linux.Namespaces {
		if n.Type == specs.NetworkNamespace {
			t.Error("rootless spec keeps the network namespace")
		}
	}
	if !slices.ContainsFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.UserNamespace }) {
		t.Error("rootless spec has no user namespace")
	}
	if got := s.Linux.UIDMappings; len(got) != 1 || got[0].HostID != 1000 || got[0].Size != 1 {
		t.Errorf("uid mappings = %+v", got)
	}
	if got := s.Linux.GIDMappings; len(got) != 1 || got[0].HostID != 1001 {
		t.Errorf("gid mappings = %+v", got)
	}
	for _, m := range s.Mounts {
		if m.Destination == "/sys/fs/cgroup" {
			t.Error("rootless spec mounts cgroup")
		}
		if m.Destination == "/sys" && m.Type != "none" {
			t.Errorf("rootless /sys is %q, want a bind mount", m.Type)
		}
		for _, o := range m.Options {
			if len(o) > 4 && o[:4] == "gid=" {
				t.Errorf("mount %s keeps %s", m.Destination, o)
			}
		}
	}
	if s.Linux.Resources != nil {
		t.Error("rootless spec keeps resources")
	}
}
