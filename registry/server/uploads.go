package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ocikit/ocikit/internal/fsutil"
	"github.com/ocikit/ocikit/layout"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// maxSessions bounds the upload sessions open at once (each holds a file);
// past it a new one is refused with 429 TOOMANYREQUESTS.
const maxSessions = 1024

// uploads are the upload sessions in progress. Each keeps its bytes in a
// temporary file under dir, flocked while the session lives, so a second
// server on the same root never removes a live one.
type uploads struct {
	dir     string
	timeout time.Duration

	mu       sync.Mutex
	sessions map[string]*session
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

type session struct {
	id, repo string
	f        *os.File

	// mu is held by the request working on the session, so two requests
	// never interleave their chunks.
	mu   sync.Mutex
	size int64 // bytes received so far
	last time.Time
	dead bool
}

func newUploads(ctx context.Context, dir string, timeout time.Duration) (*uploads, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("upload directory: %w", err)
	}
	// Remove what a server that died left behind: files no live server
	// holds locked.
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("upload directory: %w", err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		if free, err := fsutil.TryLock(f); err == nil && free {
			os.Remove(p)
		}
		f.Close()
	}
	u := &uploads{dir: dir, timeout: timeout, sessions: map[string]*session{}, stop: make(chan struct{})}
	u.wg.Add(1)
	go u.janitor()
	return u, nil
}

// janitor drops sessions idle longer than the timeout.
func (u *uploads) janitor() {
	defer u.wg.Done()
	every := min(u.timeout/4, time.Minute)
	t := time.NewTicker(max(every, time.Second))
	defer t.Stop()
	for {
		select {
		case <-u.stop:
			return
		case now := <-t.C:
			u.mu.Lock()
			var idle []*session
			for _, s := range u.sessions {
				if s.mu.TryLock() {
					if now.Sub(s.last) > u.timeout {
						idle = append(idle, s)
					} else {
						s.mu.Unlock()
					}
				}
			}
			u.mu.Unlock()
			for _, s := range idle {
				u.remove(s)
				s.mu.Unlock()
			}
		}
	}
}

