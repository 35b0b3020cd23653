package vm

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestFindVirtiofsd: the daemon is the executable a vhost-user descriptor
// of type "fs" names, the administrator's directory first; other types,
// broken descriptors and missing or non-executable binaries are skipped.
func TestFindVirtiofsd(t *testing.T) {
	dir := t.TempDir()
	etc, share := filepath.Join(dir, "etc"), filepath.Join(dir, "share")
	exe := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, other, plain := exe("virtiofsd", 0o755), exe("gpu", 0o755), exe("notexec", 0o644)
	desc := func(d, name, body string) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	desc(share, "10-gpu.json", `{"type": "gpu", "binary": "`+other+`"}`)
	desc(share, "20-broken.json", `{"type": "fs", `)
	desc(share, "30-missing.json", `{"type": "fs", "binary": "`+filepath.Join(dir, "nope")+`"}`)
	desc(share, "40-plain.json", `{"type": "fs", "binary": "`+plain+`"}`)
	if got := findVirtiofsd([]string{etc, share}); got != "" {
		t.Errorf("without a usable descriptor: %q, want none", got)
	}
	desc(share, "50-fs.json", `{"type": "fs", "binary": "`+good+`"}`)
	if got := findVirtiofsd([]string{etc, share}); got != good {
		t.Errorf("got %q, want %q", got, good)
	}
	admin := exe("admin-virtiofsd", 0o755)
	desc(etc, "50-fs.json", `{"type": "fs", "binary": "`+admin+`"}`)
	if got := findVirtiofsd([]string{etc, share}); got != admin {
		t.Errorf("got %q, want the administrator's %q", got, admin)
	}
}

// TestVirtiofsArgs: a virtio-fs root shares the guest's memory (a memfd
// backend, which vhost-user needs) and replaces the 9p root share;
// virtiofsd runs in its own sandbox without CAP_MKNOD.
func TestVirtiofsArgs(t *testing.T) {
	s := settings{cpus: 1, memoryMiB: 300}
	for _, kvm := range []bool{false, true} {
		args := strings.Join(qemuArgs(s, kvm, "/k", "/i", "/b/rootfs", false, true), " ")
		dev := "vhost-user-fs-pci"
		if kvm {
			dev = "vhost-user-fs-device"
		}
		for _, want := range []string{",memory-backend=mem -accel", "memory-backend-memfd,id=mem,size=300M,share=on",
			"socket,id=vfs,path=" + vfsSocket, dev + ",chardev=vfs,tag=" + rootfsTag} {
			if !strings.Contains(args, want) {
				t.Errorf("kvm=%v: %q lacks %q", kvm, args, want)
			}
		}
		if strings.Contains(args, "id=rootfs,path=") {
			t.Errorf("kvm=%v: a 9p root share beside virtio-fs: %q", kvm, args)
		}
	}
	a := virtiofsdArgs("/b/rootfs")
	for _, want := range []string{"--fd=3", "source=/b/rootfs", "sandbox=namespace", "modcaps=-mknod"} {
		if !slices.Contains(a, want) {
			t.Errorf("virtiofsd %q lacks %q", a, want)
		}
	}
}
