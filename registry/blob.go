package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/internal/fsutil"
	"github.com/ocikit/ocikit/layout"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// errMismatch is the kind-carrying sentinel of content that is not what
// its descriptor says.
var errMismatch = errdefs.New(errdefs.ErrDigestMismatch, "digest mismatch")

// isDocument reports whether mediaType is a manifest or index, which the
// API serves under /manifests/, not /blobs/.
func isDocument(mediaType string) bool {
	return layout.IsIndex(mediaType) || layout.IsManifest(mediaType)
}

func (r *Repository) blobPath(d digest.Digest) string {
	return "/v2/" + r.name + "/blobs/" + string(d)
}

// StatBlob returns the size of blob d (HEAD, spec.md#checking-if-content-exists-in-the-registry).
func (r *Repository) StatBlob(ctx context.Context, d digest.Digest) (int64, error) {
	if err := layout.CheckDigest(d); err != nil {
		return 0, fmt.Errorf("stat blob: %w", err)
	}
	resp, err := r.do(ctx, &request{method: http.MethodHead, url: r.blobPath(d), ok: []int{http.StatusOK}, what: "blob"})
	if err != nil {
		return 0, fmt.Errorf("blob %s: %w", d, err)
	}
	resp.Body.Close()
	if resp.ContentLength < 0 {
		return 0, fmt.Errorf("blob %s: registry sent no size: %w", d, errdefs.ErrInvalid)
	}
	return resp.ContentLength, nil
}

// OpenBlob opens the blob desc names (GET; a manifest or index from
// /manifests/). The reader is verified as content.Provider promises; a
// download the network cuts short continues from the verified bytes with
// an HTTP Range request (WithRetries times).
func (r *Repository) OpenBlob(ctx context.Context, desc v1.Descriptor) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := layout.CheckDigest(desc.Digest); err != nil {
		return nil, err
	}
	if desc.Size < 0 {
		return nil, fmt.Errorf("blob %s: negative size: %w", desc.Digest, errdefs.ErrInvalid)
	}
	if isDocument(desc.MediaType) {
		data, _, err := r.manifest(ctx, string(desc.Digest))
		if err != nil {
			return nil, err
		}
		if int64(len(data)) != desc.Size {
			return nil, fmt.Errorf("manifest %s: %d bytes, descriptor says %d: %w", desc.Digest, len(data), desc.Size, errMismatch)
		}
		return io.NopCloser(bytes.NewReader(data)), nil
	}
	b := &blobReader{r: r, ctx: ctx, desc: desc, h: desc.Digest.Algorithm().Hash()}
	if err := b.open(0); err != nil {
		return nil, err
	}
	return b, nil
}

// OpenBlobFrom opens blob desc (not a manifest) from byte off on, with an
// HTTP Range request when off > 0 (only a 206 of exactly the rest is
// taken). The reader checks the size; the digest can be checked only by
// whoever holds the first off bytes, so it is not a
// content.VerifiedReader unless off is 0 (OpenBlob's reader).
func (r *Repository) OpenBlobFrom(ctx context.Context, desc v1.Descriptor, off int64) (io.ReadCloser, error) {
	if off == 0 || isDocument(desc.MediaType) {
		return r.OpenBlob(ctx, desc)
	}
	if err := layout.CheckDigest(desc.Digest); err != nil {
		return nil, err
	}
	if off < 0 || off >= desc.Size {
		return nil, fmt.Errorf("blob %s: offset %d of %d bytes: %w", desc.Digest, off, desc.Size, errdefs.ErrInvalid)
	}
	b := &blobReader{r: r, ctx: ctx, desc: desc, n: off, rest: true}
	if err := b.open(off); err != nil {
		return nil, err
	}
	return restReader{b}, nil
}

// restReader hides blobReader's Verifies: it reads only part of a blob.
type restReader struct{ b *blobReader }

func (r restReader) Read(p []byte) (int, error) { return r.b.Read(p) }
func (r restReader) Close() error               { return r.b.Close() }

