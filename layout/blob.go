package layout

import (
	"bytes"
	"context"
	_ "crypto/sha256" // register the hashes go-digest looks up
	_ "crypto/sha512"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/internal/fsutil"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// validDigestSyntax checks the digest grammar of descriptor.md#digests:
//
//	digest              ::= algorithm ":" encoded
//	algorithm           ::= algorithm-component (algorithm-separator algorithm-component)*
//	algorithm-component ::= [a-z0-9]+
//	algorithm-separator ::= [+._-]
//	encoded             ::= [a-zA-Z0-9=_-]+
//
// Hand-written rather than a regexp: it runs for every descriptor of
// index.json and a regexp made it a third of `image ls`.
func validDigestSyntax(s string) bool {
	i := strings.IndexByte(s, ':')
	if i <= 0 || i == len(s)-1 {
		return false
	}
	prevSep := true // no separator first
	for j := 0; j < i; j++ {
		c := s[j]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			prevSep = false
		case c == '+' || c == '.' || c == '_' || c == '-':
			if prevSep {
				return false
			}
			prevSep = true
		default:
			return false
		}
	}
	if prevSep {
		return false // no separator last
	}
	for j := i + 1; j < len(s); j++ {
		c := s[j]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '=' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// lowerHex reports whether s is n lowercase hex digits, the encoding
// descriptor.md requires of sha256 (64) and sha512 (128).
func lowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// CheckDigest reports whether d is a digest this layout can store and
// verify: ErrInvalidDigest if it breaks the grammar of descriptor.md (or the
// algorithm's encoding, e.g. 64 lowercase hex digits for sha256),
// ErrUnsupportedDigest if its algorithm is neither sha256 nor sha512.
func CheckDigest(d digest.Digest) error {
	s := string(d)
	if !validDigestSyntax(s) {
		return fmt.Errorf("digest %q: %w", clip(s), ErrInvalidDigest)
	}
	alg, enc, _ := strings.Cut(s, ":")
	switch digest.Algorithm(alg) {
	case digest.SHA256:
		if !lowerHex(enc, 64) {
			return fmt.Errorf("digest %q: bad sha256 encoding (want 64 lowercase hex digits): %w", clip(s), ErrInvalidDigest)
		}
	case digest.SHA512:
		if !lowerHex(enc, 128) {
			return fmt.Errorf("digest %q: bad sha512 encoding (want 128 lowercase hex digits): %w", clip(s), ErrInvalidDigest)
		}
	default:
		return fmt.Errorf("digest %q: algorithm %q: %w", clip(s), clip(alg), ErrUnsupportedDigest)
	}
	return nil
}

// clip shortens attacker-sized strings quoted in error messages.
func clip(s string) string {
	if len(s) > 140 {
		return s[:140] + "..."
	}
	return s
}

// blobPath is where blob d lives (image-layout.md: blobs/<alg>/<encoded>).
// d must have passed CheckDigest.
func (l *Layout) blobPath(d digest.Digest) string {
	return filepath.Join(l.dir, blobsDir, string(d.Algorithm()), d.Encoded())
}

// PutBlob streams r into the layout and returns its descriptor: expect with
// Digest and Size filled in (MediaType, annotations and the other fields of
// expect are kept). expect.Digest is optional; when set, its algorithm is
// used (sha256 or sha512, else ErrUnsupportedDigest) and the content must
// match it (ErrDigestMismatch); without it the digest is sha256.
// expect.Size is verified when non-zero (ErrSizeMismatch).
//
// The content goes to a temporary file in blobs/, is fsynced and verified,
// and only then renamed into place (and the directory fsynced), so a blob
// visible under its digest is always complete and correct. When expect
// names a digest and size that are already stored, r is not read (the
// blob's mtime is refreshed, for GCGracePeriod).
func (l *Layout) PutBlob(ctx context.Context, r io.Reader, expect v1.Descriptor) (v1.Descriptor, error) {
	alg := digest.Canonical
	if expect.Digest != "" {
		if err := CheckDigest(expect.Digest); err != nil {
			return v1.Descriptor{}, fmt.Errorf("put blob: %w", err)
		}
		alg = expect.Digest.Algorithm()
	}
	if expect.Size < 0 {
		return v1.Descriptor{}, fmt.Errorf("put blob: negative size %d: %w", expect.Size, ErrSizeMismatch)
	}
	if expect.Digest != "" && expect.Size > 0 {
		if present(l.blobPath(expect.Digest), expect.Size) {
			return expect, nil
		}
	}
	tmp, err := l.createTemp(ctx)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("put blob: %w", err)
	}
	tmpName := tmp.Name()
	defer func() {
		tmp.Close()
		os.Remove(tmpName) // after a successful rename this fails harmlessly
	}()

	// A reader that verifies what it yields (content.VerifiedReader, such
	// as a registry's or another layout's blob reader) is not hashed
	// again: it ends with an error rather than io.EOF if the content is
	// not expect's, and then nothing is renamed into place.
	verified := content.Verified(r, expect)
	h := alg.Hash()
	src := fsutil.ContextReader(ctx, r)
	if expect.Size > 0 {
		src = io.LimitReader(src, expect.Size+1)
	}
	// Writeback: the fsync below then waits for the last few MiB only.
	dst := fsutil.Writeback(tmp)
	if !verified {
		dst = io.MultiWriter(dst, h)
	}
	n, err := fsutil.Copy(dst, src)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("put blob: %w", err)
	}
	got := expect.Digest
	if !verified {
		got = digest.NewDigest(alg, h)
	}
	if expect.Size > 0 && n != expect.Size {
		what := fmt.Sprintf("%d", n)
		if n > expect.Size {
			what = "more than " + fmt.Sprint(expect.Size)
		}
		return v1.Descriptor{}, fmt.Errorf("put blob %s: got %s bytes, want %d: %w", descName(expect.Digest, got), what, expect.Size, ErrSizeMismatch)
	}
	if expect.Digest != "" && got != expect.Digest {
		return v1.Descriptor{}, fmt.Errorf("put blob %s: content is %s: %w", expect.Digest, got, ErrDigestMismatch)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return v1.Descriptor{}, fmt.Errorf("put blob: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return v1.Descriptor{}, fmt.Errorf("put blob: %w", err)
	}
	algDir := filepath.Join(l.dir, blobsDir, string(alg))
	if _, err := os.Stat(algDir); errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(algDir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return v1.Descriptor{}, fmt.Errorf("put blob: %w", err)
		}
		if err := fsutil.SyncDir(filepath.Join(l.dir, blobsDir)); err != nil {
			return v1.Descriptor{}, fmt.Errorf("put blob: %w", err)
		}
	}
	if err := os.Rename(tmpName, l.blobPath(got)); err != nil {
		return v1.Descriptor{}, fmt.Errorf("put blob: %w", err)
	}
	if err := fsutil.SyncDir(algDir); err != nil {
		return v1.Descriptor{}, fmt.Errorf("put blob: %w", err)
	}
	desc := expect
	desc.Digest = got
	desc.Size = n
	return desc, nil
}

