package layout

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestOpenBlobVerifies(t *testing.T) {
	ctx := context.Background()
	content := []byte(strings.Repeat("verified content ", 1000))
	tests := []struct {
		name    string
		alg     digest.Algorithm
		corrupt func(path string) error // applied to the stored file
		desc    func(d v1.Descriptor) v1.Descriptor
		openErr error // error from OpenBlob
		readErr error // error instead of io.EOF
	}{
		{name: "intact sha256", alg: digest.SHA256},
		{name: "intact sha512", alg: digest.SHA512},
		{name: "altered byte", alg: digest.SHA256, corrupt: func(p string) error {
			data, _ := os.ReadFile(p)
			data[100] ^= 1
			return os.WriteFile(p, data, 0o644)
		}, readErr: ErrDigestMismatch},
		{name: "altered byte sha512", alg: digest.SHA512, corrupt: func(p string) error {
			data, _ := os.ReadFile(p)
			data[len(data)-1] ^= 1
			return os.WriteFile(p, data, 0o644)
		}, readErr: ErrDigestMismatch},
		{name: "truncated", alg: digest.SHA256, corrupt: func(p string) error { return os.Truncate(p, 10) }, openErr: ErrSizeMismatch},
		{name: "extended", alg: digest.SHA256, corrupt: func(p string) error {
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			f.WriteString("tail")
			return f.Close()
		}, openErr: ErrSizeMismatch},
		{name: "descriptor size too small", alg: digest.SHA256, desc: func(d v1.Descriptor) v1.Descriptor { d.Size--; return d }, openErr: ErrSizeMismatch},
		{name: "missing", alg: digest.SHA256, corrupt: os.Remove, openErr: ErrNotFound},
		{name: "unknown algorithm", alg: digest.SHA256, desc: func(d v1.Descriptor) v1.Descriptor {
			d.Digest = "blake3:" + digest.Digest(d.Digest.Encoded())
			return d
		}, openErr: ErrUnsupportedDigest},
		{name: "bad encoding", alg: digest.SHA256, desc: func(d v1.Descriptor) v1.Descriptor {
			d.Digest = "sha256:" + digest.Digest(strings.ToUpper(d.Digest.Encoded()))
			return d
		}, openErr: ErrInvalidDigest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLayout(t)
			d, err := l.PutBlob(ctx, bytes.NewReader(content), v1.Descriptor{Digest: tt.alg.FromBytes(content)})
			if err != nil {
				t.Fatal(err)
			}
			if tt.corrupt != nil {
				if err := tt.corrupt(l.blobPath(d.Digest)); err != nil {
					t.Fatal(err)
				}
			}
			if tt.desc != nil {
				d = tt.desc(d)
			}
			got, err := readAllVerified(t, l, d)
			want := tt.openErr
			if want == nil {
				want = tt.readErr
			}
			if want == nil {
				if err != nil || !bytes.Equal(got, content) {
					t.Fatalf("read: %v (%d bytes)", err, len(got))
				}
				return
			}
			if !errors.Is(err, want) {
				t.Fatalf("err = %v, want %v", err, want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			if _, err := l.ReadBlob(ctx, d); !errors.Is(err, want) {
				t.Fatalf("ReadBlob err = %v, want %v", err, want)
			}
		})
	}
}

func TestReadBlobTooLarge(t *testing.T) {
	l := newLayout(t)
	_, err := l.ReadBlob(context.Background(), v1.Descriptor{Digest: digest.FromString("x"), Size: MaxJSONSize + 1})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v", err)
	}
}

func TestPutBlobStreamLimit(t *testing.T) {
	// A reader longer than expect.Size is cut off after Size+1 bytes.
	l := newLayout(t)
	r := &countingReader{n: 1 << 30}
	_, err := l.PutBlob(context.Background(), r, v1.Descriptor{Size: 10})
	if !errors.Is(err, ErrSizeMismatch) {
		t.Fatalf("err = %v", err)
	}
	if r.read > 1<<20 {
		t.Fatalf("read %d bytes of an oversized stream", r.read)
	}
}

type countingReader struct{ n, read int64 }