// blobReader streams one blob, hashing it, and resumes after a network
// error with a Range request from the bytes it has verified so far.
type blobReader struct {
	r       *Repository
	ctx     context.Context
	desc    v1.Descriptor
	h       hash.Hash
	n       int64
	body    io.ReadCloser
	cancel  context.CancelFunc
	resumes int
	err     error
	rest    bool // from an offset: h has not seen the start, only the size is checked
}

func (b *blobReader) open(from int64) error {
	ctx, watch, cancel := b.r.watch(b.ctx)
	header := http.Header{}
	if from > 0 {
		header.Set("Range", fmt.Sprintf("bytes=%d-", from))
	}
	resp, err := b.r.do(ctx, &request{method: http.MethodGet, url: b.r.blobPath(b.desc.Digest), header: header, ok: []int{http.StatusOK, http.StatusPartialContent}, what: "blob"})
	if err != nil {
		cancel()
		return fmt.Errorf("blob %s: %w", b.desc.Digest, stalled(ctx, err, b.r.o.timeout))
	}
	if from > 0 {
		// Only a 206 of exactly the rest continues the stream.
		if resp.StatusCode != http.StatusPartialContent || !strings.HasPrefix(resp.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-", from)) {
			resp.Body.Close()
			cancel()
			return fmt.Errorf("blob %s: registry cannot resume at byte %d", b.desc.Digest, from)
		}
	}
	if resp.StatusCode == http.StatusOK && resp.ContentLength >= 0 && resp.ContentLength != b.desc.Size {
		resp.Body.Close()
		cancel()
		return fmt.Errorf("blob %s: registry sends %d bytes, descriptor says %d: %w", b.desc.Digest, resp.ContentLength, b.desc.Size, errMismatch)
	}
	b.body, b.cancel = watch(resp.Body), cancel
	return nil
}

func (b *blobReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	// Never more than one byte past the size: enough to see a longer body.
	if rem := b.desc.Size - b.n + 1; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := b.body.Read(p)
	if !b.rest {
		b.h.Write(p[:n])
	}
	b.n += int64(n)
	switch {
	case b.n > b.desc.Size:
		b.err = fmt.Errorf("blob %s: longer than %d bytes: %w", b.desc.Digest, b.desc.Size, errMismatch)
		return n - int(b.n-b.desc.Size), b.err
	case err == io.EOF:
		if b.n != b.desc.Size {
			b.err = fmt.Errorf("blob %s: %d bytes, descriptor says %d: %w", b.desc.Digest, b.n, b.desc.Size, errMismatch)
			return n, b.err
		}
		if !b.rest {
			if got := digest.NewDigest(b.desc.Digest.Algorithm(), b.h); got != b.desc.Digest {
				b.err = fmt.Errorf("blob %s: content is %s: %w", b.desc.Digest, got, errMismatch)
				return n, b.err
			}
		}
		b.err = io.EOF
		return n, io.EOF
	case err != nil:
		if b.ctx.Err() == nil && !errors.Is(err, errStalled) && b.resumes < b.r.o.retries && retryableErr(err) {
			b.resumes++
			b.body.Close()
			b.cancel()
			if rerr := b.open(b.n); rerr == nil {
				return n, nil
			}
		}
		if b.ctx.Err() != nil {
			err = b.ctx.Err()
		}
		b.err = fmt.Errorf("blob %s: %w", b.desc.Digest, err)
		return n, b.err
	}
	return n, nil
}

// Verifies makes blobReader a content.VerifiedReader.
func (b *blobReader) Verifies() v1.Descriptor {
	return v1.Descriptor{Digest: b.desc.Digest, Size: b.desc.Size}
}

func (b *blobReader) Close() error {
	err := b.body.Close()
	b.cancel()
	return err
}

