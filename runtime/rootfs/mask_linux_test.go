package rootfs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOpenNoSymlinks checks the lookup of masked, read-only and console
// paths, with openat2 and with the component walk older kernels use: a
// symbolic link anywhere on the way is refused, never followed.
func TestOpenNoSymlinks(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"dir/sub", "other"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "dir/file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"link": "dir", "dir/filelink": "file", "dangling": "nowhere", "abs": "/dir/file"} {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	tests := []struct {
		path string
		want error // nil: opened
	}{
		{"/dir/file", nil},
		{"dir/sub", nil},
		{"/dir/../dir/sub", nil},
		{"/../../dir", nil}, // clamped at the root
		{"/link", errSymlink},
		{"/link/file", errSymlink},
		{"/dir/filelink", errSymlink},
		{"/dangling", errSymlink},
		{"/abs", errSymlink},
		{"/missing", unix.ENOENT},
		{"/dir/file/x", unix.ENOTDIR},
	}
	for name, open := range map[string]func(*os.File, string) (*os.File, error){
		"openat2": openNoSymlinks,
		"walk":    func(d *os.File, p string) (*os.File, error) { return walkNoSymlinks(d, containerPath(p)) },
	} {
		for _, tc := range tests {
			t.Run(name+tc.path, func(t *testing.T) {
				f, err := open(dir, tc.path)
				if tc.want == nil {
					if err != nil {
						t.Fatalf("open %s: %v", tc.path, err)
					}
					defer f.Close()
					var a, b unix.Stat_t
					unix.Fstat(int(f.Fd()), &a)
					unix.Stat(filepath.Join(root, containerPath(tc.path)), &b)
					if a.Ino != b.Ino {
						t.Errorf("open %s: another file", tc.path)
					}
					return
				}
				if err == nil {
					f.Close()
					t.Fatalf("open %s succeeded, want %v", tc.path, tc.want)
				}
				if !errors.Is(err, tc.want) {
					t.Errorf("open %s: %v, want %v", tc.path, err, tc.want)
				}
			})
		}
	}
}
