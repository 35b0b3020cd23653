package layer

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestApplySparseBomb: a GNU or PAX sparse entry of 3 GiB, a few KiB of
// tar, unpacks to a sparse file of the right size and content instead of
// writing gigabytes of zeros (a disk-filling layer).
func TestApplySparseBomb(t *testing.T) {
	gnutar, err := exec.LookPath("tar")
	if err != nil {
		t.Skip("GNU tar not installed")
	}
	src := t.TempDir()
	big := filepath.Join(src, "big")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	const size = 3 << 30
	// Data at the start, in the middle and at the end, holes between.
	for _, off := range []int64{0, size / 2, size - 5} {
		if _, err := f.WriteAt([]byte("data\n"), off); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	for _, format := range []string{"gnu", "pax"} {
		t.Run(format, func(t *testing.T) {
			archive := filepath.Join(t.TempDir(), "sparse.tar")
			if out, err := exec.Command(gnutar, "--sparse", "--format="+format, "-C", src, "-cf", archive, "big").CombinedOutput(); err != nil {
				t.Fatalf("tar: %v: %s", err, out)
			}
			st, err := os.Stat(archive)
			if err != nil {
				t.Fatal(err)
			}
			if st.Size() > 1<<20 {
				t.Fatalf("GNU tar wrote %d bytes: not a sparse archive", st.Size())
			}
			r, err := os.Open(archive)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			root := t.TempDir()
			if err := Apply(context.Background(), root, r); err != nil {
				t.Fatal(err)
			}
			var us unix.Stat_t
			if err := unix.Stat(filepath.Join(root, "big"), &us); err != nil {
				t.Fatal(err)
			}
			if us.Size != size {
				t.Fatalf("size %d, want %d", us.Size, size)
			}
			if used := us.Blocks * 512; used > 16<<20 {
				t.Fatalf("unpacked file uses %d bytes of disk: holes were written out", used)
			}
			g, err := os.Open(filepath.Join(root, "big"))
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			for _, off := range []int64{0, size / 2, size - 5} {
				b := make([]byte, 5)
				if _, err := g.ReadAt(b, off); err != nil || string(b) != "data\n" {
					t.Fatalf("at %d read %q, %v; want the data", off, b, err)
				}
			}
		})
	}
}
