package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ocikit/ocikit/layout"
)

// Server serves the layouts under one root directory as a registry. It is
// an http.Handler; Close ends its upload sessions.
type Server struct {
	root     string
	readOnly bool
	// bodyIdle bounds how long a request body may stall.
	bodyIdle time.Duration
	auth     *htpasswd
	tls      *tls.Config
	log      *slog.Logger
	uploads  *uploads
	// createMu serializes the creation of repositories (layout.Init).
	createMu sync.Mutex
}

// Option adjusts New.
type Option func(*options) error

type options struct {
	readOnly      bool
	htpasswd      string
	certFile      string
	keyFile       string
	log           *slog.Logger
	uploadTimeout time.Duration
	bodyIdle      time.Duration
}

// WithReadOnly refuses every request that would change the root (push,
// delete) with 405 UNSUPPORTED.
func WithReadOnly() Option { return func(o *options) error { o.readOnly = true; return nil } }

// WithHtpasswd requires HTTP basic authentication for every request,
// checked against the bcrypt entries of the htpasswd file path (the
// format of Apache's htpasswd -B and of docker-registry's htpasswd auth).
func WithHtpasswd(path string) Option {
	return func(o *options) error { o.htpasswd = path; return nil }
}

// WithTLS makes Serve speak HTTPS with the certificate and key in these
// PEM files (loaded by New).
func WithTLS(certFile, keyFile string) Option {
	return func(o *options) error { o.certFile, o.keyFile = certFile, keyFile; return nil }
}

// WithLogger sets where the server logs internal errors (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) error { o.log = l; return nil } }

// WithUploadTimeout sets how long an upload session may stay idle before
// it is dropped with its temporary file (default 1h; must be positive).
func WithUploadTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("upload timeout %v: must be positive", d)
		}
		o.uploadTimeout = d
		return nil
	}
}

// WithBodyTimeout sets how long an upload's body may send nothing before
// the request is ended (default 2m; must be positive), so a stalled or
// slow-loris client does not hold a connection and its session forever.
func WithBodyTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("body timeout %v: must be positive", d)
		}
		o.bodyIdle = d
		return nil
	}
}

// uploadsDir is where upload sessions keep their temporary files, inside
// the root but outside every repository: no repository name can start
// with '.'.
const uploadsDir = ".uploads"

// New returns a server for the layouts under root (created if missing).
// Temporary files of upload sessions that a previous server left (after a
// crash) are removed.
func New(ctx context.Context, root string, opts ...Option) (*Server, error) {
	o := options{uploadTimeout: time.Hour, bodyIdle: 2 * time.Minute}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	s := &Server{root: root, readOnly: o.readOnly, log: o.log, bodyIdle: o.bodyIdle}
	var err error
	if o.htpasswd != "" {
		if s.auth, err = loadHtpasswd(o.htpasswd); err != nil {
			return nil, err
		}
	}
	if o.certFile != "" || o.keyFile != "" {
		cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
		if err != nil {
			return nil, fmt.Errorf("tls certificate: %w", err)
		}
		s.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("registry root: %w", err)
	}
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("registry root: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("registry root %s: not a directory", root)
	}
	if !o.readOnly {
		if s.uploads, err = newUploads(ctx, filepath.Join(root, uploadsDir), o.uploadTimeout); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Close ends every upload session and removes its temporary file.
func (s *Server) Close() error {
	if s.uploads != nil {
		s.uploads.close()
	}
	return nil
}

// nameRE is the repository name grammar of distribution-spec ("Pulling
// manifests"), anchored.
var nameRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)
})

// tagRE is the tag grammar of distribution-spec.
var tagRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
})

// maxNameLen follows the spec's implementers note (clients limit the
// host and name together to 255 characters).
const maxNameLen = 255

// checkName validates a repository name: the spec's grammar (so no "..",
// no leading '.' or '/', nothing outside the root), and no component
// reaching into a layout's own files (repository "a/blobs" would be the
// blobs directory of layout "a").
func (s *Server) checkName(name string) *apiError {
	if len(name) > maxNameLen || !nameRE().MatchString(name) {
		return newError(http.StatusBadRequest, codeNameInvalid, fmt.Sprintf("invalid repository name %q", clip(name)))
	}
	parts := strings.Split(name, "/")
	dir := s.root
	for i, p := range parts[:len(parts)-1] {
		dir = filepath.Join(dir, p)
		if _, err := os.Lstat(filepath.Join(dir, v1LayoutFile)); err != nil {
			continue
		}
		switch parts[i+1] {
		case "blobs", "index.json", v1LayoutFile:
			return newError(http.StatusBadRequest, codeNameInvalid,
				fmt.Sprintf("repository name %q reaches into the files of repository %q", clip(name), strings.Join(parts[:i+1], "/")))
		}
	}
	return nil
}

const v1LayoutFile = "oci-layout"

func (s *Server) repoDir(name string) string {
	return filepath.Join(s.root, filepath.FromSlash(name))
}

