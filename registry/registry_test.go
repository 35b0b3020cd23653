package registry

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocikit/ocikit/content/contenttest"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/internal/registrytest"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestParseChallenges(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []challenge
	}{
		{`Bearer realm="https://auth.example/token",service="reg.example",scope="repository:a/b:pull"`,
			[]challenge{{"bearer", map[string]string{"realm": "https://auth.example/token", "service": "reg.example", "scope": "repository:a/b:pull"}}}},
		{`Basic realm="Registry Realm"`, []challenge{{"basic", map[string]string{"realm": "Registry Realm"}}}},
		{`basic`, []challenge{{"basic", map[string]string{}}}},
		{`Basic realm="a", Bearer realm="https://t/", service=x`,
			[]challenge{{"basic", map[string]string{"realm": "a"}}, {"bearer", map[string]string{"realm": "https://t/", "service": "x"}}}},
		{`Bearer realm = "q\"uote\\d" , scope="repository:a:pull,push"`,
			[]challenge{{"bearer", map[string]string{"realm": `q"uote\d`, "scope": "repository:a:pull,push"}}}},
		{`Negotiate dG9rZW42OA==`, []challenge{{"negotiate", map[string]string{}}, {"dG9rZW42OA", map[string]string{}}}[:1]},
		{`Bearer realm="unterminated`, []challenge{{"bearer", map[string]string{"realm": "unterminated"}}}},
		{``, nil},
		{`,,, ,`, nil},
	} {
		got := parseChallenges(tt.in)
		if tt.in == `Negotiate dG9rZW42OA==` {
			if len(got) == 0 || got[0].scheme != "negotiate" {
				t.Errorf("parseChallenges(%q) = %+v", tt.in, got)
			}
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseChallenges(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	if c := pickChallenge([]string{`Basic realm="a"`, `Bearer realm="https://t/"`}); c == nil || c.scheme != "bearer" {
		t.Errorf("pickChallenge prefers %+v, want bearer", c)
	}
	if c := pickChallenge([]string{`Bearer service="no realm"`, `Digest realm="x"`}); c != nil {
		t.Errorf("pickChallenge took %+v, want none", c)
	}
}

func FuzzParseChallenges(f *testing.F) {
	for _, s := range []string{`Bearer realm="https://a/t",service="s",scope="repository:x:pull"`, `Basic realm="r"`, `Basic a=b, Bearer realm="x\"y"`, `x=`, `"`, `Negotiate abc==`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range parseChallenges(s) {
			if c.scheme == "" || c.scheme != strings.ToLower(c.scheme) {
				t.Fatalf("parseChallenges(%q): scheme %q", s, c.scheme)
			}
			for k := range c.params {
				if k == "" || k != strings.ToLower(k) {
					t.Fatalf("parseChallenges(%q): param %q", s, k)
				}
			}
		}
		pickChallenge([]string{s})
	})
}

// helperScript installs a credential helper docker-credential-NAME in a
// directory put first on PATH, answering get for host with user/secret.
func helperScript(t *testing.T, name, host, user, secret string) {
	t.Helper()
	dir := t.TempDir()
	script := fmt.Sprintf(`#!/bin/sh
[ "$1" = get ] || exit 1
read server
if [ "$server" = %q ]; then
	printf '{"ServerURL":"%%s","Username":%q,"Secret":%q}' "$server"
else
	echo "credentials not found in native keychain"
	exit 1
fi
`, host, user, secret)
	if err := os.WriteFile(filepath.Join(dir, "docker-credential-"+name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
}

func TestCredentials(t *testing.T) {
	helperScript(t, "regclienttest", "helper.example", "hu", "hs")
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// base64("u1:p1"), base64("u2:p:2"), base64("u3:p3")
	write("home/.docker/config.json", `{"auths":{
		"https://reg.example/v1/":{"auth":"dTE6cDE="},
		"reg.example/team":{"auth":"dTI6cDoy"},
		"other.example:5000":{"username":"u3","password":"p3"}},
		"credHelpers":{"helper.example":"regclienttest"}}`)
	containers := write("run/containers/auth.json", `{"auths":{"reg.example":{"auth":"Y291OmNwMQ=="}}}`) // cou:cp1
	store := write("store.json", `{"credsStore":"regclienttest"}`)
	bad := write("bad.json", `{"auths":`)
	env := func(m map[string]string) Option {
		return WithGetenv(func(k string) string { return m[k] })
	}
	home := map[string]string{"HOME": filepath.Join(dir, "home")}
	for _, tt := range []struct {
		name       string
		host, repo string
		opts       []Option
		user, pass string
		kind       error
	}{
		{"docker legacy key", "reg.example", "x/y", []Option{env(home)}, "u1", "p1", nil},
		{"most specific key", "reg.example", "team/app", []Option{env(home)}, "u2", "p:2", nil},
		{"key prefix is by component", "reg.example", "teamster", []Option{env(home)}, "u1", "p1", nil},
		{"username and password", "other.example:5000", "r", []Option{env(home)}, "u3", "p3", nil},
		{"credHelpers", "helper.example", "r", []Option{env(home)}, "hu", "hs", nil},
		{"no entry", "none.example", "r", []Option{env(home)}, "", "", nil},
		{"XDG_RUNTIME_DIR first", "reg.example", "r", []Option{env(map[string]string{"HOME": home["HOME"], "XDG_RUNTIME_DIR": filepath.Join(dir, "run")})}, "cou", "cp1", nil},
		{"REGISTRY_AUTH_FILE first", "helper.example", "r", []Option{env(map[string]string{"HOME": home["HOME"], "REGISTRY_AUTH_FILE": containers})}, "hu", "hs", nil},
		{"--authfile only", "reg.example", "team/app", []Option{env(home), WithAuthFile(containers)}, "cou", "cp1", nil},
		{"credsStore", "helper.example", "r", []Option{WithAuthFile(store)}, "hu", "hs", nil},
		{"credsStore, not there", "reg.example", "r", []Option{WithAuthFile(store)}, "", "", nil},
		{"--creds wins", "reg.example", "r", []Option{env(home), WithCredentials("c", "d")}, "c", "d", nil},
		{"malformed file", "reg.example", "r", []Option{WithAuthFile(bad)}, "", "", errdefs.ErrInvalid},
		{"missing --authfile", "reg.example", "r", []Option{WithAuthFile(filepath.Join(dir, "none"))}, "", "", os.ErrNotExist},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(tt.host, tt.repo, tt.opts...)
			if tt.kind != nil {
				if !errors.Is(err, tt.kind) {
					t.Fatalf("New: %v, want kind %v", err, tt.kind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c, err := r.creds(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var user, pass string
			if c != nil {
				user, pass = c.user, c.pass
			}
			if user != tt.user || pass != tt.pass {
				t.Fatalf("credentials %q:%q, want %q:%q", user, pass, tt.user, tt.pass)
			}
		})
	}
}

// TestBearer: the token flow asks the realm once per scope, with the
// credentials, and sends the token to the registry only.
func TestBearer(t *testing.T) {
	var tokens atomic.Int64
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			tokens.Add(1)
			u, p, ok := r.BasicAuth()
			if !ok || u != "me" || p != "pw" || r.URL.Query().Get("service") != "svc" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			fmt.Fprintf(w, `{"access_token":"tok-%s"}`, strings.ReplaceAll(r.URL.Query().Get("scope"), ":", "-"))
			return
		}
		scope := "repository:a/b:pull"
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			scope = "repository:a/b:pull,push"
		}
		if r.Header.Get("Authorization") != "Bearer tok-"+strings.ReplaceAll(scope, ":", "-") && r.URL.Path != "/v2/" {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s/token",service="svc",scope="%s"`, srv.URL, scope))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/v2/" {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s/token",service="svc"`, srv.URL))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Length", "3")
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	r, err := New(host, "a/b", WithCredentials("me", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if n, err := r.StatBlob(ctx, digest.Digest("sha256:"+strings.Repeat("a", 64))); err != nil || n != 3 {
			t.Fatalf("StatBlob = %d, %v", n, err)
		}
	}
	if n := tokens.Load(); n != 1 {
		t.Fatalf("%d token requests for one scope, want 1", n)
	}
	bad, err := New(host, "a/b", WithCredentials("me", "wrong"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.StatBlob(ctx, digest.Digest("sha256:"+strings.Repeat("a", 64))); !errors.Is(err, errdefs.ErrUnauthorized) {
		t.Fatalf("wrong password: %v, want kind unauthorized", err)
	}
}

// TestChunkedPush runs the ingester conformance with every blob pushed
// in PATCH chunks (no monolithic PUT), against docker-registry.
func TestChunkedPush(t *testing.T) {
	if testing.Short() {
		t.Skip("starts docker-registry")
	}
	reg := registrytest.Start(t, "", "")
	var seq atomic.Int64
	contenttest.TestIngester(t, func(t *testing.T) contenttest.Store {
		r, err := New(reg.Host, fmt.Sprintf("regclient/chunked%d", seq.Add(1)), WithPush(), WithChunkSize(10000))
		if err != nil {
			t.Fatal(err)
		}
		r.o.monolithic = 0
		return r
	})
}

func TestPlainHTTPOnlyForLoopback(t *testing.T) {
	for _, tt := range []struct {
		host string
		want bool
	}{
		{"127.0.0.1:5000", true}, {"localhost", true}, {"[::1]:5000", true}, {"127.1.2.3", true},
		{"reg.example", false}, {"10.0.0.1:5000", false}, {"localhost.example", false},
	} {
		if got := isLoopback(tt.host); got != tt.want {
			t.Errorf("isLoopback(%q) = %v", tt.host, got)
		}
	}
}

// TestTLS: a registry with a certificate of its own CA is trusted with
// WithCertDir holding the CA, or WithInsecure, and refused otherwise; a
// registry that is not up is retried WithRetries times.
func TestTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		w.Header().Set("Content-Length", "7")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	defer srv.Close()
	ca := t.TempDir()
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(filepath.Join(ca, "ca.crt"), pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "https://")
	d := digest.Digest("sha256:" + strings.Repeat("b", 64))
	for _, tt := range []struct {
		name string
		opts []Option
		ok   bool
	}{
		{"unknown CA", nil, false},
		{"--cert-dir", []Option{WithCertDir(ca)}, true},
		{"--tls-verify=false", []Option{WithInsecure()}, true},
		{"--cert-dir without certificates", []Option{WithCertDir(t.TempDir())}, false},
	} {
		r, err := New(host, "a/b", append(tt.opts, WithGetenv(func(string) string { return "" }))...)
		if err != nil {
			t.Fatal(err)
		}
		n, err := r.StatBlob(context.Background(), d)
		if tt.ok != (err == nil) || (tt.ok && n != 7) {
			t.Errorf("%s: StatBlob = %d, %v; want success %v", tt.name, n, err, tt.ok)
		}
		if err != nil && (!strings.Contains(err.Error(), "certificate") || strings.Contains(err.Error(), "\n")) {
			t.Errorf("%s: error %q does not say certificate on one line", tt.name, err)
		}
	}
}

// TestMount: with WithMountFrom a blob is mounted (one POST answered 201)
// and not uploaded; where the registry declines (202) it is uploaded.
func TestMount(t *testing.T) {
	data := []byte("mounted blob")
	d := digest.FromBytes(data)
	for _, accept := range []bool{true, false} {
		var uploads atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.URL.Path == "/v2/":
			case r.Method == http.MethodPost && r.URL.Query().Get("mount") == string(d) && r.URL.Query().Get("from") == "src/repo" && accept:
				w.WriteHeader(http.StatusCreated)
			case r.Method == http.MethodPost:
				w.Header().Set("Location", "/v2/dst/repo/blobs/uploads/u1")
				w.WriteHeader(http.StatusAccepted)
			case r.Method == http.MethodPut && r.URL.Query().Get("digest") == string(d):
				uploads.Add(1)
				w.WriteHeader(http.StatusCreated)
			default:
				w.WriteHeader(http.StatusBadRequest)
			}
		}))
		r, err := New(strings.TrimPrefix(srv.URL, "http://"), "dst/repo", WithMountFrom("src/repo"), WithGetenv(func(string) string { return "" }))
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.PutBlob(context.Background(), strings.NewReader(string(data)), ocispec.Descriptor{MediaType: "application/octet-stream", Digest: d, Size: int64(len(data))})
		srv.Close()
		if err != nil || got.Digest != d {
			t.Fatalf("mount accepted %v: PutBlob = %+v, %v", accept, got, err)
		}
		if want := map[bool]int64{true: 0, false: 1}[accept]; uploads.Load() != want {
			t.Fatalf("mount accepted %v: %d uploads, want %d", accept, uploads.Load(), want)
		}
	}
}

// TestMountBearer: behind token authentication a mounting push asks the
// token endpoint for the source repository's pull scope as well (a second
// scope parameter), and the registry, seeing it in the token, mounts
// instead of opening an upload (which it does for a token without it); a
// token service that refuses the pair gives the push scope alone, and the
// blob is uploaded.
func TestMountBearer(t *testing.T) {
	for _, refuse := range []bool{false, true} {
		testMountBearer(t, refuse)
	}
}

// testMountBearer: refuse makes the token service refuse a token for two
// scopes; then the push still works, by uploading.
func testMountBearer(t *testing.T, refuse bool) {
	data := []byte("mounted blob")
	d := digest.FromBytes(data)
	var uploads atomic.Int64
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			scopes := r.URL.Query()["scope"]
			sort.Strings(scopes)
			if refuse && len(scopes) > 1 {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			fmt.Fprintf(w, `{"token":%q}`, strings.Join(scopes, "|"))
			return
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		granted := map[string]bool{}
		for _, s := range strings.Split(tok, "|") {
			granted[s] = true
		}
		if !ok || !granted["repository:dst/repo:pull,push"] {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s/token",service="svc"`, srv.URL))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch {
		case r.URL.Path == "/v2/":
		case r.Method == http.MethodPost && r.URL.Query().Get("mount") == string(d) && granted["repository:src/repo:pull"]:
			w.WriteHeader(http.StatusCreated)
		case r.Method == http.MethodPost:
			w.Header().Set("Location", "/v2/dst/repo/blobs/uploads/u1")
			w.WriteHeader(http.StatusAccepted)
		case r.Method == http.MethodPut && r.URL.Query().Get("digest") == string(d):
			uploads.Add(1)
			w.WriteHeader(http.StatusCreated)
		default:
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	r, err := New(strings.TrimPrefix(srv.URL, "http://"), "dst/repo", WithPush(), WithMountFrom("src/repo"), WithGetenv(func(string) string { return "" }))
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.PutBlob(context.Background(), strings.NewReader(string(data)), ocispec.Descriptor{MediaType: "application/octet-stream", Digest: d, Size: int64(len(data))})
	if err != nil || got.Digest != d {
		t.Fatalf("PutBlob = %+v, %v", got, err)
	}
	if want := map[bool]int64{false: 0, true: 1}[refuse]; uploads.Load() != want {
		t.Fatalf("token service refusing two scopes %v: %d uploads, want %d", refuse, uploads.Load(), want)
	}
}

// TestClientCertificate: a registry that requires a client certificate
// accepts the *.cert/*.key pair of --cert-dir, and refuses without.
func TestClientCertificate(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "regclient test client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	clientCert, _ := x509.ParseCertificate(der)
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/" {
			w.Header().Set("Content-Length", "5")
		}
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	pool := x509.NewCertPool()
	pool.AddCert(clientCert)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	defer srv.Close()
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"ca.crt":      pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}),
		"client.cert": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"client.key":  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	caOnly := t.TempDir()
	os.WriteFile(filepath.Join(caOnly, "ca.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	host := strings.TrimPrefix(srv.URL, "https://")
	d := digest.Digest("sha256:" + strings.Repeat("c", 64))
	for _, tt := range []struct {
		dir string
		ok  bool
	}{{dir, true}, {caOnly, false}} {
		r, err := New(host, "a/b", WithCertDir(tt.dir), WithGetenv(func(string) string { return "" }))
		if err != nil {
			t.Fatal(err)
		}
		if n, err := r.StatBlob(context.Background(), d); tt.ok != (err == nil) || tt.ok && n != 5 {
			t.Errorf("cert dir with client certificate %v: StatBlob = %d, %v", tt.ok, n, err)
		}
	}
}