// PutBlob uploads a blob (spec.md#pushing-blobs): mounted from
// WithMountFrom's repository where the registry can; else, when its size
// is known and at most 1 MiB, read and verified in memory and sent with
// POST and one PUT; else streamed in PATCH requests of the chunk size
// (WithChunkSize), hashed as it goes, and committed with the PUT only if
// size and digest match. After any failure the upload session is deleted
// and nothing is committed. A manifest or index (by media type) is put
// under its digest (spec.md#pushing-manifests), at most MaxManifestSize.
func (r *Repository) PutBlob(ctx context.Context, rd io.Reader, expect v1.Descriptor) (v1.Descriptor, error) {
	if err := ctx.Err(); err != nil {
		return v1.Descriptor{}, err
	}
	alg := digest.Canonical
	if expect.Digest != "" {
		if err := layout.CheckDigest(expect.Digest); err != nil {
			return v1.Descriptor{}, fmt.Errorf("put blob: %w", err)
		}
		alg = expect.Digest.Algorithm()
	}
	if expect.Size < 0 {
		return v1.Descriptor{}, fmt.Errorf("put blob: negative size: %w", errdefs.ErrInvalid)
	}
	if isDocument(expect.MediaType) {
		return r.putManifest(ctx, rd, expect, alg)
	}
	small := expect.Digest != "" && expect.Size > 0 && expect.Size <= r.o.monolithic
	var data []byte
	if small {
		// Read and verify first: a PUT carrying the digest commits the
		// blob, so only verified bytes may be sent that way.
		var err error
		if data, err = readExact(ctx, rd, expect, alg); err != nil {
			return v1.Descriptor{}, err
		}
	}
	loc, mounted, err := r.startUpload(ctx, expect.Digest)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("start upload: %w", err)
	}
	if mounted {
		// The registry has it now, verified when it was pushed there.
		if expect.Size == 0 {
			n, err := r.StatBlob(ctx, expect.Digest)
			if err != nil {
				return v1.Descriptor{}, err
			}
			expect.Size = n
		}
		return expect, nil
	}
	if small {
		if err := r.commit(ctx, loc, expect.Digest, data); err != nil {
			r.cancelUpload(loc)
			return v1.Descriptor{}, fmt.Errorf("commit upload: %w", err)
		}
		return expect, nil
	}
	got, err := r.stream(ctx, loc, rd, expect, alg, nil, 0, nil)
	if err != nil {
		r.cancelUpload(loc)
		return v1.Descriptor{}, err
	}
	return got, nil
}

// PutBlobFrom uploads the blob expect names (digest and size required)
// as PutBlob does, from the readers open gives (open(off): the content
// from byte off on), opened only once a mount did not do: a chunk whose
// PATCH breaks is resumed from the offset the registry reports for the
// session (WithRetries times) instead of failing the upload. With
// WithUploadState, a session left by an earlier call that failed that way
// is continued from its offset, and one that fails that way now is kept
// for the next call.
func (r *Repository) PutBlobFrom(ctx context.Context, expect v1.Descriptor, open func(ctx context.Context, off int64) (io.ReadCloser, error)) (v1.Descriptor, error) {
	if err := layout.CheckDigest(expect.Digest); err != nil {
		return v1.Descriptor{}, fmt.Errorf("put blob: %w", err)
	}
	if expect.Size <= r.o.monolithic || isDocument(expect.MediaType) {
		rc, err := open(ctx, 0)
		if err != nil {
			return v1.Descriptor{}, err
		}
		defer rc.Close()
		return r.PutBlob(ctx, rc, expect)
	}
	st := r.uploadState(expect.Digest)
	loc, at := st.resume(ctx, r, expect.Size)
	if loc == "" {
		var mounted bool
		var err error
		if loc, mounted, err = r.startUpload(ctx, expect.Digest); err != nil {
			return v1.Descriptor{}, fmt.Errorf("start upload: %w", err)
		}
		if mounted {
			return expect, nil
		}
	}
	st.save(loc)
	var rd io.Reader
	if at == 0 {
		rc, err := open(ctx, 0)
		if err != nil {
			r.cancelUpload(loc)
			st.drop()
			return v1.Descriptor{}, err
		}
		defer rc.Close()
		rd = rc
	}
	got, err := r.stream(ctx, loc, rd, expect, expect.Digest.Algorithm(), open, at, st.save)
	if err != nil {
		if st.path != "" && keepable(err) {
			return v1.Descriptor{}, fmt.Errorf("%w (upload session kept for the next push)", err)
		}
		r.cancelUpload(st.loc)
		st.drop()
		return v1.Descriptor{}, err
	}
	st.drop()
	return got, nil
}

