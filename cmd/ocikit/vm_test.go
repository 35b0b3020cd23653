package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/internal/testutil"
)

// TestVMSelection: --vm, or the binary's name ocikit-vm, chooses the VM
// runtime (which has no pause yet); neither, the plain one.
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
		{"plain", []string{bin, "--root", root, "pause", "nosuch"}, "does not exist"},
		{"--vm", []string{bin, "--vm", "--root", root, "pause", "nosuch"}, "not supported with --vm yet"},
		{"ocikit-vm", []string{link, "--root", root, "pause", "nosuch"}, "not supported with --vm yet"},
		{"ocikit-vm --vm=false", []string{link, "--vm=false", "--root", root, "pause", "nosuch"}, "does not exist"},
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
