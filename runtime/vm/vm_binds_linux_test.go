package vm_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestVMBindMounts: bind mounts of host directories and files reach the
// guest as 9p shares (issue 10). The container reads the host's files,
// its writes to the rw mounts show up on the host, writes to the ro one
// fail, and the mount keeps its options. Escape attempts through "..",
// through links made on the host and in the guest, and through the
// parent directory of a shared file never print the token kept beside the
// shares. A missing source fails create with one line, before any boot.
func TestVMBindMounts(t *testing.T) {
	host := t.TempDir()
	const token = "host-secret-b1nd"
	rw, ro, files := filepath.Join(host, "rw"), filepath.Join(host, "ro"), filepath.Join(host, "files")
	for _, d := range []string{rw, ro, files} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(host, "secret"), token+"\n")
	write(filepath.Join(files, "sibling"), token+"\n")
	write(filepath.Join(files, "hostfile"), "file-content\n")
	write(filepath.Join(rw, "hello"), "rw-hello\n")
	write(filepath.Join(ro, "hello"), "ro-hello\n")
	for link, target := range map[string]string{
		filepath.Join(rw, "abs"):    filepath.Join(host, "secret"),
		filepath.Join(rw, "rel"):    "../secret",
		filepath.Join(host, "ro-l"): ro, // the ro mount's source is a link
	} {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	script := strings.Join([]string{
		"cat /mnt/rw/hello /mnt/ro/hello /etc/hostfile",
		"echo from-guest > /mnt/rw/new",
		"echo appended >> /etc/hostfile",
		"if echo x > /mnt/ro/new; then echo RO-WRITABLE; else echo ro-refused; fi",
		"grep ' /mnt/ro ' /proc/mounts",
		"cat /mnt/rw/abs /mnt/rw/rel /mnt/rw/../secret /mnt/rw/../../secret",
		"ln -s ../secret /mnt/rw/guest-rel; cat /mnt/rw/guest-rel",
		"ln -s " + filepath.Join(host, "secret") + " /mnt/rw/guest-abs; cat /mnt/rw/guest-abs",
		"cat /etc/hostfile/../sibling; ls /run/vm/binds",
		"echo done",
	}, "; ")
	mounts := []specs.Mount{
		{Destination: "/mnt/rw", Type: "bind", Source: rw, Options: []string{"rbind", "rw"}},
		{Destination: "/mnt/ro", Type: "bind", Source: filepath.Join(host, "ro-l"), Options: []string{"rbind", "ro", "nosuid"}},
		{Destination: "/etc/hostfile", Type: "bind", Source: filepath.Join(files, "hostfile"), Options: []string{"bind"}},
	}
	e := newVMEnv(t, []string{"sh", "-c", script}, nil, func(s *specs.Spec) {
		s.Root.Readonly = false // the mount points are made in it
		s.Mounts = append(s.Mounts, mounts...)
	})
	out, errOut, code := e.ocikit("run", "vmbind-run")
	t.Logf("container output:\n%s%s", out, errOut)
	if code != 0 || !strings.Contains(out, "done") {
		t.Fatalf("run: exit %d", code)
	}
	for _, want := range []string{"rw-hello", "ro-hello", "file-content", "ro-refused"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out, "RO-WRITABLE") {
		t.Error("a write to the ro bind mount succeeded")
	}
	if _, err := os.Lstat(filepath.Join(ro, "new")); err == nil {
		t.Error("the ro share gained a file on the host")
	}
	var roLine string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, " /mnt/ro ") {
			roLine = l
		}
	}
	if f := strings.Fields(roLine); len(f) < 4 || !strings.Contains(","+f[3]+",", ",ro,") || !strings.Contains(f[3], "nosuid") {
		t.Errorf("the ro mount lost its options: %q", roLine)
	}
	if b, err := os.ReadFile(filepath.Join(rw, "new")); err != nil || string(b) != "from-guest\n" {
		t.Errorf("the write to the rw mount on the host: %q, %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(files, "hostfile")); err != nil || string(b) != "file-content\nappended\n" {
		t.Errorf("the write to the bound file on the host: %q, %v", b, err)
	}
	if strings.Contains(out+errOut, token) {
		t.Error("the container read a host file outside the shares")
	}
	if target, err := os.Readlink(filepath.Join(rw, "guest-rel")); err != nil || target != "../secret" {
		t.Errorf("the guest's link on the host: %q, %v", target, err)
	}

	// A missing source: one line at create, no VM, no state left.
	spec := new(specs.Spec)
	b, _ := os.ReadFile(filepath.Join(e.bundle, "config.json"))
	if err := json.Unmarshal(b, spec); err != nil {
		t.Fatal(err)
	}
	spec.Mounts = append(spec.Mounts, specs.Mount{Destination: "/mnt/gone", Type: "bind", Source: filepath.Join(host, "gone"), Options: []string{"rbind"}})
	b, _ = json.Marshal(spec)
	write(filepath.Join(e.bundle, "config.json"), string(b))
	_, errOut, code = e.ocikit("create", "vmbind-gone")
	if code == 0 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 ||
		!strings.Contains(errOut, "/mnt/gone") || !strings.Contains(errOut, "no such file") {
		t.Errorf("create with a missing bind source: exit %d, %q", code, errOut)
	}
	if left := e.leftovers(); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}
