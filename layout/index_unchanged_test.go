//go:build unix

package layout

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestTagAgainKeepsIndexFile: setting a tag to what it already names
// leaves index.json as it is (the same file, not an identical rewrite:
// a second copy of an image pays no write and fsyncs), and a real change
// still replaces it.
func TestTagAgainKeepsIndexFile(t *testing.T) {
	ctx := context.Background()
	l, err := Init(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := putImage(t, l, v1.Platform{OS: "linux", Architecture: "amd64"}, "a")
	b := putImage(t, l, v1.Platform{OS: "linux", Architecture: "amd64"}, "b")
	inode := func() uint64 {
		t.Helper()
		st, err := os.Stat(filepath.Join(l.Dir(), "index.json"))
		if err != nil {
			t.Fatal(err)
		}
		return st.Sys().(*syscall.Stat_t).Ino
	}
	mustTag(t, l, "v1", a)
	first := inode()
	mustTag(t, l, "v1", a)
	if got := inode(); got != first {
		t.Errorf("index.json rewritten (inode %d, was %d) though the tag was unchanged", got, first)
	}
	mustTag(t, l, "v1", b)
	if got := inode(); got == first {
		t.Errorf("index.json not replaced when the tag moved")
	}
	if d, err := l.Lookup(ctx, "v1"); err != nil || d.Digest != b.Digest {
		t.Errorf("Lookup(v1) = %v, %v; want %s", d.Digest, err, b.Digest)
	}
}
