package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	"golang.org/x/sys/unix"
)

type tarEntry struct {
	hdr  *tar.Header
	body string
}

func readTar(t *testing.T, data []byte) []tarEntry {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	var out []tarEntry
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarEntry{hdr, string(body)})
	}
}

func names(es []tarEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.hdr.Name)
	}
	return out
}

// makeTree builds a small tree with every kind of entry a user can make
// without root.
func makeTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "b/sub"), 0o750))
	must(os.WriteFile(filepath.Join(dir, "b/sub/file"), []byte("hello"), 0o640))
	must(os.WriteFile(filepath.Join(dir, "a"), []byte("A"), 0o755))
	must(os.Chmod(filepath.Join(dir, "a"), 0o755|os.ModeSetuid))
	must(os.Link(filepath.Join(dir, "a"), filepath.Join(dir, "c-link")))
	must(os.Symlink("b/sub/file", filepath.Join(dir, "d-sym")))
	must(unix.Mkfifo(filepath.Join(dir, "e-fifo"), 0o600))
	must(os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600))
	sock, err := net.Listen("unix", filepath.Join(dir, "f-sock")) // skipped: no tar form
	must(err)
	t.Cleanup(func() { sock.Close() })
	old := time.Date(2001, 2, 3, 4, 5, 6, 789, time.UTC)
	must(os.Chtimes(filepath.Join(dir, "a"), old, old))
	return dir
}

func TestGenerateDir(t *testing.T) {
	dir := makeTree(t)
	var buf bytes.Buffer
	if err := GenerateDir(context.Background(), &buf, dir); err != nil {
		t.Fatal(err)
	}
	es := readTar(t, buf.Bytes())
	want := []string{"a", "b/", "b/sub/", "b/sub/file", "c-link", "d-sym", "e-fifo", "empty"}
	if got := names(es); !equal(got, want) {
		t.Fatalf("entries %q, want %q", got, want)
	}
	byName := map[string]tarEntry{}
	for _, e := range es {
		byName[e.hdr.Name] = e
		if e.hdr.Uname != "" || e.hdr.Gname != "" {
			t.Errorf("%s: uname %q gname %q, want none", e.hdr.Name, e.hdr.Uname, e.hdr.Gname)
		}
		if !e.hdr.AccessTime.IsZero() || !e.hdr.ChangeTime.IsZero() {
			t.Errorf("%s: atime/ctime recorded", e.hdr.Name)
		}
		if e.hdr.ModTime.Nanosecond() != 0 {
			t.Errorf("%s: sub-second mtime %v", e.hdr.Name, e.hdr.ModTime)
		}
		if int(e.hdr.Uid) != os.Getuid() {
			t.Errorf("%s: uid %d, want %d", e.hdr.Name, e.hdr.Uid, os.Getuid())
		}
	}
	tests := []struct {
		name     string
		typ      byte
		mode     int64
		body     string
		linkname string
	}{
		{"a", tar.TypeReg, 0o4755, "A", ""},
		{"b/", tar.TypeDir, 0o750, "", ""},
		{"b/sub/file", tar.TypeReg, 0o640, "hello", ""},
		{"c-link", tar.TypeLink, 0o4755, "", "a"},
		{"d-sym", tar.TypeSymlink, 0o777, "", "b/sub/file"},
		{"e-fifo", tar.TypeFifo, 0o600, "", ""},
		{"empty", tar.TypeReg, 0o600, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := byName[tt.name]
			if e.hdr.Typeflag != tt.typ || e.hdr.Mode != tt.mode || e.body != tt.body || e.hdr.Linkname != tt.linkname {
				t.Errorf("got type %c mode %o body %q link %q, want %c %o %q %q",
					e.hdr.Typeflag, e.hdr.Mode, e.body, e.hdr.Linkname, tt.typ, tt.mode, tt.body, tt.linkname)
			}
		})
	}
	if got := byName["a"].hdr.ModTime; !got.Equal(time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)) {
		t.Errorf("a: mtime %v, want 2001-02-03T04:05:06Z", got)
	}
}