// keepable reports whether an upload that failed with err is worth
// continuing in a later push: interrupted, or failed for the network's or
// the registry's sake, not for its content.
func keepable(err error) bool {
	if errors.Is(err, errdefs.ErrDigestMismatch) || errors.Is(err, errdefs.ErrInvalid) || errors.Is(err, errdefs.ErrNotFound) {
		return false // the content, or a session the registry refuses
	}
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || resumable(err)
}

// upState is where an upload session is kept between calls
// (WithUploadState); a zero one keeps nothing.
type upState struct {
	path string
	loc  string // the session's latest location
}

func (r *Repository) uploadState(d digest.Digest) *upState {
	if r.o.upState == "" {
		return &upState{}
	}
	key := sha256.Sum256([]byte(r.host + "/" + r.name + "@" + string(d)))
	return &upState{path: filepath.Join(r.o.upState, hex.EncodeToString(key[:]))}
}

// resume returns the kept session's location and offset if the registry
// still has it (and not yet the whole blob), else "" (the kept file
// dropped).
func (s *upState) resume(ctx context.Context, r *Repository, size int64) (string, int64) {
	if s.path == "" {
		return "", 0
	}
	data, err := fsutil.ReadFileLimit(s.path, 16<<10)
	if err != nil {
		return "", 0
	}
	old := strings.TrimSpace(string(data))
	at, loc, err := r.uploadOffset(ctx, old)
	if err != nil || at >= size {
		if err == nil {
			r.cancelUpload(loc)
		}
		s.drop()
		return "", 0
	}
	s.loc = loc
	return loc, at
}