// openRepo opens the layout of an existing repository: NAME_UNKNOWN if
// there is none.
func (s *Server) openRepo(ctx context.Context, name string) (*layout.Layout, *apiError) {
	if e := s.checkName(name); e != nil {
		return nil, e
	}
	l, err := layout.Open(ctx, s.repoDir(name))
	if err != nil {
		if errors.Is(err, layout.ErrNotFound) || errors.Is(err, fs.ErrNotExist) ||
			errors.Is(err, layout.ErrInvalidLayout) && !s.isLayout(name) {
			return nil, newError(http.StatusNotFound, codeNameUnknown, fmt.Sprintf("repository %q not known to registry", name))
		}
		return nil, s.internal(err)
	}
	return l, nil
}

// isLayout reports whether the repository's directory has an oci-layout
// marker (so a broken layout is an internal error, not an unknown name).
func (s *Server) isLayout(name string) bool {
	_, err := os.Lstat(filepath.Join(s.repoDir(name), v1LayoutFile))
	return err == nil
}

// createRepo opens the layout of a repository, creating it if missing.
func (s *Server) createRepo(ctx context.Context, name string) (*layout.Layout, *apiError) {
	if e := s.checkName(name); e != nil {
		return nil, e
	}
	dir := s.repoDir(name)
	if s.isLayout(name) {
		return s.openRepo(ctx, name)
	}
	s.createMu.Lock()
	defer s.createMu.Unlock()
	if s.isLayout(name) {
		return s.openRepo(ctx, name)
	}
	// A directory that already holds a "blobs" entry is another
	// repository's parent, whose name would collide with the layout's
	// blobs directory.
	if _, err := os.Lstat(filepath.Join(dir, "blobs")); err == nil {
		return nil, newError(http.StatusBadRequest, codeNameInvalid,
			fmt.Sprintf("repository %q: its directory holds a repository named blobs", name))
	}
	l, err := layout.Init(ctx, dir)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return s.openRepo(ctx, name)
		}
		return nil, s.internal(err)
	}
	return l, nil
}

// internal logs err and returns a 500 that does not show it (it may name
// files).
func (s *Server) internal(err error) *apiError {
	if errors.Is(err, context.Canceled) {
		return newError(499, codeUnsupported, "request cancelled")
	}
	s.log.Error("registry: internal error", "err", err)
	return newError(http.StatusInternalServerError, codeUnsupported, "internal server error")
}

// ServeHTTP routes a distribution-spec request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	if s.auth != nil && !s.auth.allow(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="ocikit"`)
		writeError(w, r, newError(http.StatusUnauthorized, codeUnauthorized, "authentication required"))
		return
	}
	p := r.URL.Path
	if p == "/v2" || p == "/v2/" {
		s.ping(w, r)
		return
	}
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		writeError(w, r, newError(http.StatusNotFound, codeUnsupported, "not a distribution-spec endpoint"))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && s.readOnly {
		writeError(w, r, newError(http.StatusMethodNotAllowed, codeUnsupported, "the registry is read-only"))
		return
	}
	segs := strings.Split(rest, "/")
	n := len(segs)
	join := func(k int) string { return strings.Join(segs[:n-k], "/") }
	switch {
	case n >= 3 && segs[n-2] == "tags" && segs[n-1] == "list":
		s.tagsList(w, r, join(2))
	case n >= 4 && segs[n-3] == "blobs" && segs[n-2] == "uploads":
		s.upload(w, r, join(3), segs[n-1])
	case n >= 3 && segs[n-2] == "blobs" && segs[n-1] == "uploads":
		s.upload(w, r, join(2), "")
	case n >= 3 && segs[n-2] == "blobs":
		s.blob(w, r, join(2), segs[n-1])
	case n >= 3 && segs[n-2] == "manifests":
		s.manifest(w, r, join(2), segs[n-1])
	case n >= 3 && segs[n-2] == "referrers":
		s.referrers(w, r, join(2), segs[n-1])
	default:
		writeError(w, r, newError(http.StatusNotFound, codeUnsupported, "not a distribution-spec endpoint"))
	}
}

func (s *Server) ping(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", "2")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write([]byte("{}"))
	}
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, newError(http.StatusMethodNotAllowed, codeUnsupported, "method "+r.Method+" not allowed here"))
}

// body is r's body, each read of which must make progress within the
// server's body timeout (the connection's read deadline moves on with
// every read).
func (s *Server) body(w http.ResponseWriter, r *http.Request) io.Reader {
	return &idleReader{r: r.Body, rc: http.NewResponseController(w), idle: s.bodyIdle}
}

type idleReader struct {
	r    io.Reader
	rc   *http.ResponseController
	idle time.Duration
}

func (i *idleReader) Read(p []byte) (int, error) {
	_ = i.rc.SetReadDeadline(time.Now().Add(i.idle)) // unsupported (HTTP/2 test recorders): no bound
	return i.r.Read(p)
}

// clip shortens client-sized strings quoted in messages.
func clip(s string) string {
	if len(s) > 140 {
		return s[:140] + "..."
	}
	return s
}
