package registry

import (
	"net/http"
	"time"
)

// Option adjusts New.
type Option func(*options)

type options struct {
	insecure   bool // --tls-verify=false
	creds      *credentials
	authFile   string
	certDir    string
	retries    int
	timeout    time.Duration
	push       bool
	mountFrom  string
	chunkSize  int64
	monolithic int64 // largest blob pushed with one PUT
	userAgent  string
	getenv     func(string) string
	transport  http.RoundTripper
	backoff    time.Duration
	upState    string // WithUploadState
}

// WithInsecure is --tls-verify=false: the server's certificate is not
// verified, and plain HTTP is used where HTTPS fails.
func WithInsecure() Option { return func(o *options) { o.insecure = true } }

// WithCredentials uses user and password (--creds) instead of looking
// them up in the auth files.
func WithCredentials(user, password string) Option {
	return func(o *options) { o.creds = &credentials{user: user, pass: password} }
}

// WithAuthFile reads credentials from file only (--authfile), instead of
// the default files (see New).
func WithAuthFile(file string) Option { return func(o *options) { o.authFile = file } }

// WithCertDir reads a CA (*.crt) and a client certificate (*.cert with
// its *.key) from dir (--cert-dir), as containers' certs.d directories
// hold them.
func WithCertDir(dir string) Option { return func(o *options) { o.certDir = dir } }

// WithRetries retries a request n times (--retry-times) after a connection
// error, a 429 or a 5xx, with exponential backoff (doubling from 500 ms),
// or after the time the registry's Retry-After asks (at most a minute).
func WithRetries(n int) Option { return func(o *options) { o.retries = n } }

// WithTimeout bounds the wait for a response's headers and each pause
// within a body (default DefaultTimeout): a stalled server fails the
// transfer instead of hanging it.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithPush asks for push access as well as pull when authenticating: the
// repository is a copy's destination.
func WithPush() Option { return func(o *options) { o.push = true } }

// WithMountFrom asks the registry to mount blobs from repository repo of
// the same registry instead of uploading them (spec.md#mounting-a-blob-from-another-repository);
// a registry that does not falls back to an upload.
func WithMountFrom(repo string) Option { return func(o *options) { o.mountFrom = repo } }

// WithChunkSize sets the size of the PATCH requests a blob larger than
// the monolithic limit is uploaded in (default DefaultChunkSize).
func WithChunkSize(n int64) Option { return func(o *options) { o.chunkSize = n } }

// WithUploadState keeps, in directory dir, the session of a chunked
// upload that failed for the network's sake or was interrupted (a file
// per repository and blob holding the session's location, mode 0600), so
// that the next PutBlobFrom of that blob to that repository continues it
// from the offset the registry reports instead of starting over; the file
// goes once the blob is pushed, or the session is found gone.
func WithUploadState(dir string) Option { return func(o *options) { o.upState = dir } }

// WithTransport sends requests through rt instead of the client's own
// transport (tests; then the TLS options do not apply).
func WithTransport(rt http.RoundTripper) Option { return func(o *options) { o.transport = rt } }

// WithGetenv looks environment variables (the auth files' locations) up
// through getenv instead of os.Getenv.
func WithGetenv(getenv func(string) string) Option { return func(o *options) { o.getenv = getenv } }

// Defaults.
const (
	DefaultTimeout   = 60 * time.Second
	DefaultChunkSize = 64 << 20
	// MaxManifestSize caps a manifest or index read or written (4 MiB, as
	// registries cap them).
	MaxManifestSize = 4 << 20
	// monolithicMax: a blob up to this size is pushed with one PUT of
	// bytes held in memory (verified before they are sent).
	monolithicMax = 1 << 20
	// maxRedirects bounds the redirects followed per request.
	maxRedirects = 5
)
