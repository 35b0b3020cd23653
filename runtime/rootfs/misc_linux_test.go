package rootfs

import (
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestReadonlyDevAndBindType: a read-only /dev tmpfs still gets its
// devices (it is made read-only by Finish); a mount of type "bind" without
// a bind option is an rbind; a bind onto /dev means no default devices.
func TestReadonlyDevAndBindType(t *testing.T) {
	b := newBundle(t)
	mkdirs(t, filepath.Join(b, "src", "sub"), filepath.Join(b, "hostdev"))
	writeFile(t, filepath.Join(b, "src", "f"), "f")
	spec := baseSpec()
	for i := range spec.Mounts {
		if spec.Mounts[i].Destination == "/dev" {
			spec.Mounts[i].Options = append(spec.Mounts[i].Options, "ro")
		}
	}
	spec.Mounts = append(spec.Mounts, specs.Mount{Destination: "/typed", Source: "src", Type: "bind"})
	rep := runChild(t, &childConfig{Spec: spec, Bundle: b, Tmpfs: []string{filepath.Join(b, "src", "sub")},
		Stat: []string{"/dev/null", "/typed/f"}, Write: []string{"/dev/probe"}})
	if rep.Err != "" {
		t.Fatalf("prepare/finish: %s", rep.Err)
	}
	if st := rep.Stat["/dev/null"]; st.Mode&unix.S_IFMT != unix.S_IFCHR {
		t.Errorf("/dev/null: mode %o, want a device", st.Mode)
	}
	if m := mountAt(rep.Mounts, "/dev"); m == nil || !hasOpt(m.Options, "ro") {
		t.Errorf("/dev: %+v, want read-only", m)
	}
	if rep.Write["/dev/probe"] != "read-only file system" {
		t.Errorf("write /dev/probe: %q", rep.Write["/dev/probe"])
	}
	if !rep.Stat["/typed/f"].Exists || mountAt(rep.Mounts, "/typed/sub") == nil {
		t.Error("type bind did not rbind src")
	}

	t.Run("dev bind", func(t *testing.T) {
		b := newBundle(t)
		mkdirs(t, filepath.Join(b, "hostdev"))
		spec := baseSpec()
		spec.Mounts = []specs.Mount{
			{Destination: "/proc", Source: "proc", Type: "proc"},
			{Destination: "/dev", Source: filepath.Join(b, "hostdev"), Options: []string{"rbind"}},
		}
		rep := runChild(t, &childConfig{Spec: spec, Bundle: b, Stat: []string{"/dev/null", "/dev/ptmx"}})
		if rep.Err != "" {
			t.Fatalf("prepare/finish: %s", rep.Err)
		}
		if rep.Stat["/dev/null"].Exists || rep.Stat["/dev/ptmx"].Exists {
			t.Error("devices created in a /dev bound from the host")
		}
	})
}
