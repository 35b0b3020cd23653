package registry

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ocikit/ocikit/errdefs"
	digest "github.com/opencontainers/go-digest"
)

// Repository is one repository of a registry: a content.ImageSource,
// content.Stater, content.Ingester and content.Tagger over the
// distribution-spec HTTP API. It is safe for concurrent use.
type Repository struct {
	host, name string
	o          options
	client     *http.Client
	creds      func(ctx context.Context) (*credentials, error)

	mu        sync.Mutex
	base      string     // "https://HOST" or "http://HOST", once pinged
	probed    bool       // the first request was sent as the ping (probe)
	challenge *challenge // of /v2/, nil if none was asked
	tokens    map[string]string
	manifests map[digest.Digest][]byte        // read or written in this session
	subjects  map[digest.Digest]digest.Digest // manifest put → OCI-Subject answered
}

// New returns the client of repository repo at registry host
// (HOST[:PORT]). Nothing is sent yet; the first request finds the scheme
// (HTTPS; plain HTTP too for a loopback host or with WithInsecure) and how
// to authenticate (spec.md's /v2/ check). Credentials are, in order:
// WithCredentials; the auth file of WithAuthFile; else the first of
// $REGISTRY_AUTH_FILE, ${XDG_RUNTIME_DIR}/containers/auth.json and
// $DOCKER_CONFIG/config.json (default ~/.docker/config.json) that has an
// entry for the host (or host/repository), through its credential helper
// where it names one (credHelpers, credsStore); else none (anonymous).
func New(host, repo string, opts ...Option) (*Repository, error) {
	o := options{timeout: DefaultTimeout, chunkSize: DefaultChunkSize, monolithic: monolithicMax, getenv: os.Getenv, backoff: 500 * time.Millisecond, userAgent: "ocikit"}
	for _, opt := range opts {
		opt(&o)
	}
	if err := ValidateHost(host); err != nil {
		return nil, err
	}
	if err := ValidateRepository(repo); err != nil {
		return nil, err
	}
	if o.chunkSize <= 0 {
		o.chunkSize = DefaultChunkSize
	}
	rt := o.transport
	if rt == nil {
		t, err := newTransport(host, &o)
		if err != nil {
			return nil, err
		}
		rt = t
	}
	r := &Repository{host: host, name: repo, o: o, tokens: map[string]string{}, manifests: map[digest.Digest][]byte{}, subjects: map[digest.Digest]digest.Digest{}}
	r.client = &http.Client{
		Transport: rt,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return fmt.Errorf("more than %d redirects", maxRedirects)
			}
			return nil
		},
	}
	lookup, err := credentialLookup(&o, host, repo)
	if err != nil {
		return nil, err
	}
	r.creds = onceCtx(lookup) // a credential helper runs at most once
	return r, nil
}

// onceCtx runs f once, the first time it is needed.
func onceCtx(f func() (*credentials, error)) func(context.Context) (*credentials, error) {
	once := sync.OnceValues(f)
	return func(context.Context) (*credentials, error) { return once() }
}

// Name is HOST/REPO.
func (r *Repository) Name() string { return r.host + "/" + r.name }

// newTransport is a clone of http.DefaultTransport with the TLS settings
// of o and a bound on the wait for response headers.
func newTransport(host string, o *options) (*http.Transport, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = o.timeout
	t.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	cfg, err := tlsConfig(host, o)
	if err != nil {
		return nil, err
	}
	t.TLSClientConfig = cfg
	t.MaxIdleConnsPerHost = 16
	return t, nil
}

// request is one API call.
type request struct {
	method string
	url    string // absolute (a Location), or a path under the registry
	header http.Header
	// body is resent on retries; stream is read once (no retry, no
	// re-authentication: the upload was authorised by its POST).
	body   []byte
	stream io.Reader
	length int64 // of stream; -1 unknown
	ok     []int
	what   string // "blob", "manifest": for body-less errors
}

// ping finds the registry's scheme and authentication challenge once
// (GET /v2/, spec.md#determining-support). A loopback host is asked over
// plain HTTP first: it is allowed there anyway (no one can sit between
// client and server), local registries (docker-registry, `image serve`,
// test servers) mostly speak it, and a TLS handshake that a plain-HTTP
// server refuses costs a few milliseconds of a pull that has nothing to
// transfer. A TLS server answers that plain request with an error, and
// HTTPS is tried next. Elsewhere HTTPS comes first, and plain HTTP only
// with WithInsecure.
func (r *Repository) ping(ctx context.Context) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.base != "" {
		return r.base, nil
	}
	schemes := []string{"https"}
	switch {
	case isLoopback(r.host):
		schemes = []string{"http", "https"}
	case r.o.insecure:
		schemes = append(schemes, "http") // the only way plain HTTP is ever used
	}
	for attempt := 0; ; attempt++ {
		base, retry, err := r.tryPing(ctx, schemes)
		switch {
		case err == nil:
			r.base = base
			return base, nil
		case !retry || attempt >= r.o.retries:
			return "", err
		}
		if err := r.wait(ctx, attempt, ""); err != nil {
			return "", err
		}
	}
}

