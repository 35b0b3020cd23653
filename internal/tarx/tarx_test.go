package tarx

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/errdefs"
)

var errTest = errors.New("test: invalid archive")

func TestEntryName(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		bad      bool
	}{
		{in: "index.json", want: "index.json"},
		{in: "./blobs/sha256/ab", want: "blobs/sha256/ab"},
		{in: "./", want: ""},
		{in: "a/./b/", want: "a/b"},
		{in: "/etc/passwd", bad: true},
		{in: `\x`, bad: true},
		{in: "../x", bad: true},
		{in: "a/../../x", bad: true},
		{in: "a/..", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := EntryName(tc.in, errTest)
			if tc.bad {
				if !errors.Is(err, errTest) {
					t.Fatalf("EntryName(%q) = %q, %v; want an error wrapping errTest", tc.in, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("EntryName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

type entry struct {
	name string
	size int64 // header size
	data string
}

func tarOf(t *testing.T, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: e.name, Size: e.size, Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.data)); err != nil && !errors.Is(err, tar.ErrWriteTooLong) {
			t.Fatal(err)
		}
	}
	tw.Flush() // no Close: a short entry leaves the tar truncated
	return buf.Bytes()
}

// readAll reads every entry through Reader as the archive packages do.
func readAll(ctx context.Context, data []byte, size int64, maxEntries int) (map[string]string, error) {
	r := NewReader(bytes.NewReader(data), size, maxEntries, errTest)
	out := map[string]string{}
	for {
		hdr, name, err := r.Next(ctx)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if err := r.CheckSize(hdr); err != nil {
			return out, err
		}
		var b strings.Builder
		if _, err := r.Copy(ctx, &b, hdr.Size); err != nil {
			return out, err
		}
		out[name] = b.String()
	}
}

func TestReader(t *testing.T) {
	ok := []entry{{name: "./a", size: 2, data: "hi"}, {name: "b", size: 0}}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name       string
		entries    []entry
		size       int64
		maxEntries int
		ctx        context.Context
		want       error // nil: read whole
	}{
		{name: "ok", entries: ok, size: 1 << 20},
		{name: "entry larger than the archive", entries: ok, size: 1, want: errTest},
		{name: "too many entries", entries: ok, size: 1 << 20, maxEntries: 1, want: errTest},
		{name: "entry cap reached exactly", entries: ok, size: 1 << 20, maxEntries: 2},
		{name: "escaping name", entries: []entry{{name: "../a", size: 1, data: "x"}}, size: 1 << 20, want: errTest},
		{name: "truncated", entries: []entry{{name: "a", size: 10, data: "short"}}, size: 1 << 20, want: errTest},
		{name: "cancelled", entries: ok, size: 1 << 20, ctx: cancelled, want: context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			data := tarOf(t, tc.entries)
			if tc.want == nil {
				data = append(data, make([]byte, 1024)...) // the end-of-archive blocks
			}
			got, err := readAll(ctx, data, tc.size, tc.maxEntries)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil || got["a"] != "hi" || len(got) != 2 {
				t.Fatalf("got %v, %v", got, err)
			}
		})
	}
}

func TestOpenFile(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := OpenFile(filepath.Join(dir, "missing"), errTest); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("missing file: %v, want ErrNotFound", err)
	}
	if _, _, err := OpenFile(dir, errTest); !errors.Is(err, errTest) {
		t.Errorf("directory: %v, want errTest", err)
	}
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("12345"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, size, err := OpenFile(p, errTest)
	if err != nil || size != 5 {
		t.Fatalf("OpenFile = %d, %v", size, err)
	}
	f.Close()
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a.tar")
	write := func(tw *Writer) error {
		if err := tw.Dir("d"); err != nil {
			return err
		}
		return tw.File(context.Background(), "d/f", strings.NewReader("content"), 7)
	}
	if err := WriteFile(file, write); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(file, write); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(file)
	if !bytes.Equal(first, second) {
		t.Error("the same content gave different bytes")
	}
	tr := tar.NewReader(bytes.NewReader(first))
	for _, want := range []string{"d/", "d/f"} {
		hdr, err := tr.Next()
		if err != nil || hdr.Name != want || hdr.Uid != 0 || hdr.Gid != 0 || hdr.ModTime.Unix() != 0 {
			t.Fatalf("entry %+v, %v; want %s owned by 0:0 at time 0", hdr, err, want)
		}
	}

	// A failed write keeps the old archive and leaves nothing beside it.
	boom := errors.New("boom")
	err = WriteFile(file, func(tw *Writer) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	after, _ := os.ReadFile(file)
	if !bytes.Equal(after, first) {
		t.Error("a failed write changed the archive")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("%d files in the directory, want 1", len(ents))
	}
}