func descName(want, got digest.Digest) digest.Digest {
	if want != "" {
		return want
	}
	return got
}

// createTemp creates a temporary file in blobs/ and flocks it, holding the
// layout's shared lock meanwhile: GC (under the exclusive lock) removes only
// temporary files it can lock, so it never takes one being written.
func (l *Layout) createTemp(ctx context.Context) (*os.File, error) {
	unlock, err := l.lock(ctx, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	tmp, err := os.CreateTemp(filepath.Join(l.dir, blobsDir), tmpPrefix)
	if err != nil {
		return nil, err
	}
	if err := fsutil.Lock(ctx, tmp, true); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, err
	}
	return tmp, nil
}

// PutJSON marshals v and stores it as a blob of the given media type.
func (l *Layout) PutJSON(ctx context.Context, mediaType string, v any) (v1.Descriptor, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("put %s: %w", mediaType, err)
	}
	return l.PutBlob(ctx, strings.NewReader(string(data)), v1.Descriptor{
		MediaType: mediaType,
		Digest:    digest.FromBytes(data),
		Size:      int64(len(data)),
	})
}

// OpenBlob opens the blob desc names for reading. The size is checked at
// once (ErrSizeMismatch); the returned reader hashes what it reads and, at
// the end of the content, returns an error wrapping ErrDigestMismatch or
// ErrSizeMismatch instead of io.EOF if the content is not what desc says.
// A missing blob is ErrNotFound.
func (l *Layout) OpenBlob(ctx context.Context, desc v1.Descriptor) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := CheckDigest(desc.Digest); err != nil {
		return nil, err
	}
	f, path, err := l.openSizedBlob(desc)
	if err != nil {
		return nil, err
	}
	return &verifyReader{restReader: restReader{f: f, path: path, size: desc.Size}, want: desc.Digest, h: desc.Digest.Algorithm().Hash()}, nil
}