// probe sends rq, when it is a pull client's first request, without the
// ping: to the scheme the ping would try first (plain HTTP for a loopback
// host, else HTTPS), with no credentials (none are sent before a
// challenge asks for them). An answer that comes from a registry (a status
// rq takes; a 401 with a challenge, which the caller answers as it does
// any 401; or an error with distribution's API version header) settles
// the scheme as a ping would, saving its round trip, and is returned for
// the caller to handle; anything else (a network error, a server that does
// not answer as a registry) is dropped, and the caller pings as before. A
// client that pushes always pings: the challenge of /v2/ names no scope,
// so its first token carries push, where a resource's challenge would
// name the pull scope only.
func (r *Repository) probe(ctx context.Context, rq *request) *http.Response {
	if r.o.push || rq.stream != nil || !strings.HasPrefix(rq.url, "/") {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock() // concurrent first requests wait, as for a ping
	if r.base != "" || r.probed {
		return nil
	}
	r.probed = true
	base := "https://" + r.host
	if isLoopback(r.host) {
		base = "http://" + r.host
	}
	var body io.Reader
	length := int64(-1)
	if rq.body != nil {
		body, length = bytes.NewReader(rq.body), int64(len(rq.body))
	}
	resp, err := r.send(ctx, rq.method, base+rq.url, rq.header.Clone(), body, length)
	if err != nil {
		return nil
	}
	var c *challenge
	if resp.StatusCode == http.StatusUnauthorized {
		c = pickChallenge(resp.Header.Values("WWW-Authenticate"))
	}
	switch {
	case slices.Contains(rq.ok, resp.StatusCode), c != nil,
		resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests && resp.Header.Get("Docker-Distribution-API-Version") != "":
		r.base = base
		return resp
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	return nil
}

// pingFailure is why one scheme did not answer as a registry.
type pingFailure struct {
	scheme string
	err    error
	retry  bool // worth asking again: a network error, 429, 5xx
}

// tryPing tries each scheme in turn: the base URL of the first that
// answers as a registry; else the error that says most (pingError), and
// whether it is worth retrying.
func (r *Repository) tryPing(ctx context.Context, schemes []string) (string, bool, error) {
	var fails []pingFailure
	for _, s := range schemes {
		base := s + "://" + r.host
		wctx, watch, cancel := r.watch(ctx)
		resp, err := r.send(wctx, http.MethodGet, base+"/v2/", nil, nil, -1)
		if err != nil {
			cancel()
			if ctx.Err() != nil {
				return "", false, ctx.Err()
			}
			err = stalled(wctx, err, r.o.timeout)
			fails = append(fails, pingFailure{s, err, retryableErr(err)})
			continue
		}
		resp.Body = watch(resp.Body)
		switch resp.StatusCode {
		case http.StatusOK, http.StatusUnauthorized:
			_, err := io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
			resp.Body.Close()
			cancel()
			if err != nil {
				return "", false, fmt.Errorf("GET %s/v2/: %w", base, err)
			}
			if c := pickChallenge(resp.Header.Values("WWW-Authenticate")); c != nil {
				r.challenge = c
			}
			return base, false, nil
		case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			fails = append(fails, pingFailure{s, responseError(resp, ""), true})
		default:
			fails = append(fails, pingFailure{s, fmt.Errorf("%s is not a registry (GET %s/v2/: %w)", r.host, base, responseError(resp, "")), false})
		}
		cancel()
	}
	f := pingError(fails)
	if len(schemes) == 1 {
		f.err = fmt.Errorf("%w (plain HTTP is tried only for loopback hosts or with tls-verify=false)", f.err)
	}
	return "", f.retry, f.err
}

// pingError picks, of the schemes that failed, the one whose error says
// what is wrong: HTTPS's, unless the server there does not speak TLS (its
// answer was no TLS record: it is a plain-HTTP server, and what it said
// over HTTP counts).
func pingError(fails []pingFailure) pingFailure {
	var plain, tlsf *pingFailure
	for i := range fails {
		if fails[i].scheme == "https" {
			tlsf = &fails[i]
		} else {
			plain = &fails[i]
		}
	}
	switch {
	case tlsf == nil:
		return *plain
	case plain != nil && notTLS(tlsf.err):
		return *plain
	}
	return *tlsf
}

// notTLS reports whether a TLS handshake failed because the server speaks
// plain HTTP (net/http says so only in words).
func notTLS(err error) bool {
	var rh tls.RecordHeaderError
	return errors.As(err, &rh) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")
}

// send is one HTTP exchange with the user agent set.
func (r *Repository) send(ctx context.Context, method, u string, header http.Header, body io.Reader, length int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, clip(u), err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", r.o.userAgent)
	if body != nil && length >= 0 {
		req.ContentLength = length
		if length == 0 {
			req.Body = http.NoBody
		}
	}
	resp, err := r.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = fmt.Errorf("%s %s: %w", method, clip(redact(ue.URL)), ue.Err)
		}
		return nil, err
	}
	return resp, nil
}

