package vm

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestBindShares: each bind mount becomes a share of a resolved host
// directory and binds from the share's guest mount point, options kept;
// other mounts are untouched; bad sources fail with the destination named.
func TestBindShares(t *testing.T) {
	bundle := t.TempDir()
	dir := filepath.Join(bundle, "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("data", filepath.Join(bundle, "link")); err != nil {
		t.Fatal(err)
	}
	tmpfs := specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid"}}
	tests := []struct {
		name   string
		in     specs.Mount
		source string // the rewritten source
		share  share
		err    string
	}{
		{"dir", specs.Mount{Destination: "/d", Type: "bind", Source: dir, Options: []string{"rbind", "nosuid"}},
			"/run/vm/binds/bind0", share{Tag: "bind0", Path: dir}, ""},
		{"ro, relative link", specs.Mount{Destination: "/d", Source: "link", Options: []string{"bind", "ro"}},
			"/run/vm/binds/bind0", share{Tag: "bind0", Path: dir, Readonly: true}, ""},
		{"rw after ro", specs.Mount{Destination: "/d", Type: "bind", Source: dir, Options: []string{"ro", "rw"}},
			"/run/vm/binds/bind0", share{Tag: "bind0", Path: dir}, ""},
		{"file", specs.Mount{Destination: "/f", Type: "bind", Source: file, Options: []string{"bind", "ro"}},
			"/run/vm/binds/bind0/f", share{Tag: "bind0", Path: dir, Readonly: true}, ""},
		{"missing", specs.Mount{Destination: "/g", Type: "bind", Source: filepath.Join(bundle, "gone")},
			"", share{}, "bind mount /g: source " + filepath.Join(bundle, "gone") + ": no such file or directory"},
		{"device", specs.Mount{Destination: "/n", Type: "bind", Source: "/dev/null"},
			"", share{}, "source /dev/null is a device node"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := &specs.Spec{Mounts: []specs.Mount{tmpfs, tt.in}}
			shares, err := bindShares(spec, bundle)
			if tt.err != "" {
				if err == nil || !errors.Is(err, runtime.ErrInvalidSpec) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(shares, []share{tt.share}) {
				t.Errorf("shares %+v, want %+v", shares, tt.share)
			}
			want := tt.in
			want.Source = tt.source
			if !reflect.DeepEqual(spec.Mounts, []specs.Mount{tmpfs, want}) {
				t.Errorf("mounts %+v, want %+v", spec.Mounts, want)
			}
		})
	}
}

// TestBindSharesShared: mounts of one directory with one mode share a
// device; another mode gets its own.
func TestBindSharesShared(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a", "b"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	spec := &specs.Spec{Mounts: []specs.Mount{
		{Destination: "/a", Type: "bind", Source: filepath.Join(dir, "a")},
		{Destination: "/b", Type: "bind", Source: filepath.Join(dir, "b")},
		{Destination: "/d", Type: "bind", Source: dir, Options: []string{"ro"}},
	}}
	shares, err := bindShares(spec, "/")
	if err != nil {
		t.Fatal(err)
	}
	if want := []share{{Tag: "bind0", Path: dir}, {Tag: "bind1", Path: dir, Readonly: true}}; !reflect.DeepEqual(shares, want) {
		t.Errorf("shares %+v, want %+v", shares, want)
	}
	var got []string
	for _, m := range spec.Mounts {
		got = append(got, m.Source)
	}
	if want := []string{"/run/vm/binds/bind0/a", "/run/vm/binds/bind0/b", "/run/vm/binds/bind1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("sources %q, want %q", got, want)
	}
}

func TestShareArgs(t *testing.T) {
	got := shareArgs([]share{{Tag: "bind0", Path: "/a,b"}, {Tag: "bind1", Path: "/c", Readonly: true}}, false)
	want := []string{
		"-fsdev", "local,id=bind0,path=/a,,b,security_model=passthrough", "-device", "virtio-9p-pci,fsdev=bind0,mount_tag=bind0",
		"-fsdev", "local,id=bind1,path=/c,security_model=passthrough,readonly=on", "-device", "virtio-9p-pci,fsdev=bind1,mount_tag=bind1",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}