// close ends every session; calling it again does nothing.
func (u *uploads) close() {
	u.stopOnce.Do(func() { close(u.stop) })
	u.wg.Wait()
	u.mu.Lock()
	all := make([]*session, 0, len(u.sessions))
	for _, s := range u.sessions {
		all = append(all, s)
	}
	u.mu.Unlock()
	for _, s := range all {
		s.mu.Lock()
		u.remove(s)
		s.mu.Unlock()
	}
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// create starts a session for repository repo.
func (u *uploads) create(ctx context.Context, repo string) (*session, error) {
	u.mu.Lock()
	full := len(u.sessions) >= maxSessions
	u.mu.Unlock()
	if full {
		return nil, newError(http.StatusTooManyRequests, codeTooManyRequests, "too many uploads in progress")
	}
	id := newUUID()
	f, err := os.OpenFile(filepath.Join(u.dir, id), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if err := fsutil.Lock(ctx, f, true); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	s := &session{id: id, repo: repo, f: f, last: time.Now()}
	u.mu.Lock()
	u.sessions[id] = s
	u.mu.Unlock()
	return s, nil
}

// get returns the session id of repository repo, locked (the caller
// unlocks s.mu), or nil.
func (u *uploads) get(repo, id string) *session {
	u.mu.Lock()
	s := u.sessions[id]
	u.mu.Unlock()
	if s == nil || s.repo != repo {
		return nil
	}
	s.mu.Lock()
	if s.dead {
		s.mu.Unlock()
		return nil
	}
	s.last = time.Now()
	return s
}

// remove ends s (whose mu the caller holds) and deletes its file.
func (u *uploads) remove(s *session) {
	if s.dead {
		return
	}
	s.dead = true
	u.mu.Lock()
	delete(u.sessions, s.id)
	u.mu.Unlock()
	s.f.Close()
	os.Remove(s.f.Name())
}

var errChunkTooLong = errors.New("body longer than its Content-Range")

// write appends what r yields to the session: at most limit bytes when
// limit >= 0, and then r must be at its end.
func (s *session) write(r io.Reader, limit int64) error {
	if _, err := s.f.Seek(s.size, io.SeekStart); err != nil {
		return err
	}
	src := r
	if limit >= 0 {
		src = io.LimitReader(r, limit)
	}
	n, err := io.Copy(s.f, src)
	s.size += n
	if err != nil {
		return err
	}
	if limit >= 0 {
		var b [1]byte
		if k, _ := io.ReadFull(r, b[:]); k > 0 {
			return errChunkTooLong
		}
	}
	return nil
}

// rollback drops what was written past off.
func (s *session) rollback(off int64) error {
	s.size = off
	return s.f.Truncate(off)
}

// upload serves /v2/<name>/blobs/uploads/[<id>].
func (s *Server) upload(w http.ResponseWriter, r *http.Request, name, id string) {
	if id == "" {
		if r.Method != http.MethodPost {
			methodNotAllowed(w, r)
			return
		}
		s.startUpload(w, r, name)
		return
	}
	if e := s.checkName(name); e != nil {
		writeError(w, r, e)
		return
	}
	var sess *session
	if s.uploads != nil {
		sess = s.uploads.get(name, id)
	}
	if sess == nil {
		writeError(w, r, newError(http.StatusNotFound, codeBlobUploadUnknown, fmt.Sprintf("upload %q unknown to repository %q", clip(id), name)))
		return
	}
	defer sess.mu.Unlock()
	switch r.Method {
	case http.MethodGet:
		s.uploadStatus(w, name, sess, http.StatusNoContent)
	case http.MethodPatch:
		if e := s.receive(w, r, sess); e != nil {
			s.uploadError(w, r, name, sess, e)
			return
		}
		s.uploadStatus(w, name, sess, http.StatusAccepted)
	case http.MethodPut:
		s.finishUpload(w, r, name, sess)
	case http.MethodDelete:
		s.uploads.remove(sess)
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusNoContent)
	default:
		methodNotAllowed(w, r)
	}
}

// uploadStatus answers with the session's location and the range
// received (distribution-spec: "Range: 0-<end-of-range>"; "0-0" when
// nothing has been received, as docker-registry says).
func (s *Server) uploadStatus(w http.ResponseWriter, name string, sess *session, status int) {
	h := w.Header()
	h.Set("Location", "/v2/"+name+"/blobs/uploads/"+sess.id)
	h.Set("Range", fmt.Sprintf("0-%d", max(sess.size-1, 0)))
	h.Set("Docker-Upload-UUID", sess.id)
	h.Set("Content-Length", "0")
	w.WriteHeader(status)
}

// uploadError answers e; a 416 also says where the upload stands.
func (s *Server) uploadError(w http.ResponseWriter, r *http.Request, name string, sess *session, e *apiError) {
	if e.status == http.StatusRequestedRangeNotSatisfiable {
		h := w.Header()
		h.Set("Location", "/v2/"+name+"/blobs/uploads/"+sess.id)
		h.Set("Range", fmt.Sprintf("0-%d", max(sess.size-1, 0)))
		h.Set("Docker-Upload-UUID", sess.id)
	}
	writeError(w, r, e)
}

// parseContentRange reads a chunk's Content-Range: "<start>-<end>"
// (distribution-spec), also in RFC 9110's "bytes <start>-<end>/<len|*>"
// form that some clients send. Both ends are inclusive.
func parseContentRange(v string) (start, end int64, ok bool) {
	v = strings.TrimSpace(v)
	if rest, found := strings.CutPrefix(v, "bytes "); found {
		v, _, _ = strings.Cut(rest, "/")
	} else if rest, found := strings.CutPrefix(v, "bytes="); found {
		v = rest
	}
	a, b, found := strings.Cut(v, "-")
	if !found || a == "" || b == "" {
		return 0, 0, false
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, false
	}
	return start, end, true
}

// receive appends a request's body to the session. With Content-Range, the
// chunk must start where the upload stands (else 416, nothing read), its
// Content-Length must agree, and a complete body must be exactly that long
// (else the chunk is dropped). Without it the body is streamed. Either
// way, if the stream breaks, what arrived is kept, so the client can
// resume from the offset GET reports (distribution-spec: "Range:
// 0-<end-of-range>").
func (s *Server) receive(w http.ResponseWriter, r *http.Request, sess *session) *apiError {
	body := s.body(w, r)
	cr := r.Header.Get("Content-Range")
	if cr == "" {
		if err := sess.write(body, -1); err != nil {
			return s.bodyError("reading the upload body", err)
		}
		return nil
	}
	start, end, ok := parseContentRange(cr)
	if !ok {
		return newError(http.StatusBadRequest, codeBlobUploadInvalid, fmt.Sprintf("malformed Content-Range %q", clip(cr)))
	}
	if start != sess.size {
		return newError(http.StatusRequestedRangeNotSatisfiable, codeBlobUploadInvalid,
			fmt.Sprintf("chunk starts at %d, the upload is at %d", start, sess.size))
	}
	length := end - start + 1
	if r.ContentLength >= 0 && r.ContentLength != length {
		return newError(http.StatusBadRequest, codeBlobUploadInvalid,
			fmt.Sprintf("Content-Length %d does not match Content-Range %d-%d", r.ContentLength, start, end))
	}
	err := sess.write(body, length)
	var pe *fs.PathError
	switch {
	case err == nil && sess.size != end+1:
		err = fmt.Errorf("body of %d bytes, Content-Range says %d", sess.size-start, length)
	case err == nil:
		return nil
	case !errors.Is(err, errChunkTooLong) && !errors.As(err, &pe):
		// The stream broke (the client or the network went away, or
		// it stalled): what arrived is kept, as for a streamed PATCH and
		// as docker-registry does, so the client continues from the
		// offset GET reports rather than resending the whole chunk.
		return s.bodyError("chunk cut short at byte "+strconv.FormatInt(sess.size, 10), err)
	}
	// The client sent something else than it announced, or the disk
	// failed: the chunk is dropped whole.
	if rerr := sess.rollback(start); rerr != nil {
		return s.internal(rerr)
	}
	return s.bodyError("chunk dropped", err)
}

// bodyError reports a failed upload body: the client's fault (400), or,
// when writing the session's file failed (disk full), the server's (500,
// logged, the file's name not shown).
func (s *Server) bodyError(what string, err error) *apiError {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return s.internal(err)
	}
	return newError(http.StatusBadRequest, codeBlobUploadInvalid, what+": "+err.Error())
}