// redact drops a URL's query (upload state, signed-URL tokens) from
// messages.
func redact(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

// do sends rq, authenticating and retrying as needed, and returns the
// response if its status is one of rq.ok; any other answer is an *Error.
func (r *Repository) do(ctx context.Context, rq *request) (*http.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	first := r.probe(ctx, rq)
	base, err := r.ping(ctx)
	if err != nil {
		return nil, err
	}
	u := rq.url
	if strings.HasPrefix(u, "/") {
		u = base + u
	}
	reauthed := false
	replayable := rq.stream == nil
	for attempt := 0; ; attempt++ {
		resp := first // the probe's answer, in the first round
		first = nil
		if resp == nil {
			header := rq.header.Clone()
			if header == nil {
				header = http.Header{}
			}
			if sameHost(u, r.host) {
				if err := r.authorize(ctx, header, false); err != nil {
					return nil, err
				}
			}
			var body io.Reader
			length := int64(-1)
			switch {
			case rq.body != nil:
				body, length = bytes.NewReader(rq.body), int64(len(rq.body))
			case rq.stream != nil:
				body, length = rq.stream, rq.length
			}
			resp, err = r.send(ctx, rq.method, u, header, body, length)
			if err != nil {
				if ctx.Err() != nil {
					return nil, stalled(ctx, ctx.Err(), r.o.timeout)
				}
				if replayable && attempt < r.o.retries && retryableErr(err) {
					if err := r.wait(ctx, attempt, ""); err != nil {
						return nil, err
					}
					continue
				}
				return nil, err
			}
		}
		for _, s := range rq.ok {
			if resp.StatusCode == s {
				return resp, nil
			}
		}
		switch {
		case resp.StatusCode == http.StatusUnauthorized && !reauthed && replayable && sameHost(u, r.host):
			c := pickChallenge(resp.Header.Values("WWW-Authenticate"))
			io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
			resp.Body.Close()
			if c == nil {
				return nil, fmt.Errorf("%s %s: %w (and no usable WWW-Authenticate challenge)", rq.method, redact(u), errdefs.New(errdefs.ErrUnauthorized, "unauthorized"))
			}
			r.mu.Lock()
			r.challenge = c
			delete(r.tokens, r.scope(c))
			r.mu.Unlock()
			if err := r.authorize(ctx, http.Header{}, true); err != nil {
				return nil, err
			}
			reauthed = true
			attempt--
			continue
		case (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500) && replayable && attempt < r.o.retries:
			ra := resp.Header.Get("Retry-After")
			io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
			resp.Body.Close()
			if err := r.wait(ctx, attempt, ra); err != nil {
				return nil, err
			}
			continue
		}
		return nil, responseError(resp, rq.what)
	}
}

// sameHost reports whether u is on the registry's own host: credentials
// go there only, never to a host a Location or redirect names.
func sameHost(u, host string) bool {
	p, err := url.Parse(u)
	return err == nil && p.Host == host
}

// retryableErr reports whether a failed exchange is worth repeating: a
// network error, not a malformed request or a redirect loop.
func retryableErr(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// maxRetryAfter caps the wait a registry's Retry-After can ask.
const maxRetryAfter = time.Minute

// wait sleeps before retry attempt+1: Retry-After if the registry gave
// one (seconds or an HTTP date), else 500 ms doubled per attempt.
func (r *Repository) wait(ctx context.Context, attempt int, retryAfter string) error {
	d := r.o.backoff << min(attempt, 10)
	if retryAfter != "" {
		if s, err := strconv.Atoi(strings.TrimSpace(retryAfter)); err == nil && s >= 0 {
			d = time.Duration(s) * time.Second
		} else if t, err := http.ParseTime(retryAfter); err == nil {
			d = time.Until(t)
		}
	}
	d = max(0, min(d, maxRetryAfter))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// resolveURL resolves a Location header against the request's URL.
func resolveURL(base *url.URL, loc string) (string, error) {
	if loc == "" {
		return "", fmt.Errorf("registry sent no Location: %w", errdefs.ErrInvalid)
	}
	u, err := base.Parse(loc)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return "", fmt.Errorf("registry sent a bad Location %q: %w", clip(loc), errdefs.ErrInvalid)
	}
	return u.String(), nil
}