func (c *countingReader) Read(p []byte) (int, error) {
	c.read += int64(len(p))
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

func TestPutBlobCancelled(t *testing.T) {
	l := newLayout(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.PutBlob(ctx, strings.NewReader("x"), v1.Descriptor{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if bs, _ := l.Blobs(context.Background()); len(bs) != 0 {
		t.Fatalf("blobs after cancelled put: %v", bs)
	}
}

func TestPutBlobExisting(t *testing.T) {
	ctx := context.Background()
	l := newLayout(t)
	d1, err := l.PutBlob(ctx, strings.NewReader("same"), v1.Descriptor{MediaType: "a/b"})
	if err != nil {
		t.Fatal(err)
	}
	// Stored already: the reader is not consumed, the media type is kept.
	r := strings.NewReader("same")
	d2, err := l.PutBlob(ctx, r, v1.Descriptor{MediaType: "c/d", Digest: d1.Digest, Size: d1.Size})
	if err != nil || d2.Digest != d1.Digest || d2.MediaType != "c/d" || r.Len() != 4 {
		t.Fatalf("second put: %+v %v (unread %d)", d2, err, r.Len())
	}
}

func TestStatDeleteList(t *testing.T) {
	ctx := context.Background()
	l := newLayout(t)
	var want []digest.Digest
	for _, s := range []string{"a", "b", "c"} {
		d, err := l.PutBlob(ctx, strings.NewReader(s), v1.Descriptor{})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, d.Digest)
	}
	d512, err := l.PutBlob(ctx, strings.NewReader("d"), v1.Descriptor{Digest: digest.SHA512.FromString("d")})
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, d512.Digest)
	// Unknown files are ignored, as image-layout.md asks.
	writeFile(t, filepath.Join(l.Dir(), "blobs", "sha256", "README"), "x")
	writeFile(t, filepath.Join(l.Dir(), "blobs", tmpPrefix+"123"), "x")
	must(t, os.MkdirAll(filepath.Join(l.Dir(), "blobs", "md5"), 0o755))
	writeFile(t, filepath.Join(l.Dir(), "blobs", "md5", "d41d8cd98f00b204e9800998ecf8427e"), "")

	got, err := l.Blobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("Blobs = %v, want %v", got, want)
	}
	for _, d := range want {
		if n, err := l.StatBlob(ctx, d); err != nil || n != 1 {
			t.Fatalf("StatBlob(%s) = %d, %v", d, n, err)
		}
	}
	must(t, l.DeleteBlob(ctx, want[0]))
	if _, err := l.StatBlob(ctx, want[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("StatBlob after delete: %v", err)
	}
	if err := l.DeleteBlob(ctx, want[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := l.StatBlob(ctx, "md5:d41d8cd98f00b204e9800998ecf8427e"); !errors.Is(err, ErrUnsupportedDigest) {
		t.Fatalf("StatBlob(md5): %v", err)
	}
	if err := l.DeleteBlob(ctx, "sha256:../../index.json"); !errors.Is(err, ErrInvalidDigest) {
		t.Fatalf("DeleteBlob(path traversal): %v", err)
	}
}

func TestCheckDigest(t *testing.T) {
	tests := []struct {
		d    digest.Digest
		want error
	}{
		{digest.FromString("x"), nil},
		{digest.SHA512.FromString("x"), nil},
		{"", ErrInvalidDigest},
		{"sha256", ErrInvalidDigest},
		{"sha256:", ErrInvalidDigest},
		{"sha256:abc", ErrInvalidDigest},
		{"sha256:../../../etc/passwd", ErrInvalidDigest},
		{"a..b:c", ErrInvalidDigest},
		{".a:c", ErrInvalidDigest},
		{"a.:c", ErrInvalidDigest},
		{"sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564", ErrUnsupportedDigest},
		{"sha512:" + digest.Digest(digest.FromString("x").Encoded()), ErrInvalidDigest},
		{"SHA256:" + digest.Digest(digest.FromString("x").Encoded()), ErrInvalidDigest},
		{digest.SHA384.FromString("x"), ErrUnsupportedDigest},
		{"md5:d41d8cd98f00b204e9800998ecf8427e", ErrUnsupportedDigest},
		{"multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8", ErrUnsupportedDigest},
	}
	for _, tt := range tests {
		t.Run(string(tt.d), func(t *testing.T) {
			if err := CheckDigest(tt.d); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("CheckDigest(%q) = %v, want %v", tt.d, err, tt.want)
			}
		})
	}
}

func TestOpenBlobFileChangesAfterOpen(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		change func(f *os.File) error
		want   error
	}{
		{"grows", func(f *os.File) error { _, err := f.WriteString("more"); return err }, ErrSizeMismatch},
		{"shrinks", func(f *os.File) error { return f.Truncate(3) }, ErrSizeMismatch},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := newLayout(t)
			d, err := l.PutBlob(ctx, strings.NewReader("0123456789"), v1.Descriptor{})
			must(t, err)
			rc, err := l.OpenBlob(ctx, d)
			must(t, err)
			defer rc.Close()
			f, err := os.OpenFile(l.blobPath(d.Digest), os.O_WRONLY|os.O_APPEND, 0)
			must(t, err)
			must(t, tt.change(f))
			f.Close()
			var buf bytes.Buffer
			if _, err := buf.ReadFrom(rc); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if buf.Len() > 10 {
				t.Fatalf("returned %d bytes beyond the descriptor's size", buf.Len())
			}
		})
	}
}