// startUpload serves POST /v2/<name>/blobs/uploads/: a cross-repository
// mount (?mount=&from=), a monolithic upload (?digest=), or a new session.
func (s *Server) startUpload(w http.ResponseWriter, r *http.Request, name string) {
	ctx := r.Context()
	q := r.URL.Query()
	l, e := s.createRepo(ctx, name)
	if e != nil {
		writeError(w, r, e)
		return
	}
	if m := q.Get("mount"); m != "" {
		d, e := parseDigest(m)
		if e != nil {
			writeError(w, r, e)
			return
		}
		if s.mount(ctx, l, name, d, q.Get("from")) {
			blobCreated(w, name, d)
			return
		}
		// Not mountable: start a session instead (spec: "it SHOULD
		// return a 202").
	} else if dg := q.Get("digest"); dg != "" {
		d, e := parseDigest(dg)
		if e != nil {
			writeError(w, r, e)
			return
		}
		if e := s.putBlob(ctx, l, s.body(w, r), d, r.ContentLength); e != nil {
			writeError(w, r, e)
			return
		}
		blobCreated(w, name, d)
		return
	}
	sess, err := s.uploads.create(ctx, name)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			writeError(w, r, ae)
		} else {
			writeError(w, r, s.internal(err))
		}
		return
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	s.uploadStatus(w, name, sess, http.StatusAccepted)
}

// putBlob stores a blob whose digest the client named, verified.
func (s *Server) putBlob(ctx context.Context, l *layout.Layout, r io.Reader, d digest.Digest, size int64) *apiError {
	expect := v1.Descriptor{Digest: d}
	if size > 0 {
		expect.Size = size
	}
	if _, err := l.PutBlob(ctx, r, expect); err != nil {
		switch {
		case errors.Is(err, layout.ErrDigestMismatch):
			return newError(http.StatusBadRequest, codeDigestInvalid, fmt.Sprintf("content does not match digest %s", d))
		case errors.Is(err, layout.ErrSizeMismatch):
			return newError(http.StatusBadRequest, codeSizeInvalid, fmt.Sprintf("content of blob %s does not have the announced size", d))
		case errors.Is(err, context.Canceled), errors.Is(err, io.ErrUnexpectedEOF):
			return newError(http.StatusBadRequest, codeBlobUploadInvalid, "upload body ended early")
		}
		return s.internal(err)
	}
	return nil
}

