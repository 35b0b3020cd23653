//go:build linux

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/internal/testutil"
)

// TestSharedCgroupPath: two containers with pid namespaces of their own
// and the same linux.cgroupsPath (runtime-tools gives every program the
// same one). Deleting the first must not kill the second's processes (it
// did: delete killed every process left in the cgroup, which made
// runtime-tools' delete_resources fail when another program ran at the
// same time); deleting the last removes the cgroup, as with runc.
func TestSharedCgroupPath(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.Binary(t)
	work := t.TempDir()
	rootfs := filepath.Join(work, "rootfs")
	testutil.BusyboxRootfs(t, rootfs)
	root := filepath.Join(work, "state")
	cg := fmt.Sprintf("/ocikit-shared-%d", os.Getpid())
	t.Cleanup(func() { removeCgroupTree(t, strings.TrimPrefix(cg, "/")) })

	spec := specFor(t, bin, work)
	spec["root"] = map[string]any{"path": rootfs, "readonly": true}
	proc := spec["process"].(map[string]any)
	proc["terminal"] = false
	proc["args"] = []string{"sleep", "1000"}
	spec["linux"].(map[string]any)["cgroupsPath"] = cg
	bundle := filepath.Join(work, "bundle")
	writeJSON(t, filepath.Join(bundle, "config.json"), spec)

	rt := func(args ...string) string {
		t.Helper()
		// A file, not a pipe: the container inherits create's stdio.
		f, err := os.CreateTemp(work, "out")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd := exec.Command(bin, append([]string{"--root", root}, args...)...)
		cmd.Stdout, cmd.Stderr = f, f
		err = cmd.Run()
		out, _ := os.ReadFile(f.Name())
		if err != nil {
			t.Fatalf("ocikit %v: %v: %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	status := func(id string) string {
		out := rt("state", id)
		i := strings.Index(out, `"status": "`)
		if i < 0 {
			t.Fatalf("state %s: %s", id, out)
		}
		return strings.SplitN(out[i+11:], `"`, 2)[0]
	}
	for _, id := range []string{"a", "b"} {
		rt("create", "--bundle", bundle, id)
		rt("start", id)
	}
	t.Cleanup(func() {
		exec.Command(bin, "--root", root, "delete", "--force", "a").Run()
		exec.Command(bin, "--root", root, "delete", "--force", "b").Run()
	})
	rt("kill", "a", "KILL")
	rt("delete", "--force", "a")
	if st := status("b"); st != "running" {
		t.Fatalf("b after deleting a: %s, want running", st)
	}
	if len(cgroupsLeftAt(cg)) == 0 {
		t.Fatal("the shared cgroup was removed while b runs in it")
	}
	rt("delete", "--force", "b")
	if left := cgroupsLeftAt(cg); len(left) > 0 {
		t.Errorf("cgroup left after the last container: %v", left)
	}
}

// cgroupsLeftAt lists the hierarchies where the cgroup path exists.
func cgroupsLeftAt(path string) []string {
	var left []string
	for _, h := range cgroupHierarchies() {
		if _, err := os.Stat(filepath.Join(h, path)); err == nil {
			left = append(left, filepath.Join(h, path))
		}
	}
	return left
}