// save records loc as the session's location (best effort: without it a
// later push starts over).
func (s *upState) save(loc string) {
	s.loc = loc
	if s.path == "" {
		return
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err == nil {
		_ = fsutil.WriteFile(s.path, []byte(loc+"\n"), 0o600, fsutil.NoSync())
	}
}

func (s *upState) drop() {
	if s.path != "" {
		os.Remove(s.path)
	}
}

// readExact reads what expect describes from rd, checking size and digest.
func readExact(ctx context.Context, rd io.Reader, expect v1.Descriptor, alg digest.Algorithm) ([]byte, error) {
	buf := make([]byte, expect.Size+1)
	n, err := io.ReadFull(ctxReader{ctx, rd}, buf)
	switch {
	case err == nil:
		return nil, fmt.Errorf("blob %s: longer than %d bytes: %w", expect.Digest, expect.Size, errMismatch)
	case err != io.ErrUnexpectedEOF && err != io.EOF:
		return nil, fmt.Errorf("blob %s: %w", expect.Digest, err)
	case int64(n) != expect.Size:
		return nil, fmt.Errorf("blob %s: %d bytes, descriptor says %d: %w", expect.Digest, n, expect.Size, errMismatch)
	}
	if got := alg.FromBytes(buf[:n]); got != expect.Digest {
		return nil, fmt.Errorf("blob %s: content is %s: %w", expect.Digest, got, errMismatch)
	}
	return buf[:n], nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// startUpload opens an upload session (POST), or mounts d from the
// WithMountFrom repository (201: nothing to upload).
func (r *Repository) startUpload(ctx context.Context, d digest.Digest) (loc string, mounted bool, err error) {
	u := "/v2/" + r.name + "/blobs/uploads/"
	if r.o.mountFrom != "" && d != "" && r.o.mountFrom != r.name {
		u += "?" + url.Values{"mount": {string(d)}, "from": {r.o.mountFrom}}.Encode()
	}
	resp, err := r.do(ctx, &request{method: http.MethodPost, url: u, body: []byte{}, ok: []int{http.StatusAccepted, http.StatusCreated}})
	if err != nil {
		return "", false, err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusCreated {
		return "", true, nil
	}
	loc, err = resolveURL(resp.Request.URL, resp.Header.Get("Location"))
	return loc, false, err
}

// commit ends an upload with PUT ?digest=, sending data (possibly none).
func (r *Repository) commit(ctx context.Context, loc string, d digest.Digest, data []byte) error {
	u, err := url.Parse(loc)
	if err != nil {
		return fmt.Errorf("upload location: %w", errdefs.ErrInvalid)
	}
	q := u.Query()
	q.Set("digest", string(d))
	u.RawQuery = q.Encode()
	header := http.Header{"Content-Type": {"application/octet-stream"}}
	resp, err := r.do(ctx, &request{method: http.MethodPut, url: u.String(), header: header, body: data, ok: []int{http.StatusCreated}})
	if err != nil {
		return err
	}
	resp.Body.Close()
	// A registry may answer with its canonical digest (distribution 2.8
	// stores a sha512 blob under sha256 and links both): only the same
	// algorithm can be compared.
	if got := digest.Digest(resp.Header.Get("Docker-Content-Digest")); got != "" && got != d && got.Algorithm() == d.Algorithm() {
		return fmt.Errorf("registry stored %s: %w", clip(string(got)), errMismatch)
	}
	return nil
}

// cancelUpload deletes an upload session (spec.md#canceling-an-upload),
// best effort, even when the copy's context is done.
func (r *Repository) cancelUpload(loc string) {
	if loc == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.o.timeout)
	defer cancel()
	if resp, err := r.do(ctx, &request{method: http.MethodDelete, url: loc, ok: []int{http.StatusNoContent, http.StatusAccepted, http.StatusOK}}); err == nil {
		resp.Body.Close()
	}
}

// hashReader hashes and counts what it passes on, and keeps the source's
// error, which the HTTP client would otherwise report in its own words.
type hashReader struct {
	ctx  context.Context
	r    io.Reader
	h    hash.Hash
	n    int64 // the offset in the blob of the next byte
	err  error
	eof  bool
	skip bool // the source verifies itself
}

func (h *hashReader) Read(p []byte) (int, error) {
	if err := h.ctx.Err(); err != nil {
		h.err = err
		return 0, err
	}
	n, err := h.r.Read(p)
	if !h.skip {
		h.h.Write(p[:n])
	}
	h.n += int64(n)
	if err == io.EOF {
		h.eof = true
	} else if err != nil {
		h.err = err
	}
	return n, err
}

// opener gives a blob's content from byte off on (PutBlobFrom).
type opener func(ctx context.Context, off int64) (io.ReadCloser, error)

// stream uploads rd in PATCH requests: chunks of the chunk size with
// Content-Range when the size is known, else one streamed PATCH; then
// checks size and digest and commits. With open (PutBlobFrom) a chunk
// that fails for the network's or the registry's sake is resumed
// (WithRetries times): the registry is asked where the session stands
// (GET, distribution-spec's "Range: 0-<end-of-range>"), the source is
// opened again there, and the upload goes on from that offset rather than
// from the start; where the session cannot be continued (404, 400: a
// registry that keeps the offset in the Location, as docker-registry
// does), the blob starts over in a new session. start is where a session
// kept from an earlier call stands (rd is then unused: the source is
// opened there), and note is told the session's location after each
// chunk (WithUploadState).
func (r *Repository) stream(ctx context.Context, loc string, rd io.Reader, expect v1.Descriptor, alg digest.Algorithm, open opener, start int64, note func(loc string)) (v1.Descriptor, error) {
	if f := sourceFile(rd); f != nil && start == 0 && expect.Digest != "" && expect.Size > 0 {
		return r.streamFile(ctx, loc, rd, f, expect, alg, open, note)
	}
	// A reader that verifies itself (content.VerifiedReader) is not hashed
	// again: it fails instead of ending if the content is not expect's.
	verified := content.Verified(rd, expect)
	hr := &hashReader{ctx: ctx, r: rd, h: alg.Hash(), skip: verified}
	var reopened io.Closer // the source as opened again on a resume
	defer func() {
		if reopened != nil {
			reopened.Close()
		}
	}()
	if start > 0 {
		// A session kept from an earlier call: the source from there on.
		nhr, rc, err := reopen(ctx, &hashReader{skip: true}, start, alg, open)
		if err != nil {
			return v1.Descriptor{}, fmt.Errorf("blob %s: resume upload at %d: %w", expect.Digest, start, err)
		}
		hr, reopened, verified = nhr, rc, false
	}
	if note == nil {
		note = func(string) {}
	}
	name := expect.Digest
	if name == "" {
		name = "(new)"
	}
	fail := func(err error) (v1.Descriptor, error) {
		if hr.err != nil {
			err = hr.err
		}
		return v1.Descriptor{}, fmt.Errorf("blob %s: upload: %w", name, err)
	}
	patch := func(body io.Reader, length int64, header http.Header) error {
		resp, err := r.do(ctx, &request{method: http.MethodPatch, url: loc, header: header, stream: body, length: length, ok: []int{http.StatusAccepted, http.StatusNoContent}})
		if err != nil {
			return err
		}
		resp.Body.Close()
		if l := resp.Header.Get("Location"); l != "" {
			if loc, err = resolveURL(resp.Request.URL, l); err != nil {
				return err
			}
		}
		return nil
	}
	if expect.Size > 0 {
		resumes := 0
		for off := start; off < expect.Size; {
			n := min(r.o.chunkSize, expect.Size-off)
			header := http.Header{
				"Content-Type":  {"application/octet-stream"},
				"Content-Range": {fmt.Sprintf("%d-%d", off, off+n-1)},
			}
			err := patch(io.LimitReader(hr, n), n, header)
			if err == nil {
				off += n
				note(loc)
				continue
			}
			switch {
			case hr.err != nil:
				return fail(hr.err) // the source failed
			case hr.eof && hr.n < off+n:
				return fail(fmt.Errorf("%d bytes, descriptor says %d: %w", hr.n, expect.Size, errMismatch))
			case open == nil || resumes >= r.o.retries || ctx.Err() != nil || !resumable(err):
				return fail(err)
			}
			if werr := r.wait(ctx, resumes, ""); werr != nil {
				return fail(werr)
			}
			resumes++
			at, nloc, mounted, serr := r.resumeUpload(ctx, loc, expect.Digest, hr.n)
			switch {
			case serr != nil:
				return fail(fmt.Errorf("%w; resuming: %w", err, serr))
			case mounted:
				return expect, nil
			}
			loc = nloc
			note(loc)
			nhr, rc, rerr := reopen(ctx, hr, at, alg, open)
			if rerr != nil {
				return fail(fmt.Errorf("%w; resuming: %w", err, rerr))
			}
			if reopened != nil {
				reopened.Close()
			}
			hr, reopened, verified, off = nhr, rc, false, at
		}
		var one [1]byte
		if k, _ := io.ReadFull(hr, one[:]); k > 0 {
			return fail(fmt.Errorf("longer than %d bytes: %w", expect.Size, errMismatch))
		}
		if hr.err != nil {
			return fail(hr.err)
		}
	} else {
		if err := patch(hr, -1, http.Header{"Content-Type": {"application/octet-stream"}}); err != nil {
			return fail(err)
		}
	}
	got := expect.Digest
	if !verified {
		got = digest.NewDigest(alg, hr.h)
	}
	if expect.Digest != "" && got != expect.Digest {
		return fail(fmt.Errorf("content is %s: %w", got, errMismatch))
	}
	if expect.Size > 0 && hr.n != expect.Size {
		return fail(fmt.Errorf("%d bytes, descriptor says %d: %w", hr.n, expect.Size, errMismatch))
	}
	if err := r.commit(ctx, loc, got, nil); err != nil {
		return fail(err)
	}
	expect.Digest, expect.Size = got, hr.n
	return expect, nil
}

// resumable reports whether a failed PATCH is worth continuing from the
// session's offset (or, where the session is gone, in a new one): the
// connection broke or stalled, or the registry answered 5xx, 429, 416 (it
// stands elsewhere), BLOB_UPLOAD_INVALID (it saw the chunk cut short, or,
// docker-registry with 404, holds other bytes than the upload URL's state
// says) or BLOB_UPLOAD_UNKNOWN; not a refusal of the upload itself.
func resumable(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Status >= 500 || e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestedRangeNotSatisfiable ||
			e.Code == "BLOB_UPLOAD_INVALID" || e.Code == "BLOB_UPLOAD_UNKNOWN"
	}
	return errors.Is(err, errStalled) || retryableErr(err)
}

// resumeUpload finds where the upload session loc stands after a broken
// PATCH, sent bytes having gone out: its offset and Location, or, when the
// session cannot be continued, a new session from 0 (mounted: the registry
// mounted the blob from elsewhere, the upload is done).
func (r *Repository) resumeUpload(ctx context.Context, loc string, d digest.Digest, sent int64) (at int64, nloc string, mounted bool, err error) {
	at, nloc, err = r.uploadOffset(ctx, loc)
	var se *Error
	if errors.As(err, &se) && (se.Status == http.StatusNotFound || se.Status == http.StatusBadRequest) {
		// The session cannot be continued: docker-registry keeps its
		// offset in the Location the broken PATCH never answered with,
		// and refuses the one before. Start over in a new session.
		r.cancelUpload(loc)
		if nloc, mounted, err = r.startUpload(ctx, d); err != nil || mounted {
			return 0, nloc, mounted, err
		}
		at = 0
	}
	if err == nil && at > sent {
		err = fmt.Errorf("registry says it has %d bytes, %d were sent: %w", at, sent, errdefs.ErrInvalid)
	}
	return at, nloc, false, err
}

// uploadOffset asks where upload session loc stands (GET on it,
// distribution-spec "Resuming an upload"... "Range: 0-<end-of-range>",
// inclusive): the bytes the registry holds, and the session's location
// from now on. "0-0" is read as none (docker-registry's answer for an
// empty session; were it one byte, the next chunk gets a 416).
func (r *Repository) uploadOffset(ctx context.Context, loc string) (int64, string, error) {
	resp, err := r.do(ctx, &request{method: http.MethodGet, url: loc, ok: []int{http.StatusNoContent, http.StatusOK}, what: "blob upload"})
	if err != nil {
		return 0, "", err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	var n int64
	if rg := resp.Header.Get("Range"); rg != "" {
		a, b, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(rg), "bytes="), "-")
		start, err1 := strconv.ParseInt(a, 10, 64)
		end, err2 := strconv.ParseInt(b, 10, 64)
		if !ok || err1 != nil || err2 != nil || start != 0 || end < 0 {
			return 0, "", fmt.Errorf("upload status: bad Range %q: %w", clip(rg), errdefs.ErrInvalid)
		}
		if end > 0 {
			n = end + 1
		}
	}
	if l := resp.Header.Get("Location"); l != "" {
		if loc, err = resolveURL(resp.Request.URL, l); err != nil {
			return 0, "", err
		}
	}
	return n, loc, nil
}

// reopen positions an upload's source at off, where the registry's
// session stands: the hash of the first off bytes (the one so far when it
// covers exactly those, else made again from open(0)) and open(off) for
// the rest, hashed from now on whatever the first reader verified.
func reopen(ctx context.Context, hr *hashReader, off int64, alg digest.Algorithm, open opener) (*hashReader, io.Closer, error) {
	h := hr.h
	if hr.skip || hr.n != off {
		h = alg.Hash()
		if off > 0 {
			rc, err := open(ctx, 0)
			if err != nil {
				return nil, nil, err
			}
			k, err := fsutil.Copy(h, fsutil.ContextReader(ctx, io.LimitReader(rc, off)))
			rc.Close()
			if err == nil && k != off {
				err = fmt.Errorf("source has %d bytes, %d expected: %w", k, off, errMismatch)
			}
			if err != nil {
				return nil, nil, err
			}
		}
	}
	rc, err := open(ctx, off)
	if err != nil {
		return nil, nil, err
	}
	return &hashReader{ctx: ctx, r: rc, h: h, n: off}, rc, nil
}
