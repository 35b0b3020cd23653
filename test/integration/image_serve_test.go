//go:build linux

package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocikit/ocikit/internal/testutil"
	"github.com/ocikit/ocikit/layout"
	digest "github.com/opencontainers/go-digest"
	"golang.org/x/crypto/bcrypt"
)

// `ocikit image serve` against real clients: skopeo copies to and from
// it, podman and containerd pull from it, and what was pushed is an
// ordinary layout.

// served is a running `ocikit image serve`.
type served struct {
	addr   string
	cmd    *exec.Cmd
	exited chan error
	killed bool
}

// kill ends the server with SIGKILL, as a crash would.
func (s *served) kill() {
	s.killed = true
	s.cmd.Process.Kill()
	<-s.exited
}

// startServe runs `ocikit image serve` on a free loopback port; at the end
// of the test it is stopped with SIGTERM, which must end it cleanly
// (graceful shutdown, exit status 0), unless the test killed it.
func startServe(t *testing.T, root string, args ...string) *served {
	t.Helper()
	bin := testutil.Binary(t)
	cmd := exec.Command(bin, append(append([]string{"image", "serve", "--addr", "127.0.0.1:0"}, args...), root)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(t.TempDir(), "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	srv := &served{cmd: cmd, exited: exited}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if _, a, ok := strings.Cut(line, " on http://"); ok {
				addrc <- a
			} else if _, a, ok := strings.Cut(line, " on https://"); ok {
				addrc <- a
			}
		}
		io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if srv.killed {
			logf.Close()
			return
		}
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("ocikit image serve after SIGTERM: %v", err)
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Errorf("ocikit image serve did not stop on SIGTERM")
		}
		logf.Close()
		if t.Failed() {
			data, _ := os.ReadFile(logf.Name())
			t.Logf("serve log:\n%s", data)
		}
	})
	select {
	case srv.addr = <-addrc:
		return srv
	case err := <-exited:
		t.Fatalf("ocikit image serve exited at start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("ocikit image serve did not print its address")
	}
	return nil
}

// serveImage builds the busybox image ocikit makes for the containerd
// test, as a layout (tag v1), and returns the layout and its manifest
// digest.
func serveImage(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	ctrArchive(t, testutil.Binary(t), dir)
	lay := filepath.Join(dir, "layout")
	l, err := layout.Open(context.Background(), lay)
	if err != nil {
		t.Fatal(err)
	}
	d, err := l.Lookup(context.Background(), "v1")
	if err != nil {
		t.Fatal(err)
	}
	return lay, string(d.Digest)
}

