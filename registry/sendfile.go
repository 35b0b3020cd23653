package registry

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/internal/fsutil"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// blobFile is an upload source that is a regular file read from its
// start (a layout's blob reader, before anything was read from it).
type blobFile interface {
	BlobFile() *os.File
}

// sourceFile is rd's file when the upload can be sent from it with
// sendfile(2): rd offers one (blobFile) and the file can be opened again
// for each request (reopenFile).
func sourceFile(rd io.Reader) *os.File {
	bf, ok := rd.(blobFile)
	if !ok || !canReopen {
		return nil
	}
	return bf.BlobFile()
}

// streamFile is stream for a source that is a file (sourceFile) of the
// descriptor's size: the last PATCH (the only one for a blob up to the
// chunk size) sends its range of the file with sendfile(2) - its body is
// the file opened again at that offset, which the HTTP client sends and
// closes - so those bytes do not pass through this process. The source
// itself is read meanwhile, in another goroutine, to its end: that is its
// check (a content.VerifiedReader fails there unless the content is
// expect's; any other is hashed here) and what a progress wrapper counts.
// The upload is committed only once size and digest match expect (else
// the caller deletes the session). A chunk that fails for the network's
// or the registry's sake is resumed as stream does (open non-nil,
// WithRetries times): from the offset the registry reports, or from the
// start in a new session.
func (r *Repository) streamFile(ctx context.Context, loc string, rd io.Reader, f *os.File, expect v1.Descriptor, alg digest.Algorithm, open opener, note func(string)) (v1.Descriptor, error) {
	type sum struct {
		d   digest.Digest
		n   int64
		err error
	}
	hctx, hcancel := context.WithCancel(ctx)
	done := make(chan sum, 1)
	go func() {
		verified := content.Verified(rd, expect)
		h := alg.Hash()
		var w io.Writer = h
		if verified {
			w = io.Discard
		}
		// One byte past the size, to see a source that is longer.
		n, err := fsutil.Copy(w, fsutil.ContextReader(hctx, io.LimitReader(rd, expect.Size+1)))
		d := expect.Digest
		if !verified {
			d = digest.NewDigest(alg, h)
		}
		done <- sum{d, n, err}
	}()
	var got *sum
	result := func() sum {
		if got == nil {
			s := <-done
			got = &s
		}
		return *got
	}
	defer func() { hcancel(); result() }() // the goroutine is done with rd
	if note == nil {
		note = func(string) {}
	}
	fail := func(err error) (v1.Descriptor, error) {
		return v1.Descriptor{}, fmt.Errorf("blob %s: upload: %w", expect.Digest, err)
	}
	// Only a file of the descriptor's size is sent: the last chunk goes
	// to the file's end.
	if st, err := f.Stat(); err != nil {
		return fail(err)
	} else if st.Size() != expect.Size {
		return fail(fmt.Errorf("%d bytes, descriptor says %d: %w", st.Size(), expect.Size, errMismatch))
	}
	resumes := 0
	for off := int64(0); off < expect.Size; {
		n := min(r.o.chunkSize, expect.Size-off)
		g, err := reopenFile(f, off)
		if err != nil {
			return fail(err)
		}
		// The HTTP client sends a file body with sendfile(2), and then
		// reads it to its end to check that it has no more than the
		// Content-Length: only the last chunk can be the file itself; an
		// earlier one is read through (as stream does).
		var body io.Reader = g
		if off+n < expect.Size {
			body = io.LimitReader(g, n)
		}
		header := http.Header{
			"Content-Type":  {"application/octet-stream"},
			"Content-Range": {fmt.Sprintf("%d-%d", off, off+n-1)},
		}
		resp, err := r.do(ctx, &request{method: http.MethodPatch, url: loc, header: header, stream: body, length: n, ok: []int{http.StatusAccepted, http.StatusNoContent}})
		g.Close() // the client closes it too, unless it was never sent
		if err == nil {
			resp.Body.Close()
			if l := resp.Header.Get("Location"); l != "" {
				if loc, err = resolveURL(resp.Request.URL, l); err != nil {
					return fail(err)
				}
			}
			off += n
			note(loc)
			continue
		}
		if open == nil || resumes >= r.o.retries || ctx.Err() != nil || !resumable(err) {
			return fail(err)
		}
		if werr := r.wait(ctx, resumes, ""); werr != nil {
			return fail(werr)
		}
		resumes++
		at, nloc, mounted, serr := r.resumeUpload(ctx, loc, expect.Digest, off+n)
		switch {
		case serr != nil:
			return fail(fmt.Errorf("%w; resuming: %w", err, serr))
		case mounted:
			return expect, nil
		}
		loc, off = nloc, at
		note(loc)
	}
	s := result()
	switch {
	case s.err != nil:
		return fail(s.err)
	case s.n > expect.Size:
		return fail(fmt.Errorf("longer than %d bytes: %w", expect.Size, errMismatch))
	case s.n != expect.Size:
		return fail(fmt.Errorf("%d bytes, descriptor says %d: %w", s.n, expect.Size, errMismatch))
	case s.d != expect.Digest:
		return fail(fmt.Errorf("content is %s: %w", s.d, errMismatch))
	}
	if err := r.commit(ctx, loc, expect.Digest, nil); err != nil {
		return fail(err)
	}
	return expect, nil
}