func TestPutBlobConcurrentSameContent(t *testing.T) {
	ctx := context.Background()
	l := newLayout(t)
	content := strings.Repeat("shared layer ", 10000)
	errs := make(chan error, 16)
	for range 16 {
		go func() {
			_, err := l.PutBlob(ctx, strings.NewReader(content), v1.Descriptor{})
			errs <- err
		}()
	}
	for range 16 {
		must(t, <-errs)
	}
	d := v1.Descriptor{Digest: digest.FromString(content), Size: int64(len(content))}
	if got, err := l.ReadBlob(ctx, d); err != nil || string(got) != content {
		t.Fatalf("ReadBlob: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(l.Dir(), "blobs"))
	if len(entries) != 1 {
		t.Fatalf("blobs/ holds %d entries, want only sha256/", len(entries))
	}
}

// OpenBlobFile returns the stored file itself (seekable, for Range
// requests), and refuses what OpenBlob refuses before reading.
func TestOpenBlobFile(t *testing.T) {
	ctx := context.Background()
	l := newLayout(t)
	d, err := l.PutBlob(ctx, strings.NewReader("0123456789"), v1.Descriptor{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := l.OpenBlobFile(ctx, d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 3)
	if _, err := f.ReadAt(buf, 4); err != nil || string(buf) != "456" {
		t.Errorf("ReadAt = %q, %v", buf, err)
	}
	f.Close()
	for _, tc := range []struct {
		d    digest.Digest
		want error
	}{
		{digest.FromString("missing"), ErrNotFound},
		{"sha256:../../index.json", ErrInvalidDigest},
		{"md5:d41d8cd98f00b204e9800998ecf8427e", ErrUnsupportedDigest},
	} {
		if f, err := l.OpenBlobFile(ctx, tc.d); !errors.Is(err, tc.want) {
			if f != nil {
				f.Close()
			}
			t.Errorf("OpenBlobFile(%s) = %v, want %v", tc.d, err, tc.want)
		}
	}
	// A directory where a blob should be is not served.
	dd := digest.FromString("dir")
	must(t, os.Mkdir(filepath.Join(l.Dir(), "blobs", "sha256", dd.Encoded()), 0o755))
	if _, err := l.OpenBlobFile(ctx, dd); !errors.Is(err, ErrInvalidLayout) {
		t.Errorf("OpenBlobFile(directory) = %v, want ErrInvalidLayout", err)
	}
}

// LinkBlob shares the file between layouts; deleting it from one leaves
// the other's, and the mtime is refreshed for GC's grace period.
func TestLinkBlob(t *testing.T) {
	ctx := context.Background()
	src, dst := newLayout(t), newLayout(t)
	content := strings.Repeat("shared ", 100)
	d, err := src.PutBlob(ctx, strings.NewReader(content), v1.Descriptor{Digest: digest.SHA512.FromString(content)})
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour)
	must(t, os.Chtimes(src.blobPath(d.Digest), old, old))
	n, err := dst.LinkBlob(ctx, src, d.Digest)
	if err != nil || n != int64(len(content)) {
		t.Fatalf("LinkBlob = %d, %v", n, err)
	}
	a, _ := os.Stat(src.blobPath(d.Digest))
	b, _ := os.Stat(dst.blobPath(d.Digest))
	if !os.SameFile(a, b) {
		t.Error("not a hard link (both layouts are on one file system)")
	}
	if time.Since(b.ModTime()) > time.Hour {
		t.Errorf("mtime not refreshed: %v", b.ModTime())
	}
	// Again: nothing to do.
	if _, err := dst.LinkBlob(ctx, src, d.Digest); err != nil {
		t.Fatal(err)
	}
	must(t, src.DeleteBlob(ctx, d.Digest))
	data, err := dst.ReadBlob(ctx, d)
	if err != nil || string(data) != content {
		t.Fatalf("blob after the source's delete: %v", err)
	}
	if _, err := dst.LinkBlob(ctx, src, digest.FromString("absent")); !errors.Is(err, ErrNotFound) {
		t.Errorf("LinkBlob of a missing blob: %v", err)
	}
	if _, err := dst.LinkBlob(ctx, src, "sha256:../../x"); !errors.Is(err, ErrInvalidDigest) {
		t.Errorf("LinkBlob of a bad digest: %v", err)
	}
}

// TestOpenBlobOffersFile: a blob reader offers its file (for an upload with
// sendfile, which checks the digest itself) only while nothing has been
// read through it: after a read the file's offset is no longer the
// blob's start.
func TestOpenBlobOffersFile(t *testing.T) {
	ctx := context.Background()
	l := newLayout(t)
	data := []byte(strings.Repeat("blob file ", 100))
	desc, err := l.PutBlob(ctx, bytes.NewReader(data), v1.Descriptor{MediaType: v1.MediaTypeImageLayer})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := l.OpenBlob(ctx, desc)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	bf, ok := rc.(interface{ BlobFile() *os.File })
	if !ok {
		t.Fatalf("%T offers no BlobFile", rc)
	}
	f := bf.BlobFile()
	if f == nil {
		t.Fatal("BlobFile = nil before any read")
	}
	if st, err := f.Stat(); err != nil || st.Size() != desc.Size {
		t.Fatalf("BlobFile: %v, %v; want the blob's file of %d bytes", st, err, desc.Size)
	}
	if _, err := rc.Read(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	if bf.BlobFile() != nil {
		t.Error("BlobFile offered after a read")
	}
}
