package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/ocikit/ocikit/internal/testutil"
	"github.com/ocikit/ocikit/runtime/vm"
)

// TestVMSelection: --vm, or the binary's name ocikit-vm, chooses the VM
// runtime (which has no checkpoint); neither, the plain one.
func TestVMSelection(t *testing.T) {
	bin := testutil.Binary(t)
	dir := t.TempDir()
	link := filepath.Join(dir, "ocikit-vm")
	if err := os.Symlink(bin, link); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "state")
	tests := []struct {
		name string
		argv []string
		want string
	}{
		{"plain", []string{bin, "--root", root, "checkpoint", "--image-path", dir, "nosuch"}, "does not exist"},
		{"--vm", []string{bin, "--vm", "--root", root, "checkpoint", "--image-path", dir, "nosuch"}, "not supported with --vm yet"},
		{"ocikit-vm", []string{link, "--root", root, "checkpoint", "--image-path", dir, "nosuch"}, "not supported with --vm yet"},
		{"ocikit-vm --vm=false", []string{link, "--vm=false", "--root", root, "checkpoint", "--image-path", dir, "nosuch"}, "does not exist"},
		{"--vm pause", []string{bin, "--vm", "--root", root, "pause", "nosuch"}, "does not exist"},
		{"--vm state", []string{bin, "--vm", "--root", root, "state", "nosuch"}, "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := exec.Command(tt.argv[0], tt.argv[1:]...).CombinedOutput()
			if err == nil || !strings.Contains(string(out), tt.want) {
				t.Errorf("%v: %v: %q, want an error with %q", tt.argv, err, out, tt.want)
			}
		})
	}
}

// TestVMFeatures: `--vm features` is VM mode's (features.md shape), and
// every command it names as unsupported is refused with --vm.
func TestVMFeatures(t *testing.T) {
	bin := testutil.Binary(t)
	out, err := exec.Command(bin, "--vm", "features").Output()
	if err != nil {
		t.Fatal(err)
	}
	var f features.Features
	if err := json.Unmarshal(out, &f); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if f.OCIVersionMax != specs.Version || f.Linux == nil || f.Linux.Cgroup == nil {
		t.Fatalf("incomplete: %s", out)
	}
	if f.Annotations[vm.FeatureVM] != "true" || f.Linux.Cgroup.V1 == nil || *f.Linux.Cgroup.V1 {
		t.Errorf("not VM mode's features: %s", out)
	}
	root := t.TempDir()
	for _, c := range strings.Split(f.Annotations[vm.FeatureUnsupportedCommands], ",") {
		words := strings.Fields(c)
		args := append([]string{"--vm", "--root", root}, words...)
		if len(words) == 1 {
			args = append(args, "nosuch")
		} else {
			args = append(args, "1", "nosuch", "true") // exec --preserve-fds 1 ID ARGS
		}
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "not supported") {
			t.Errorf("%v: %v %q: named unsupported but not refused as such", args, err, out)
		}
	}
}