// OpenBlobFrom opens blob desc from byte off on (0 <= off < desc.Size).
// At 0 it is OpenBlob. Past it the reader yields the rest of the file and
// checks only its size (ErrSizeMismatch), since whoever holds the first
// off bytes is the one who can check the digest: it is what a copy reads
// to continue an upload its destination kept part of (an upload session's
// offset), as registry.Repository's OpenBlobFrom is for a download.
func (l *Layout) OpenBlobFrom(ctx context.Context, desc v1.Descriptor, off int64) (io.ReadCloser, error) {
	if off == 0 {
		return l.OpenBlob(ctx, desc)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := CheckDigest(desc.Digest); err != nil {
		return nil, err
	}
	if off < 0 || off >= desc.Size {
		return nil, fmt.Errorf("blob %s: offset %d of %d bytes: %w", desc.Digest, off, desc.Size, ErrSizeMismatch)
	}
	f, path, err := l.openSizedBlob(desc)
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("open blob: %w", err)
	}
	return &restReader{f: f, path: path, n: off, size: desc.Size}, nil
}

// openSizedBlob opens blob desc's file, refusing one whose size is not
// the descriptor's (ErrSizeMismatch).
func (l *Layout) openSizedBlob(desc v1.Descriptor) (*os.File, string, error) {
	f, path, size, err := l.openBlobFile(desc.Digest)
	if err != nil {
		return nil, "", err
	}
	if size != desc.Size {
		f.Close()
		return nil, "", fmt.Errorf("%s: %d bytes, descriptor says %d: %w", path, size, desc.Size, ErrSizeMismatch)
	}
	return f, path, nil
}

// restReader reads a blob file from an offset to its end, checking that
// the end is where the size says. It never reads more than one byte past
// the expected size: enough to see that the file grew, without reading
// (or, in verifyReader, hashing) an unbounded tail.
type restReader struct {
	f       *os.File
	path    string
	n, size int64
	err     error
}

func (r *restReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if rem := r.size - r.n + 1; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := r.f.Read(p)
	r.n += int64(n)
	switch {
	case r.n > r.size:
		r.err = fmt.Errorf("%s: longer than %d bytes: %w", r.path, r.size, ErrSizeMismatch)
		return n - int(r.n-r.size), r.err
	case err == io.EOF && r.n != r.size:
		r.err = fmt.Errorf("%s: %d bytes, descriptor says %d: %w", r.path, r.n, r.size, ErrSizeMismatch)
		return n, r.err
	case err != nil:
		r.err = err
	}
	return n, err
}

func (r *restReader) Close() error { return r.f.Close() }

// verifyReader hashes a blob while it is read (a restReader from its
// start) and turns the end of the file into an error unless the digest
// matches too.
type verifyReader struct {
	restReader
	want digest.Digest
	h    hash.Hash
}

