package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/ocikit/ocikit/errdefs"
)

// fileSource is a blob source that offers its file (as a layout's blob
// reader does) and counts the reads made through it.
type fileSource struct {
	f     *os.File
	reads *int
}

func (s fileSource) Read(p []byte) (int, error) { *s.reads++; return s.f.Read(p) }
func (s fileSource) Close() error               { return s.f.Close() }
func (s fileSource) BlobFile() *os.File         { return s.f }

// errAny stands for any error in a table's want.
var errAny = errors.New("any error")

// TestUploadFromFile: a source that offers its file is uploaded from the
// file (sendfile; the source is only read alongside, to check it), chunk
// by chunk; a
// PATCH that breaks resumes where the registry stands; a file whose
// content is not the descriptor's is refused before the commit, and the
// session deleted.
func TestUploadFromFile(t *testing.T) {
	ctx := context.Background()
	data, desc := randomBlob(300_000, 5)
	flipped := bytes.Clone(data)
	flipped[200_000] ^= 1
	for _, tt := range []struct {
		name    string
		content []byte
		retries int
		cuts    int
		want    error    // nil: success; errAny: any failure
		ranges  []string // the PATCHes' Content-Ranges
	}{
		{"whole", data, 0, 0, nil, []string{"0-99999", "100000-199999", "200000-299999"}},
		{"one cut", data, 2, 1, nil, []string{"0-99999", "100000-199999", "150000-249999", "250000-299999"}},
		{"no retries", data, 0, 1, errAny, []string{"0-99999", "100000-199999"}},
		{"other content", flipped, 0, 0, errdefs.ErrDigestMismatch, []string{"0-99999", "100000-199999", "200000-299999"}},
		{"longer file", append(bytes.Clone(data), 'x'), 0, 0, errdefs.ErrDigestMismatch, nil},
		{"shorter file", data[:len(data)-1], 0, 0, errdefs.ErrDigestMismatch, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			c, host := cutServer(t, root, tt.cuts)
			r := chunkedClient(t, host, "up/file", WithRetries(tt.retries))
			path := filepath.Join(t.TempDir(), "blob")
			if err := os.WriteFile(path, tt.content, 0o644); err != nil {
				t.Fatal(err)
			}
			reads := 0
			open := func(ctx context.Context, off int64) (io.ReadCloser, error) {
				if off != 0 {
					return nil, fmt.Errorf("opened at %d: the file path seeks itself", off)
				}
				f, err := os.Open(path)
				return fileSource{f, &reads}, err
			}
			_, err := r.PutBlobFrom(ctx, desc, open)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("PutBlobFrom: %v", err)
			case tt.want == errAny && err == nil, tt.want != nil && tt.want != errAny && !errors.Is(err, tt.want):
				t.Fatalf("PutBlobFrom: %v, want %v", err, tt.want)
			}
			// The source is read once alongside, in 1 MiB pieces (its
			// check), not in the HTTP client's 32 KiB ones.
			if reads > 2 {
				t.Errorf("%d reads through the source, want at most 2 (sent from its file)", reads)
			}
			if fmt.Sprint(c.ranges) != fmt.Sprint(tt.ranges) {
				t.Errorf("PATCH ranges %v, want %v", c.ranges, tt.ranges)
			}
			if tt.want != nil {
				if _, err := r.StatBlob(ctx, desc.Digest); !errors.Is(err, errdefs.ErrNotFound) {
					t.Errorf("StatBlob after a refused upload: %v, want not found", err)
				}
				ents, _ := os.ReadDir(filepath.Join(root, ".uploads"))
				if len(ents) != 0 {
					t.Errorf("%d upload sessions left, want the failed one deleted", len(ents))
				}
				return
			}
			rc, err := r.OpenBlob(ctx, desc)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if got, err := io.ReadAll(rc); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("blob read back: %d bytes, %v", len(got), err)
			}
		})
	}
}
