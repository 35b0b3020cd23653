package layout

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/ocikit/ocikit/errdefs"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestPutBlobFrom: a partial left by an earlier call is continued from its
// length; one whose bytes are wrong is dropped when the whole fails to
// verify; a source that cannot continue there is read from 0 again; a
// cut download keeps its bytes and no blob.
func TestPutBlobFrom(t *testing.T) {
	ctx := context.Background()
	data := bytes.Repeat([]byte("0123456789"), 100)
	desc := v1.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(data), Size: int64(len(data))}
	for _, tt := range []struct {
		name     string
		partial  []byte
		noRange  bool // the source refuses an offset
		cutAt    int  // the source's reader fails after this many bytes (0: never)
		wantOffs []int64
		wantKind error
		wantLeft int64 // partial size after the call (-1: none)
	}{
		{"fresh", nil, false, 0, []int64{0}, nil, -1},
		{"continued", data[:300], false, 0, []int64{300}, nil, -1},
		{"wrong bytes", bytes.Repeat([]byte("x"), 300), false, 0, []int64{300}, errdefs.ErrDigestMismatch, -1},
		{"no range", data[:300], true, 0, []int64{300, 0}, nil, -1},
		{"cut", data[:100], false, 400, []int64{100}, io.ErrUnexpectedEOF, 500},
		{"complete but not renamed", data, false, 0, nil, nil, -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := newLayout(t)
			if tt.partial != nil {
				if err := os.WriteFile(l.partialPath(desc), tt.partial, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			var offs []int64
			open := func(_ context.Context, off int64) (io.ReadCloser, error) {
				offs = append(offs, off)
				if off > 0 && tt.noRange {
					return nil, errors.New("cannot resume")
				}
				rest := data[off:]
				if tt.cutAt > 0 {
					return io.NopCloser(io.MultiReader(bytes.NewReader(rest[:tt.cutAt]), errReader{})), nil
				}
				return io.NopCloser(bytes.NewReader(rest)), nil
			}
			_, err := l.PutBlobFrom(ctx, desc, open)
			if tt.wantKind == nil && err != nil || tt.wantKind != nil && !errors.Is(err, tt.wantKind) {
				t.Fatalf("err = %v, want %v", err, tt.wantKind)
			}
			if fmt.Sprint(offs) != fmt.Sprint(tt.wantOffs) {
				t.Fatalf("opened at %v, want %v", offs, tt.wantOffs)
			}
			left := int64(-1)
			if fi, err := os.Stat(l.partialPath(desc)); err == nil {
				left = fi.Size()
			}
			if left != tt.wantLeft {
				t.Fatalf("partial left: %d bytes, want %d", left, tt.wantLeft)
			}
			got, err := l.ReadBlob(ctx, desc)
			if (err == nil) != (tt.wantKind == nil) || err == nil && !bytes.Equal(got, data) {
				t.Fatalf("blob after the call: %d bytes, %v", len(got), err)
			}
		})
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

// TestPutBlobFromConcurrent: writers of one blob racing on its partial
// all succeed, whichever of them renames it into place (a writer that
// locked the partial only after another renamed it must not fail).
func TestPutBlobFromConcurrent(t *testing.T) {
	ctx := context.Background()
	data := bytes.Repeat([]byte("0123456789"), 100)
	desc := v1.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(data), Size: int64(len(data))}
	open := func(_ context.Context, off int64) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data[off:])), nil
	}
	for round := 0; round < 300; round++ {
		l := newLayout(t)
		errs := make(chan error, 8)
		for i := 0; i < cap(errs); i++ {
			go func() {
				_, err := l.PutBlobFrom(ctx, desc, open)
				errs <- err
			}()
		}
		for i := 0; i < cap(errs); i++ {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		got, err := l.ReadBlob(ctx, desc)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("round %d: blob: %d bytes, %v", round, len(got), err)
		}
		if l.HasPartial() {
			t.Fatalf("round %d: a partial is left", round)
		}
	}
}
