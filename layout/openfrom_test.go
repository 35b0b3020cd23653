package layout

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestOpenBlobFrom: from an offset the reader yields the rest of the blob
// and checks its size (a file that grew or shrank is ErrSizeMismatch); at
// 0 it is OpenBlob's verified reader; an offset outside the blob is
// refused.
func TestOpenBlobFrom(t *testing.T) {
	ctx := context.Background()
	l, err := Init(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := []byte(strings.Repeat("0123456789", 1000))
	d, err := l.PutBlob(ctx, bytes.NewReader(data), v1.Descriptor{MediaType: v1.MediaTypeImageLayer})
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{0, 1, 4321, int64(len(data)) - 1} {
		rc, err := l.OpenBlobFrom(ctx, d, off)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, data[off:]) {
			t.Errorf("from %d: %d bytes, %v", off, len(got), err)
		}
	}
	for _, off := range []int64{-1, int64(len(data))} {
		if _, err := l.OpenBlobFrom(ctx, d, off); !errors.Is(err, ErrSizeMismatch) {
			t.Errorf("from %d: %v, want ErrSizeMismatch", off, err)
		}
	}
	// The file grows after it is opened: the reader says so at the end.
	rc, err := l.OpenBlobFrom(ctx, d, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	f, err := os.OpenFile(l.blobPath(d.Digest), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("more"))
	f.Close()
	if _, err := io.ReadAll(rc); !errors.Is(err, ErrSizeMismatch) {
		t.Errorf("grown file: %v, want ErrSizeMismatch", err)
	}
}