func TestGenerateReproducible(t *testing.T) {
	dir := makeTree(t)
	epoch := time.Unix(1e9, 0)
	gen := func() []byte {
		var buf bytes.Buffer
		if err := GenerateDir(context.Background(), &buf, dir, WithSourceDateEpoch(epoch)); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	first := gen()
	// Touch everything newer than SOURCE_DATE_EPOCH: their mtimes are
	// clamped, so the layer must not change.
	later := time.Now().Add(time.Hour)
	for _, p := range []string{"b", "b/sub", "b/sub/file", "e-fifo", "empty"} {
		if err := os.Chtimes(filepath.Join(dir, p), later, later); err != nil {
			t.Fatal(err)
		}
	}
	if second := gen(); !bytes.Equal(first, second) {
		a, b := readTar(t, first), readTar(t, second)
		for i := range a {
			if fmt.Sprint(a[i].hdr) != fmt.Sprint(b[i].hdr) {
				t.Errorf("%+v\n%+v", a[i].hdr, b[i].hdr)
			}
		}
		t.Fatal("same tree and SOURCE_DATE_EPOCH gave different tars")
	}
	for _, e := range readTar(t, first) {
		if e.hdr.Name == "a" {
			if !e.hdr.ModTime.Equal(time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)) {
				t.Errorf("old mtime changed by clamping: %v", e.hdr.ModTime)
			}
			continue
		}
		if e.hdr.ModTime.After(epoch) {
			t.Errorf("%s: mtime %v after SOURCE_DATE_EPOCH", e.hdr.Name, e.hdr.ModTime)
		}
	}
}

func TestGenerateChanges(t *testing.T) {
	dir := makeTree(t)
	changes := []Change{
		{Path: "gone", Kind: ChangeWhiteout},
		{Path: "b", Kind: ChangeAdd},
		{Path: "b", Kind: ChangeOpaque},
		{Path: "b/old", Kind: ChangeWhiteout},
		{Path: "b/sub/file", Kind: ChangeAdd},
		{Path: "c-link", Kind: ChangeAdd}, // first of its inode here: a full file
		{Path: "a", Kind: ChangeAdd},
	}
	var buf bytes.Buffer
	if err := Generate(context.Background(), &buf, dir, changes); err != nil {
		t.Fatal(err)
	}
	es := readTar(t, buf.Bytes())
	want := []string{".wh.gone", "b/", "b/.wh..wh..opq", "b/.wh.old", "b/sub/file", "c-link", "a"}
	if got := names(es); !equal(got, want) {
		t.Fatalf("entries %q, want %q", got, want)
	}
	for _, e := range es {
		if filepath.Base(e.hdr.Name)[:1] == "." && (e.hdr.Typeflag != tar.TypeReg || e.hdr.Size != 0) {
			t.Errorf("%s: whiteout is not an empty regular file", e.hdr.Name)
		}
	}
	if e := es[5]; e.hdr.Typeflag != tar.TypeReg || e.body != "A" {
		t.Errorf("c-link: type %c body %q, want the file", e.hdr.Typeflag, e.body)
	}
	if e := es[6]; e.hdr.Typeflag != tar.TypeLink || e.hdr.Linkname != "c-link" {
		t.Errorf("a: type %c link %q, want hardlink to c-link", e.hdr.Typeflag, e.hdr.Linkname)
	}
	if err := os.WriteFile(filepath.Join(dir, "b/.wh.x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := GenerateDir(context.Background(), io.Discard, dir); !errors.Is(err, ErrWhiteoutName) {
		t.Errorf("tree with a .wh. name: %v", err)
	}
	for _, bad := range []string{"", ".", "../x", "/abs/../../x"} {
		t.Run("bad "+bad, func(t *testing.T) {
			if err := Generate(context.Background(), io.Discard, dir, []Change{{Path: bad}}); err == nil {
				t.Errorf("path %q accepted", bad)
			}
		})
	}
}

func TestGenerateXattrs(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Lsetxattr(p, "user.ocikit", []byte("v\x00bin"), 0); err != nil {
		t.Skipf("no user xattrs here: %v", err)
	}
	var buf bytes.Buffer
	if err := GenerateDir(context.Background(), &buf, dir); err != nil {
		t.Fatal(err)
	}
	es := readTar(t, buf.Bytes())
	if got := es[0].hdr.PAXRecords["SCHILY.xattr.user.ocikit"]; got != "v\x00bin" {
		t.Errorf("xattr record %q, want %q", got, "v\x00bin")
	}
}

func TestGenerateDevices(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	dir := t.TempDir()
	if err := unix.Mknod(filepath.Join(dir, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(dir, "blk"), unix.S_IFBLK|0o600, int(unix.Mkdev(7, 1))); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "null"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(filepath.Join(dir, "blk"), 12, 34); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := GenerateDir(context.Background(), &buf, dir); err != nil {
		t.Fatal(err)
	}
	es := readTar(t, buf.Bytes())
	if len(es) != 2 {
		t.Fatalf("entries %q", names(es))
	}
	if h := es[0].hdr; h.Name != "blk" || h.Typeflag != tar.TypeBlock || h.Devmajor != 7 || h.Devminor != 1 || h.Uid != 12 || h.Gid != 34 {
		t.Errorf("blk: %+v", h)
	}
	if h := es[1].hdr; h.Name != "null" || h.Typeflag != tar.TypeChar || h.Devmajor != 1 || h.Devminor != 3 || h.Mode != 0o666 {
		t.Errorf("null: %+v", h)
	}
}

func TestSourceDateEpoch(t *testing.T) {
	tests := []struct {
		env  string
		want time.Time
		ok   bool
		err  bool
	}{
		{"", time.Time{}, false, false},
		{"1700000000", time.Unix(1700000000, 0).UTC(), true, false},
		{"0", time.Unix(0, 0).UTC(), true, false},
		{"-5", time.Time{}, false, true},
		{"soon", time.Time{}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			t.Setenv("SOURCE_DATE_EPOCH", tt.env)
			got, ok, err := SourceDateEpoch()
			if (err != nil) != tt.err || ok != tt.ok || !got.Equal(tt.want) {
				t.Errorf("got %v %v %v", got, ok, err)
			}
		})
	}
}

func TestParseCompression(t *testing.T) {
	tests := []struct {
		in   string
		want Compression
		mt   string
		err  bool
	}{
		{"gzip", Gzip, "application/vnd.oci.image.layer.v1.tar+gzip", false},
		{"zstd", Zstd, "application/vnd.oci.image.layer.v1.tar+zstd", false},
		{"none", Uncompressed, "application/vnd.oci.image.layer.v1.tar", false},
		{"bzip2", 0, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCompression(tt.in)
			if tt.err {
				if !errors.Is(err, ErrUnknownCompression) {
					t.Fatalf("err %v, want ErrUnknownCompression", err)
				}
				return
			}
			if err != nil || got != tt.want || got.MediaType() != tt.mt || got.String() != tt.in {
				t.Errorf("got %v %q %v", got, got.MediaType(), err)
			}
		})
	}
}

