package fsutil

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteback: what goes through Writeback lands in the file as f.Write
// would put it (from f's offset on), and every writebackChunk bytes are
// handed to writeback once, in order, from that offset.
func TestWriteback(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "blob"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("head")); err != nil {
		t.Fatal(err)
	}
	w := Writeback(f).(*writeback)
	type rng struct{ off, n int64 }
	var got []rng
	real := w.start
	w.start = func(off, n int64) {
		got = append(got, rng{off, n})
		real(off, n) // the real call must not fail the writes
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), (2*writebackChunk+writebackChunk/2)/16)
	if _, err := io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{bytes.NewReader(data)}, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	want := []rng{{4, writebackChunk}, {4 + writebackChunk, writebackChunk}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("writeback ranges %v, want %v", got, want)
	}
	all, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(all, append([]byte("head"), data...)) {
		t.Errorf("file content differs from what was written (%d bytes, want %d)", len(all), 4+len(data))
	}
}
