package rootfs

import (
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestNoPivot: with NoPivot the root is moved onto "/" and chrooted into;
// the host's mounts are gone from the container's view.
func TestNoPivot(t *testing.T) {
	for _, noPivot := range []bool{false, true} {
		name := "pivot_root"
		if noPivot {
			name = "no-pivot"
		}
		t.Run(name, func(t *testing.T) {
			b := newBundle(t)
			writeFile(t, filepath.Join(b, "rootfs", "marker"), name)
			spec := baseSpec()
			rep := runChild(t, &childConfig{Spec: spec, Bundle: b, NoPivot: noPivot,
				Read: []string{"/marker"}, List: []string{"/"}})
			if rep.Err != "" {
				t.Fatalf("prepare/finish: %s", rep.Err)
			}
			if rep.Read["/marker"] != name {
				t.Errorf("/marker reads %q: the root is not the bundle's rootfs", rep.Read["/marker"])
			}
			for _, m := range rep.Mounts {
				if strings.HasPrefix(m.Mountpoint, "/tmp/") || m.FSType == "devtmpfs" {
					t.Errorf("host mount %s visible in the container", m.Mountpoint)
				}
			}
			if m := mountAt(rep.Mounts, "/proc"); m == nil || m.FSType != "proc" {
				t.Errorf("/proc: %+v, want the container's proc", m)
			}
		})
	}
}

// TestRootfsPropagation checks linux.rootfsPropagation on the new root.
func TestRootfsPropagation(t *testing.T) {
	for _, c := range []struct {
		value     string
		want, not string
		exposed   bool   // a mount under "/" shows in a bind of "/"
		bindErr   string // binding "/" fails so
	}{
		{"shared", "shared:", "", true, ""},
		{"rshared", "shared:", "", true, ""},
		{"private", "", "shared:", false, ""},
		{"unbindable", "unbindable", "shared:", false, "invalid argument"},
		{"slave", "", "shared:", false, ""},
		{"", "", "shared:", false, ""},
	} {
		t.Run("value="+c.value, func(t *testing.T) {
			b := newBundle(t)
			spec := baseSpec()
			spec.Linux.RootfsPropagation = c.value
			rep := runChild(t, &childConfig{Spec: spec, Bundle: b, ProbePropagation: true})
			if rep.Err != "" {
				t.Fatalf("prepare/finish: %s", rep.Err)
			}
			if rep.RootBindErr != c.bindErr || rep.Exposed != c.exposed {
				t.Errorf("bind of /: error %q, mount under / exposed in it: %v; want %q, %v",
					rep.RootBindErr, rep.Exposed, c.bindErr, c.exposed)
			}
			m := mountAt(rep.Mounts, "/")
			if m == nil {
				t.Fatal("no root mount")
			}
			if c.want != "" && !strings.Contains(m.Optional, c.want) {
				t.Errorf("/ optional fields %q lack %s", m.Optional, c.want)
			}
			if c.not != "" && strings.Contains(m.Optional, c.not) {
				t.Errorf("/ optional fields %q have %s", m.Optional, c.not)
			}
			if c.value == "private" && m.Optional != "" {
				t.Errorf("/ optional fields %q, want none", m.Optional)
			}
		})
	}
	t.Run("invalid", func(t *testing.T) {
		b := newBundle(t)
		spec := baseSpec()
		spec.Linux.RootfsPropagation = "sideways"
		rep := runChild(t, &childConfig{Spec: spec, Bundle: b})
		if !strings.Contains(rep.Err, `rootfsPropagation "sideways"`) {
			t.Errorf("error %q, want one naming the value", rep.Err)
		}
	})
}

// TestBidirectionalVolume: with rootfsPropagation rshared, a volume bound
// with rshared propagates mounts made in the container back to the host
// (Kubernetes mountPropagation: Bidirectional); by default it does not.
// Nothing else the container mounts ever reaches the host.
func TestBidirectionalVolume(t *testing.T) {
	for _, c := range []struct {
		name, rootProp string
		back           bool
	}{
		{"rshared root", "rshared", true},
		{"shared root", "shared", true},
		{"default root", "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBundle(t)
			vol := filepath.Join(b, "vol")
			mkdirs(t, vol)
			spec := baseSpec()
			spec.Linux.RootfsPropagation = c.rootProp
			spec.Mounts = append(spec.Mounts, specs.Mount{Destination: "/vol", Source: vol, Type: "bind", Options: []string{"rbind", "rshared"}})
			rep := runChild(t, &childConfig{Spec: spec, Bundle: b, OuterShared: []string{vol},
				ProbeMounts: []string{"/vol/sub", "/plain"}})
			if rep.Err != "" {
				t.Fatalf("prepare/finish: %s", rep.Err)
			}
			if got := mountAt(rep.Outer, filepath.Join(vol, "sub")) != nil; got != c.back {
				t.Errorf("mount under the volume seen by the host: %v, want %v", got, c.back)
			}
			for _, m := range rep.Outer {
				if strings.HasPrefix(m.Mountpoint, filepath.Join(b, "rootfs")) {
					t.Errorf("container mount reached the host: %s", m.Mountpoint)
				}
			}
		})
	}
}