// TestCompressReproducible checks that compressed output depends only on
// the input, not on the number of CPUs, and that it decompresses back.
func TestCompressReproducible(t *testing.T) {
	input := make([]byte, 5<<20)
	for i := range input {
		input[i] = byte(i * 7 / 3 % 251)
	}
	for _, c := range []Compression{Gzip, Zstd, Uncompressed} {
		t.Run(c.String(), func(t *testing.T) {
			var outs [][]byte
			for _, procs := range []int{1, 4} {
				old := runtime.GOMAXPROCS(procs)
				var buf bytes.Buffer
				w, err := Compress(&buf, c)
				if err == nil {
					_, err = w.Write(input)
				}
				if err == nil {
					err = w.Close()
				}
				runtime.GOMAXPROCS(old)
				if err != nil {
					t.Fatal(err)
				}
				outs = append(outs, buf.Bytes())
			}
			if !bytes.Equal(outs[0], outs[1]) {
				t.Fatal("output depends on GOMAXPROCS")
			}
			var r io.Reader = bytes.NewReader(outs[0])
			switch c {
			case Gzip:
				if outs[0][4]|outs[0][5]|outs[0][6]|outs[0][7] != 0 || outs[0][3] != 0 {
					t.Errorf("gzip header has mtime or flags: % x", outs[0][:10])
				}
				zr, err := pgzip.NewReader(r)
				if err != nil {
					t.Fatal(err)
				}
				r = zr
			case Zstd:
				zr, err := zstd.NewReader(r)
				if err != nil {
					t.Fatal(err)
				}
				defer zr.Close()
				r = zr
			}
			back, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(back, input) {
				t.Fatalf("round trip failed: %v", err)
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestGenerateRootlessOwners(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"plain", "owned", "group-only"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	set := func(name string, uid, gid int) {
		payload, _ := rootlessPayload(uid, gid)
		if err := unix.Lsetxattr(filepath.Join(dir, name), rootlessXattr, payload, 0); err != nil {
			t.Skipf("no user xattrs here: %v", err)
		}
	}
	set("owned", 1000, 100)
	set("group-only", 0, 42)
	var buf bytes.Buffer
	if err := GenerateDir(context.Background(), &buf, dir, WithRootlessOwners()); err != nil {
		t.Fatal(err)
	}
	want := map[string][2]int{"group-only": {0, 42}, "owned": {1000, 100}, "plain": {0, 0}}
	for _, e := range readTar(t, buf.Bytes()) {
		if got := [2]int{e.hdr.Uid, e.hdr.Gid}; got != want[e.hdr.Name] {
			t.Errorf("%s: owner %v, want %v", e.hdr.Name, got, want[e.hdr.Name])
		}
		if _, ok := e.hdr.PAXRecords["SCHILY.xattr."+rootlessXattr]; ok {
			t.Errorf("%s: rootless xattr written", e.hdr.Name)
		}
	}
}