func uniqueName(prefix string) string {
	var b [4]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// lookupDigest is the digest tag names in the layout dir.
func lookupDigest(t *testing.T, dir, tag string) string {
	t.Helper()
	l, err := layout.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	d, err := l.Lookup(context.Background(), tag)
	if err != nil {
		t.Fatal(err)
	}
	return string(d.Digest)
}

// skopeo pushes to ocikit's registry and pulls back; the push is a layout
// ocikit reads and validates, the manifest digest survives both ways, and
// a layout placed under the root is published without an import.
func TestServeSkopeo(t *testing.T) {
	skopeo := testutil.RequireTool(t, "skopeo")
	bin := testutil.Binary(t)
	lay, digest := serveImage(t)
	root := t.TempDir()
	addr := startServe(t, root).addr

	runTool(t, skopeo, "copy", "-q", "--dest-tls-verify=false", "oci:"+lay+":v1", "docker://"+addr+"/serve/busybox:v1")
	pushed := filepath.Join(root, "serve", "busybox")
	if got := lookupDigest(t, pushed, "v1"); got != digest {
		t.Fatalf("pushed manifest %s, want %s", got, digest)
	}
	requireValid(t, pushed, "v1")
	if out := runTool(t, bin, "image", "ls", pushed); !strings.Contains(out, "v1") {
		t.Fatalf("ocikit image ls of the pushed layout:\n%s", out)
	}

	back := filepath.Join(t.TempDir(), "back")
	runTool(t, skopeo, "copy", "-q", "--src-tls-verify=false", "docker://"+addr+"/serve/busybox:v1", "oci:"+back+":v1")
	if got := lookupDigest(t, back, "v1"); got != digest {
		t.Fatalf("pulled manifest %s, want %s", got, digest)
	}
	checkReadByOcikit(t, back, "v1", 1)

	// Docker's schema 2 (skopeo converts the manifest): stored and served
	// under Docker's media types.
	runTool(t, skopeo, "copy", "-q", "--dest-tls-verify=false", "--format", "v2s2", "oci:"+lay+":v1", "docker://"+addr+"/serve/busybox:docker")
	raw := runTool(t, skopeo, "inspect", "--tls-verify=false", "--raw", "docker://"+addr+"/serve/busybox:docker")
	if !strings.Contains(raw, "application/vnd.docker.distribution.manifest.v2+json") {
		t.Fatalf("v2s2 manifest served as %s", raw)
	}
	checkReadByOcikit(t, pushed, "docker", 1)

	// A layout copied under the root is a repository at once.
	runTool(t, bin, "image", "copy", "-q", lay+":v1", filepath.Join(root, "published", "img")+":v2")
	out := runTool(t, skopeo, "inspect", "--tls-verify=false", "--raw", "docker://"+addr+"/published/img:v2")
	if !strings.Contains(out, "schemaVersion") {
		t.Fatalf("skopeo inspect of a published layout: %s", out)
	}
	tags := runTool(t, skopeo, "list-tags", "--tls-verify=false", "docker://"+addr+"/published/img")
	if !strings.Contains(tags, `"v2"`) {
		t.Fatalf("skopeo list-tags: %s", tags)
	}
}

// selfSignedPEM writes a certificate for 127.0.0.1 and its key.
func selfSignedPEM(t *testing.T) (certFile, keyFile string) {
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
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// Over HTTPS with --htpasswd, skopeo needs the credentials.
func TestServeSkopeoAuth(t *testing.T) {
	skopeo := testutil.RequireTool(t, "skopeo")
	lay, _ := serveImage(t)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(pw, []byte("alice:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	cert, key := selfSignedPEM(t)
	addr := startServe(t, root, "--htpasswd", pw, "--tls-cert", cert, "--tls-key", key).addr
	ref := "docker://" + addr + "/auth/busybox:v1"
	cmd := exec.Command(skopeo, "copy", "-q", "--dest-tls-verify=false", "oci:"+lay+":v1", ref)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(strings.ToLower(string(out)), "unauthorized") {
		t.Fatalf("push without credentials: %v\n%s", err, out)
	}
	runTool(t, skopeo, "copy", "-q", "--dest-tls-verify=false", "--dest-creds", "alice:s3cret", "oci:"+lay+":v1", ref)
	runTool(t, skopeo, "inspect", "--tls-verify=false", "--creds", "alice:s3cret", ref)
}

// podman pulls from ocikit's registry and runs the image.
func TestServePodman(t *testing.T) {
	testutil.RequireRoot(t)
	podman := testutil.RequireTool(t, "podman")
	skopeo := testutil.RequireTool(t, "skopeo")
	lay, _ := serveImage(t)
	root := t.TempDir()
	addr := startServe(t, root).addr
	name := uniqueName("ocikit-serve-")
	ref := addr + "/serve/" + name + ":v1"
	runTool(t, skopeo, "copy", "-q", "--dest-tls-verify=false", "oci:"+lay+":v1", "docker://"+ref)

	store, err := os.MkdirTemp("", "ocikit-serve-") // podman refuses a runroot over 50 characters
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(store) })
	base := []string{"--storage-driver", "vfs", "--root", filepath.Join(store, "root"), "--runroot", filepath.Join(store, "run"),
		"--cgroup-manager", "cgroupfs", "--events-backend", "file"}
	runTool(t, podman, append(base, "pull", "-q", "--tls-verify=false", ref)...)
	t.Cleanup(func() { exec.Command(podman, append(base, "rmi", "-f", ref)...).Run() })
	// runc: podman's default crun 1.8 refuses a hybrid cgroup host.
	runc := testutil.RequireTool(t, "runc")
	out := runTool(t, podman, append(base, "--runtime", runc, "run", "--rm", "--network", "none",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", ref, "echo", "pulled-from-ocikit")...)
	if strings.TrimSpace(out) != "pulled-from-ocikit" {
		t.Fatalf("podman run printed %q", out)
	}
}

// containerd pulls from ocikit's registry over plain HTTP and runs the
// image.
func TestServeContainerd(t *testing.T) {
	testutil.RequireRoot(t)
	skopeo := testutil.RequireTool(t, "skopeo")
	lay, digest := serveImage(t)
	root := t.TempDir()
	addr := startServe(t, root).addr
	ref := addr + "/serve/ctr:v1"
	runTool(t, skopeo, "copy", "-q", "--dest-tls-verify=false", "oci:"+lay+":v1", "docker://"+ref)

	c := startContainerd(t, t.TempDir())
	c.ns = "ocikit-serve-test"
	c.mustRun("images", "pull", "--plain-http", "--snapshotter", c.snap, ref)
	out := c.mustRun("images", "ls")
	if line := lineWith(out, ref); !strings.Contains(line, digest) {
		t.Fatalf("ctr images ls: want %s with %s:\n%s", ref, digest, out)
	}
	// And it runs (with ocikit as the shim's runtime).
	if out := c.mustRun(c.runArgs("--rm", ref, "served1", "echo", "pulled-by-containerd")...); out != "pulled-by-containerd\n" {
		t.Fatalf("ctr run printed %q", out)
	}
}

// A server killed in the middle of an upload leaves no blob and no tag;
// the next start removes the upload's temporary file, and the upload
// starts over.
func TestServeCrashDuringUpload(t *testing.T) {
	root := t.TempDir()
	srv := startServe(t, root)
	base := "http://" + srv.addr
	res, err := http.Post(base+"/v2/crash/blobs/uploads/", "", nil)
	if err != nil || res.StatusCode != 202 {
		t.Fatalf("POST: %v %v", res, err)
	}
	res.Body.Close()
	loc := res.Header.Get("Location")
	content := bytes.Repeat([]byte("half an upload "), 100000)
	pr, pw := io.Pipe()
	go func() {
		req, _ := http.NewRequest("PATCH", base+loc, pr)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	pw.Write(content[:len(content)/2])
	// Wait until the bytes are in the upload's file, then crash.
	uploads := filepath.Join(root, ".uploads")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		ents, _ := os.ReadDir(uploads)
		if len(ents) == 1 {
			if fi, err := ents[0].Info(); err == nil && fi.Size() > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("upload bytes never reached the server's file")
		}
	}
	srv.kill()
	pw.CloseWithError(io.ErrClosedPipe)

	blobs, _ := filepath.Glob(filepath.Join(root, "crash", "blobs", "*", "*"))
	if len(blobs) != 0 {
		t.Fatalf("blobs visible after the crash: %v", blobs)
	}
	srv = startServe(t, root)
	if ents, _ := os.ReadDir(uploads); len(ents) != 0 {
		t.Errorf("upload files after restart: %d", len(ents))
	}
	res, err = http.Get("http://" + srv.addr + loc)
	if err != nil || res.StatusCode != 404 {
		t.Errorf("the dead upload after restart: %v %v, want 404", res, err)
	}
	res.Body.Close()
	d := digest.FromBytes(content)
	res, err = http.Post("http://"+srv.addr+"/v2/crash/blobs/uploads/?digest="+string(d), "application/octet-stream", bytes.NewReader(content))
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("upload after restart: %v %v", res, err)
	}
	res.Body.Close()
	l, err := layout.Open(context.Background(), filepath.Join(root, "crash"))
	if err != nil {
		t.Fatal(err)
	}
	if size, err := l.StatBlob(context.Background(), d); err != nil || size != int64(len(content)) {
		t.Fatalf("blob after the new upload: %d, %v", size, err)
	}
}