func (v *verifyReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.restReader.Read(p)
	v.h.Write(p[:n])
	if err == io.EOF {
		if got := digest.NewDigest(v.want.Algorithm(), v.h); got != v.want {
			v.err = fmt.Errorf("%s: content is %s: %w", v.path, got, ErrDigestMismatch)
			return n, v.err
		}
	}
	return n, err
}

// BlobFile is the blob's open file while nothing has been read from the
// reader (else nil), for a consumer that sends it with sendfile(2) rather
// than reading it (a registry upload): such a consumer must check size
// and digest itself, as Read would, before it relies on the content.
func (v *verifyReader) BlobFile() *os.File {
	if v.n != 0 || v.err != nil {
		return nil
	}
	return v.f
}

// Verifies makes verifyReader a content.VerifiedReader.
func (v *verifyReader) Verifies() v1.Descriptor { return v1.Descriptor{Digest: v.want, Size: v.size} }

// ReadBlob reads a whole blob, verified, refusing blobs larger than
// MaxJSONSize (ErrTooLarge): it is meant for manifests, indexes and configs.
func (l *Layout) ReadBlob(ctx context.Context, desc v1.Descriptor) ([]byte, error) {
	if desc.Size < 0 {
		return nil, fmt.Errorf("blob %s: negative size %d: %w", clip(string(desc.Digest)), desc.Size, ErrSizeMismatch)
	}
	if desc.Size > MaxJSONSize {
		return nil, fmt.Errorf("blob %s: %d bytes, more than %d: %w", clip(string(desc.Digest)), desc.Size, MaxJSONSize, ErrTooLarge)
	}
	rc, err := l.OpenBlob(ctx, desc)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	buf.Grow(int(desc.Size) + 1)
	if _, err := buf.ReadFrom(rc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// StatBlob returns the size of the stored blob d, or ErrNotFound.
func (l *Layout) StatBlob(ctx context.Context, d digest.Digest) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := CheckDigest(d); err != nil {
		return 0, fmt.Errorf("stat blob: %w", err)
	}
	st, err := os.Stat(l.blobPath(d))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, fmt.Errorf("%s: blob missing: %w", l.blobPath(d), ErrNotFound)
		}
		return 0, fmt.Errorf("stat blob: %w", err)
	}
	if !st.Mode().IsRegular() {
		return 0, fmt.Errorf("%s: not a regular file: %w", l.blobPath(d), ErrInvalidLayout)
	}
	return st.Size(), nil
}

// DeleteBlob removes blob d (ErrNotFound if it is not stored). It does not
// check whether anything references it; GC does.
func (l *Layout) DeleteBlob(ctx context.Context, d digest.Digest) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := CheckDigest(d); err != nil {
		return fmt.Errorf("delete blob: %w", err)
	}
	if err := os.Remove(l.blobPath(d)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: blob missing: %w", l.blobPath(d), ErrNotFound)
		}
		return fmt.Errorf("delete blob: %w", err)
	}
	return nil
}

