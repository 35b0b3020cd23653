package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "ocikit test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// Serve speaks HTTPS with a certificate, and when its context ends it
// lets a request in flight finish, returns nil and ends the sessions.
func TestServeTLSAndShutdown(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	root := t.TempDir()
	s, err := New(context.Background(), root, WithTLS(certFile, keyFile))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	base := "https://" + ln.Addr().String()
	res, err := client.Post(base+"/v2/t/blobs/uploads/", "", nil)
	if err != nil || res.StatusCode != 202 {
		t.Fatalf("POST over TLS: %v %v", res, err)
	}
	res.Body.Close()
	loc := res.Header.Get("Location")

	// A streamed PATCH is in flight when the context ends.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("PATCH", base+loc, pr)
	patched := make(chan *http.Response, 1)
	go func() {
		res, err := client.Do(req)
		if err != nil {
			t.Errorf("PATCH in flight during shutdown: %v", err)
		}
		patched <- res
	}()
	pw.Write([]byte(strings.Repeat("x", 1000)))
	// Wait until the server works on the PATCH (it holds the session).
	s.uploads.mu.Lock()
	sess := s.uploads.sessions[loc[strings.LastIndexByte(loc, '/')+1:]]
	s.uploads.mu.Unlock()
	for sess.mu.TryLock() {
		sess.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	cancel()
	pw.Write([]byte("end"))
	pw.Close()
	if res := <-patched; res == nil || res.StatusCode != 202 || res.Header.Get("Range") != "0-1002" {
		t.Errorf("PATCH across shutdown: %+v", res)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, uploadsDir)); len(ents) != 0 {
		t.Errorf("%d upload files after shutdown", len(ents))
	}
	if _, err := client.Get(base + "/v2/"); err == nil {
		t.Error("still serving after shutdown")
	}
	// A key that does not match the certificate fails New, not Serve.
	_, otherKey, _ := selfSigned(t)
	if _, err := New(context.Background(), t.TempDir(), WithTLS(certFile, otherKey)); err == nil {
		t.Error("New accepted a certificate with another key")
	}
}

// A body that stalls is cut off after the body timeout; what arrived
// stays in the session, which goes on.
func TestStalledBody(t *testing.T) {
	tr := newRegistry(t, WithBodyTimeout(200*time.Millisecond))
	loc := tr.startUpload("slow")
	pr, pw := io.Pipe()
	preq, _ := http.NewRequest("PATCH", tr.http.URL+loc, pr)
	done := make(chan error, 1)
	go func() {
		res, err := http.DefaultClient.Do(preq)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	pw.Write([]byte("first part"))
	<-done // the server gave up on the stalled body
	pw.Close()
	r := tr.expect(req{method: "GET", path: loc}, 204, "")
	if r.header.Get("Range") != "0-9" {
		t.Errorf("Range after a stalled body: %q, want 0-9", r.header.Get("Range"))
	}
}
