package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestSpecCommand(t *testing.T) {
	bin := testutil.Binary(t)
	dir := t.TempDir()
	run := func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("spec"); err != nil {
		t.Fatalf("spec: %v: %s", err, out)
	}
	var s specs.Spec
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	if s.Version != specs.Version || s.Root.Path != "rootfs" || len(s.Process.Args) == 0 {
		t.Errorf("default spec: %+v", s)
	}
	// Never overwrite, like runc.
	out, err := run("spec")
	if err == nil || !strings.Contains(out, "config.json exists") {
		t.Fatalf("second spec: %v: %s", err, out)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "config.json")); string(after) != string(data) {
		t.Fatal("config.json changed")
	}
	// --rootless into another bundle.
	sub := filepath.Join(dir, "rootless")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := run("spec", "--rootless", "--bundle", sub); err != nil {
		t.Fatalf("spec --rootless: %v: %s", err, out)
	}
	data, _ = os.ReadFile(filepath.Join(sub, "config.json"))
	var r specs.Spec
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	hasUser := false
	for _, ns := range r.Linux.Namespaces {
		hasUser = hasUser || ns.Type == specs.UserNamespace
	}
	if !hasUser || len(r.Linux.UIDMappings) != 1 {
		t.Errorf("rootless spec lacks a user namespace with a mapping: %+v", r.Linux)
	}
	if out, err := run("spec", "--bundle", filepath.Join(dir, "missing")); err == nil {
		t.Errorf("spec into a missing directory succeeded: %s", out)
	}
}