func blobCreated(w http.ResponseWriter, name string, d digest.Digest) {
	h := w.Header()
	h.Set("Location", "/v2/"+name+"/blobs/"+string(d))
	h.Set("Docker-Content-Digest", string(d))
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

// finishUpload serves the closing PUT: an optional last chunk, then the
// whole content is verified against ?digest= and stored.
func (s *Server) finishUpload(w http.ResponseWriter, r *http.Request, name string, sess *session) {
	ctx := r.Context()
	dg := r.URL.Query().Get("digest")
	if dg == "" {
		writeError(w, r, newError(http.StatusBadRequest, codeDigestInvalid, "the closing PUT needs ?digest="))
		return
	}
	d, e := parseDigest(dg)
	if e != nil {
		writeError(w, r, e)
		return
	}
	if r.ContentLength != 0 || r.Header.Get("Content-Range") != "" {
		if e := s.receive(w, r, sess); e != nil {
			s.uploadError(w, r, name, sess, e)
			return
		}
	}
	l, e := s.openRepo(ctx, name)
	if e != nil {
		writeError(w, r, e)
		return
	}
	e = s.putBlob(ctx, l, io.NewSectionReader(sess.f, 0, sess.size), d, sess.size)
	if e != nil && e.code == codeSizeInvalid {
		e = newError(http.StatusBadRequest, codeDigestInvalid, fmt.Sprintf("content does not match digest %s", d))
	}
	if e != nil {
		if e.status < 500 {
			s.uploads.remove(sess)
		}
		writeError(w, r, e)
		return
	}
	s.uploads.remove(sess)
	blobCreated(w, name, d)
}

// mount makes blob d of another repository (from, or any repository when
// from is empty) part of l, reporting whether it could: a hard link where
// the layouts share a file system (layout.LinkBlob), else a verified copy.
func (s *Server) mount(ctx context.Context, l *layout.Layout, name string, d digest.Digest, from string) bool {
	if _, err := l.StatBlob(ctx, d); err == nil {
		return true
	}
	var src *layout.Layout
	if from != "" {
		if from == name {
			return false
		}
		var e *apiError
		if src, e = s.openRepo(ctx, from); e != nil {
			return false
		}
	} else {
		src = s.findBlob(ctx, d, name)
		if src == nil {
			return false
		}
	}
	if _, err := l.LinkBlob(ctx, src, d); err != nil {
		if !errors.Is(err, layout.ErrNotFound) {
			s.log.Warn("registry: mount failed", "blob", d, "from", from, "err", err)
		}
		return false
	}
	return true
}

// maxMountSearch bounds the directories an anonymous mount looks through.
const maxMountSearch = 10000

// findBlob looks for blob d in the repositories under the root (but
// name's), for a mount without from= (spec: "The registry MAY treat the
// from parameter as optional, and it MAY cross-mount the blob if it can be
// found").
func (s *Server) findBlob(ctx context.Context, d digest.Digest, name string) *layout.Layout {
	var found *layout.Layout
	visited := 0
	self := s.repoDir(name)
	filepath.WalkDir(s.root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.IsDir() {
			return nil
		}
		visited++
		if visited > maxMountSearch || ctx.Err() != nil {
			return fs.SkipAll
		}
		base := e.Name()
		if p != s.root && (strings.HasPrefix(base, ".") || base == "blobs") {
			return fs.SkipDir
		}
		if p == self {
			return nil
		}
		if _, err := os.Lstat(filepath.Join(p, v1LayoutFile)); err != nil {
			return nil
		}
		l, err := layout.Open(ctx, p)
		if err != nil {
			return nil
		}
		if _, err := l.StatBlob(ctx, d); err == nil {
			found = l
			return fs.SkipAll
		}
		return nil
	})
	return found
}