// Blobs lists the digests of the stored blobs, sorted. Files under blobs/
// that are not named like a sha256 or sha512 blob (temporary files, other
// algorithms) are skipped: image-layout.md asks implementations not to
// error on unknown files.
func (l *Layout) Blobs(ctx context.Context) ([]digest.Digest, error) {
	var out []digest.Digest
	err := l.walkBlobs(ctx, func(d digest.Digest, _ fs.DirEntry) error {
		out = append(out, d)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

func (l *Layout) walkBlobs(ctx context.Context, fn func(digest.Digest, fs.DirEntry) error) error {
	for _, alg := range []digest.Algorithm{digest.SHA256, digest.SHA512} {
		dir := filepath.Join(l.dir, blobsDir, string(alg))
		entries, err := os.ReadDir(dir)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return fmt.Errorf("list blobs: %w", err)
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !e.Type().IsRegular() || CheckDigest(digest.NewDigestFromEncoded(alg, e.Name())) != nil {
				continue
			}
			if err := fn(digest.NewDigestFromEncoded(alg, e.Name()), e); err != nil {
				return err
			}
		}
	}
	return nil
}

// OpenBlobFile opens the stored blob d as a plain file, without the
// verification OpenBlob adds: for a server that sends blobs with HTTP
// Range requests and sendfile(2), whose clients verify the digest
// (distribution-spec: clients SHOULD verify a pulled blob). Every blob was
// verified when it entered the layout (PutBlob). A missing blob is
// ErrNotFound; anything but a regular file ErrInvalidLayout.
func (l *Layout) OpenBlobFile(ctx context.Context, d digest.Digest) (*os.File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := CheckDigest(d); err != nil {
		return nil, fmt.Errorf("open blob: %w", err)
	}
	f, _, _, err := l.openBlobFile(d)
	return f, err
}

// openBlobFile opens the file of blob d (a digest CheckDigest accepted),
// returning its path and size: a missing blob is ErrNotFound, anything
// but a regular file ErrInvalidLayout.
func (l *Layout) openBlobFile(d digest.Digest) (*os.File, string, int64, error) {
	path := l.blobPath(d)
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", 0, fmt.Errorf("%s: blob missing: %w", path, ErrNotFound)
		}
		return nil, "", 0, fmt.Errorf("open blob: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, "", 0, fmt.Errorf("open blob: %w", err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, "", 0, fmt.Errorf("%s: not a regular file: %w", path, ErrInvalidLayout)
	}
	return f, path, st.Size(), nil
}

// LinkBlob makes blob d of layout src a blob of l, returning its size:
// by a hard link where both are on one file system (instant whatever the
// size; the layouts then share the file, which is safe because this
// package never changes a blob file in place, it only creates one whole
// and removes it), else by a verified copy (PutBlob). The source is
// trusted as stored: it was verified when it entered src. The blob's
// mtime is refreshed, as PutBlob does, for GCGracePeriod. A blob src does
// not hold is ErrNotFound; one l holds already is left as it is.
func (l *Layout) LinkBlob(ctx context.Context, src *Layout, d digest.Digest) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := CheckDigest(d); err != nil {
		return 0, fmt.Errorf("link blob: %w", err)
	}
	size, err := src.StatBlob(ctx, d)
	if err != nil {
		return 0, err
	}
	dst := l.blobPath(d)
	if present(dst, size) {
		return size, nil
	}
	algDir := filepath.Join(l.dir, blobsDir, string(d.Algorithm()))
	if _, err := os.Stat(algDir); errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(algDir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return 0, fmt.Errorf("link blob: %w", err)
		}
		if err := fsutil.SyncDir(filepath.Join(l.dir, blobsDir)); err != nil {
			return 0, fmt.Errorf("link blob: %w", err)
		}
	}
	// link(2) makes the name appear with the whole file behind it, so no
	// reader sees a partial blob. A name that appeared meanwhile is a
	// blob a concurrent writer completed (and verified).
	err = os.Link(src.blobPath(d), dst)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		rc, oerr := src.OpenBlob(ctx, v1.Descriptor{Digest: d, Size: size})
		if oerr != nil {
			return 0, oerr
		}
		defer rc.Close()
		if _, err := l.PutBlob(ctx, rc, v1.Descriptor{Digest: d, Size: size}); err != nil {
			return 0, err
		}
		return size, nil
	}
	now := time.Now()
	_ = os.Chtimes(dst, now, now)
	if err := fsutil.SyncDir(algDir); err != nil {
		return 0, fmt.Errorf("link blob: %w", err)
	}
	return size, nil
}

// present reports whether the blob at path is there with size bytes, and
// then refreshes its mtime: GC's grace period counts from it, and the
// caller is about to reference the blob anew.
func present(path string, size int64) bool {
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() || st.Size() != size {
		return false
	}
	now := time.Now()
	_ = os.Chtimes(path, now, now)
	return true
}
