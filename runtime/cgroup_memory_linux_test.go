package runtime_test

import (
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestInitMemoryNotCharged runs a container whose memory limit (1 MiB) is
// below what the Go init itself uses: the init joins the container's
// cgroup only once the root filesystem is prepared, so its own pages are
// charged to the caller's cgroup and only the program counts against the
// limit (as with crun, whose C init is small). Before, the init was in
// the cgroup from its start and was OOM-killed during setup.
func TestInitMemoryNotCharged(t *testing.T) {
	e := newEnv(t)
	if !memoryController() {
		t.Skip("no memory cgroup controller")
	}
	const limit = 1 << 20
	for _, tt := range []struct {
		name   string
		mutate func(*specs.Spec)
	}{
		{"cgroup namespace", nil},
		{"no cgroup namespace", func(s *specs.Spec) { dropNS(s, specs.CgroupNamespace) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := e.sub(t)
			b := e.bundle([]string{"cat", "/proc/self/cgroup"}, func(s *specs.Spec) {
				l := int64(limit)
				s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &l}
				if tt.mutate != nil {
					tt.mutate(s)
				}
			})
			id := e.id("mem")
			out := e.must("run", "--bundle", b, id)
			// The program ran in the container's memory cgroup all the
			// same: its root in a cgroup namespace of its own.
			want := "/"
			if tt.mutate != nil {
				want = "/ocikit/" + id
			}
			if got := memoryCgroup(out); got != want {
				t.Errorf("memory cgroup of the program: %q, want %q (%s)", got, want, out)
			}
		})
	}
}

// memoryCgroup returns the memory cgroup in /proc/self/cgroup's text
// (the v1 memory line, else the v2 one).
func memoryCgroup(procCgroup string) string {
	v2 := ""
	for _, l := range strings.Split(procCgroup, "\n") {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "memory" {
			return parts[2]
		}
		if parts[0] == "0" && parts[1] == "" {
			v2 = parts[2]
		}
	}
	return v2
}

// memoryController reports whether a memory controller is mounted (cgroup
// v1 or v2).
func memoryController() bool {
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err == nil {
		return true
	}
	data, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
	return err == nil && strings.Contains(" "+string(data)+" ", " memory ")
}

// TestExecMemoryNotCharged execs into a container whose memory limit
// (1 MiB) is below what the Go process exec starts uses: it asks to join
// the container's cgroup only once its own setup is done, so only the
// program counts against the limit. Before, it was moved in right after it
// started and was OOM-killed.
func TestExecMemoryNotCharged(t *testing.T) {
	e := newEnv(t)
	if !memoryController() {
		t.Skip("no memory cgroup controller")
	}
	b := e.bundle([]string{"sleep", "1000"}, func(s *specs.Spec) {
		l := int64(1 << 20)
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &l}
		dropNS(s, specs.CgroupNamespace)
	})
	id := e.id("execmem")
	e.must("run", "--detach", "--bundle", b, id)
	out := e.must("exec", id, "cat", "/proc/self/cgroup")
	if got, want := memoryCgroup(out), "/ocikit/"+id; got != want {
		t.Errorf("memory cgroup of the exec'd program: %q, want %q (%s)", got, want, out)
	}
}
