package server

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ocikit/ocikit/layout"
	"github.com/ocikit/ocikit/validate"
	dspec "github.com/opencontainers/distribution-spec/specs-go/v1"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/crypto/bcrypt"
)

// testRegistry is a server on a temporary root behind httptest.
type testRegistry struct {
	t    *testing.T
	root string
	srv  *Server
	http *httptest.Server
}

func newRegistry(t *testing.T, opts ...Option) *testRegistry {
	t.Helper()
	root := t.TempDir()
	s, err := New(context.Background(), root, opts...)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() { hs.Close(); s.Close() })
	return &testRegistry{t: t, root: root, srv: s, http: hs}
}

type req struct {
	method, path string
	body         []byte
	header       map[string]string
	noLength     bool // send the body chunked, without Content-Length
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

// code is the first error code of a spec error body.
func (r resp) code() string {
	var er dspec.ErrorResponse
	if json.Unmarshal(r.body, &er) != nil || len(er.Errors) == 0 {
		return ""
	}
	return er.Errors[0].Code
}

func (tr *testRegistry) do(q req) resp {
	tr.t.Helper()
	var body io.Reader
	if q.body != nil {
		body = bytes.NewReader(q.body)
		if q.noLength {
			body = io.MultiReader(body) // hides the length from net/http
		}
	}
	u := q.path
	if !strings.HasPrefix(u, "http") {
		u = tr.http.URL + q.path
	}
	r, err := http.NewRequest(q.method, u, body)
	if err != nil {
		tr.t.Fatal(err)
	}
	for k, v := range q.header {
		r.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		tr.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: data}
}

func (tr *testRegistry) expect(q req, status int, code string) resp {
	tr.t.Helper()
	r := tr.do(q)
	if r.status != status || (code != "" && r.code() != code) {
		tr.t.Fatalf("%s %s: %d %s, want %d %s", q.method, q.path, r.status, r.body, status, code)
	}
	return r
}

// pushBlob uploads data monolithically (single POST).
func (tr *testRegistry) pushBlob(repo string, data []byte) digest.Digest {
	tr.t.Helper()
	d := digest.FromBytes(data)
	tr.expect(req{method: "POST", path: "/v2/" + repo + "/blobs/uploads/?digest=" + string(d), body: data}, 201, "")
	return d
}

func (tr *testRegistry) putManifest(repo, ref, mediaType string, body []byte) resp {
	tr.t.Helper()
	return tr.expect(req{method: "PUT", path: "/v2/" + repo + "/manifests/" + ref, body: body,
		header: map[string]string{"Content-Type": mediaType}}, 201, "")
}

// testImage is a one-layer linux/amd64 image that package validate accepts.
type testImage struct {
	layer, config, manifest []byte
	desc                    v1.Descriptor
}

func makeImage(t testing.TB, seed string) testImage {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	content := "hello " + seed + "\n"
	tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
	tw.Write([]byte(content))
	tw.Close()
	img := testImage{layer: buf.Bytes()}
	cfg := v1.Image{
		Platform: v1.Platform{OS: "linux", Architecture: "amd64"},
		RootFS:   v1.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromBytes(img.layer)}},
	}
	img.config, _ = json.Marshal(cfg)
	m := v1.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: v1.MediaTypeImageManifest,
		Config:    v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Digest: digest.FromBytes(img.config), Size: int64(len(img.config))},
		Layers:    []v1.Descriptor{{MediaType: v1.MediaTypeImageLayer, Digest: digest.FromBytes(img.layer), Size: int64(len(img.layer))}},
	}
	img.manifest, _ = json.Marshal(m)
	img.desc = v1.Descriptor{MediaType: v1.MediaTypeImageManifest, Digest: digest.FromBytes(img.manifest), Size: int64(len(img.manifest))}
	return img
}

func (tr *testRegistry) pushImage(repo, tag string, img testImage) {
	tr.t.Helper()
	tr.pushBlob(repo, img.layer)
	tr.pushBlob(repo, img.config)
	tr.putManifest(repo, tag, v1.MediaTypeImageManifest, img.manifest)
}

// A push lands as an ordinary layout: package layout resolves it and
// package validate finds nothing wrong; a pull gives back the bytes.
func TestPushIsLayout(t *testing.T) {
	tr := newRegistry(t)
	img := makeImage(t, "a")
	tr.pushImage("team/app", "v1", img)

	r := tr.expect(req{method: "GET", path: "/v2/team/app/manifests/v1"}, 200, "")
	if !bytes.Equal(r.body, img.manifest) || r.header.Get("Content-Type") != v1.MediaTypeImageManifest ||
		r.header.Get("Docker-Content-Digest") != string(img.desc.Digest) {
		t.Fatalf("GET manifest: %s %v", r.body, r.header)
	}
	r = tr.expect(req{method: "GET", path: "/v2/team/app/blobs/" + string(digest.FromBytes(img.layer))}, 200, "")
	if !bytes.Equal(r.body, img.layer) {
		t.Fatal("layer differs")
	}
	dir := filepath.Join(tr.root, "team", "app")
	l, err := layout.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := l.Resolve(context.Background(), "v1")
	if err != nil || im.Descriptor.Digest != img.desc.Digest {
		t.Fatalf("Resolve: %+v %v", im, err)
	}
	rep, err := validate.Layout(context.Background(), dir, validate.WithAllBlobs())
	if err != nil || !rep.Valid {
		t.Fatalf("validate: %+v %v", rep, err)
	}
	// Nothing of the upload machinery inside the layout.
	ents, _ := os.ReadDir(filepath.Join(dir, "blobs"))
	for _, e := range ents {
		if e.Name() != "sha256" {
			t.Errorf("unexpected %s in blobs/", e.Name())
		}
	}
}

// An existing layout is served as it is, nested index and all.
func TestServeExistingLayout(t *testing.T) {
	root := t.TempDir()
	ctx := context.Background()
	l, err := layout.Init(ctx, filepath.Join(root, "lib", "busy"))
	if err != nil {
		t.Fatal(err)
	}
	img := makeImage(t, "existing")
	for _, b := range [][]byte{img.layer, img.config, img.manifest} {
		if _, err := l.PutBlob(ctx, bytes.NewReader(b), v1.Descriptor{}); err != nil {
			t.Fatal(err)
		}
	}
	p := v1.Platform{OS: "linux", Architecture: "amd64"}
	child := img.desc
	child.Platform = &p
	idx, err := l.PutJSON(ctx, v1.MediaTypeImageIndex, v1.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageIndex, Manifests: []v1.Descriptor{child}})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Tag(ctx, "latest", idx); err != nil {
		t.Fatal(err)
	}
	s, err := New(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	defer hs.Close()
	tr := &testRegistry{t: t, root: root, srv: s, http: hs}
	r := tr.expect(req{method: "GET", path: "/v2/lib/busy/manifests/latest"}, 200, "")
	if r.header.Get("Content-Type") != v1.MediaTypeImageIndex {
		t.Errorf("Content-Type %q", r.header.Get("Content-Type"))
	}
	// The child is not in index.json, but reachable: served by digest.
	tr.expect(req{method: "HEAD", path: "/v2/lib/busy/manifests/" + string(img.desc.Digest)}, 200, "")
	// A layer is not a manifest.
	tr.expect(req{method: "GET", path: "/v2/lib/busy/manifests/" + string(digest.FromBytes(img.layer))}, 404, codeManifestUnknown)
	tl := tr.expect(req{method: "GET", path: "/v2/lib/busy/tags/list"}, 200, "")
	if !strings.Contains(string(tl.body), `"tags":["latest"]`) {
		t.Errorf("tags list %s", tl.body)
	}
}

func TestRangeRequests(t *testing.T) {
	tr := newRegistry(t)
	data := []byte(strings.Repeat("0123456789", 100))
	d := tr.pushBlob("r", data)
	for _, tc := range []struct {
		rng    string
		status int
		body   string
		cr     string
	}{
		{"bytes=10-19", 206, "0123456789", "bytes 10-19/1000"},
		{"bytes=995-", 206, "56789", "bytes 995-999/1000"},
		{"bytes=-3", 206, "789", "bytes 997-999/1000"},
		{"bytes=990-5000", 206, "0123456789", "bytes 990-999/1000"},
		{"bytes=5000-6000", 416, "", ""},
		{"bytes=500-0", 416, "", ""},
	} {
		r := tr.do(req{method: "GET", path: "/v2/r/blobs/" + string(d), header: map[string]string{"Range": tc.rng}})
		if r.status != tc.status || (tc.status == 206 && (string(r.body) != tc.body || r.header.Get("Content-Range") != tc.cr)) {
			t.Errorf("%s: %d %q %q", tc.rng, r.status, r.body, r.header.Get("Content-Range"))
		}
	}
	r := tr.expect(req{method: "HEAD", path: "/v2/r/blobs/" + string(d)}, 200, "")
	if r.header.Get("Content-Length") != "1000" || r.header.Get("Docker-Content-Digest") != string(d) || len(r.body) != 0 {
		t.Errorf("HEAD: %v", r.header)
	}
}

// startUpload opens a session and returns its location.
func (tr *testRegistry) startUpload(repo string) string {
	tr.t.Helper()
	r := tr.expect(req{method: "POST", path: "/v2/" + repo + "/blobs/uploads/"}, 202, "")
	loc := r.header.Get("Location")
	if loc == "" {
		tr.t.Fatal("no Location")
	}
	return loc
}

func withDigest(loc string, d digest.Digest) string {
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	return loc + sep + "digest=" + string(d)
}

func chunk(start, end int) map[string]string {
	return map[string]string{"Content-Range": fmt.Sprintf("%d-%d", start, end), "Content-Type": "application/octet-stream"}
}

// Chunks must come in order and say the truth about their length; a lie
// drops the chunk and leaves the upload where it was.
func TestChunkedUpload(t *testing.T) {
	tr := newRegistry(t)
	data := []byte(strings.Repeat("abcdefghij", 300)) // 3000 bytes
	d := digest.FromBytes(data)
	loc := tr.startUpload("c")
	tr.expect(req{method: "PATCH", path: loc, body: data[:1000], header: chunk(0, 999)}, 202, "")
	// Out of order: ahead, and back to the start.
	for _, start := range []int{2000, 0} {
		r := tr.expect(req{method: "PATCH", path: loc, body: data[start : start+1000], header: chunk(start, start+999)}, 416, "")
		if r.header.Get("Range") != "0-999" {
			t.Errorf("416 Range %q", r.header.Get("Range"))
		}
	}
	// Content-Length and Content-Range disagree.
	tr.expect(req{method: "PATCH", path: loc, body: data[1000:1500], header: chunk(1000, 1999)}, 400, codeBlobUploadInvalid)
	// Longer and shorter than the range, with no Content-Length to tell.
	tr.expect(req{method: "PATCH", path: loc, body: data[1000:2001], header: chunk(1000, 1999), noLength: true}, 400, codeBlobUploadInvalid)
	tr.expect(req{method: "PATCH", path: loc, body: data[1000:1500], header: chunk(1000, 1999), noLength: true}, 400, codeBlobUploadInvalid)
	tr.expect(req{method: "PATCH", path: loc, header: map[string]string{"Content-Range": "x-y"}, body: []byte{}}, 400, codeBlobUploadInvalid)
	r := tr.expect(req{method: "GET", path: loc}, 204, "")
	if r.header.Get("Range") != "0-999" {
		t.Fatalf("status Range %q after rejected chunks", r.header.Get("Range"))
	}
	tr.expect(req{method: "PATCH", path: loc, body: data[1000:2000], header: chunk(1000, 1999)}, 202, "")
	// The last chunk in the closing PUT.
	r = tr.expect(req{method: "PUT", path: withDigest(loc, d), body: data[2000:], header: chunk(2000, 2999)}, 201, "")
	if r.header.Get("Location") != "/v2/c/blobs/"+string(d) {
		t.Errorf("Location %q", r.header.Get("Location"))
	}
	got := tr.expect(req{method: "GET", path: "/v2/c/blobs/" + string(d)}, 200, "")
	if !bytes.Equal(got.body, data) {
		t.Fatal("content differs")
	}
	// The session is gone.
	tr.expect(req{method: "GET", path: loc}, 404, codeBlobUploadUnknown)
}

// A streamed PATCH, sha512, and a closing PUT whose digest is wrong: 400
// and nothing stored; a cancelled upload is gone.
func TestStreamedUpload(t *testing.T) {
	tr := newRegistry(t)
	data := []byte(strings.Repeat("stream ", 1000))
	d := digest.SHA512.FromBytes(data)
	loc := tr.startUpload("s")
	tr.expect(req{method: "PATCH", path: loc, body: data, noLength: true}, 202, "")
	tr.expect(req{method: "PUT", path: withDigest(loc, d)}, 201, "")
	if r := tr.expect(req{method: "GET", path: "/v2/s/blobs/" + string(d)}, 200, ""); !bytes.Equal(r.body, data) {
		t.Fatal("sha512 blob differs")
	}
	loc = tr.startUpload("s")
	tr.expect(req{method: "PATCH", path: loc, body: []byte("not what the digest says")}, 202, "")
	wrong := digest.FromString("something else")
	tr.expect(req{method: "PUT", path: withDigest(loc, wrong)}, 400, codeDigestInvalid)
	tr.expect(req{method: "HEAD", path: "/v2/s/blobs/" + string(wrong)}, 404, "")
	tr.expect(req{method: "HEAD", path: "/v2/s/blobs/" + string(digest.FromString("not what the digest says"))}, 404, "")
	// Monolithic POST with a wrong digest.
	tr.expect(req{method: "POST", path: "/v2/s/blobs/uploads/?digest=" + string(wrong), body: []byte("x")}, 400, codeDigestInvalid)
	loc = tr.startUpload("s")
	tr.expect(req{method: "DELETE", path: loc}, 204, "")
	tr.expect(req{method: "PATCH", path: loc, body: []byte("x")}, 404, codeBlobUploadUnknown)
	// A session belongs to its repository.
	loc = tr.startUpload("s")
	tr.expect(req{method: "GET", path: strings.Replace(loc, "/v2/s/", "/v2/other/", 1)}, 404, codeBlobUploadUnknown)
	ents, _ := os.ReadDir(filepath.Join(tr.root, uploadsDir))
	if len(ents) != 1 {
		t.Errorf("upload files: %d, want 1 (the open session)", len(ents))
	}
}

// A crashed server's upload files are removed at the next start; a live
// server's (flocked) are not.
func TestUploadLeftovers(t *testing.T) {
	root := t.TempDir()
	ctx := context.Background()
	s1, err := New(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	hs := httptest.NewServer(s1)
	defer hs.Close()
	tr := &testRegistry{t: t, root: root, srv: s1, http: hs}
	loc := tr.startUpload("x")
	stale := filepath.Join(root, uploadsDir, "stale")
	if err := os.WriteFile(stale, []byte("half an upload"), 0o600); err != nil {
		t.Fatal(err)
	}
	s2, err := New(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale upload file kept: %v", err)
	}
	tr.expect(req{method: "PATCH", path: loc, body: []byte("still alive")}, 202, "")
	s1.Close()
	if ents, _ := os.ReadDir(filepath.Join(root, uploadsDir)); len(ents) != 0 {
		t.Errorf("Close left %d upload files", len(ents))
	}
}

func TestHostileNames(t *testing.T) {
	tr := newRegistry(t)
	tr.pushImage("a", "v1", makeImage(t, "a"))
	for _, p := range []string{
		"/v2/../etc/blobs/uploads/",
		"/v2/a/../../x/blobs/uploads/",
		"/v2/%2e%2e/x/blobs/uploads/",
		"/v2/A/blobs/uploads/",
		"/v2/.uploads/blobs/uploads/",
		"/v2/a//b/blobs/uploads/",
		"/v2/a/blobs/blobs/uploads/",
		"/v2/a/blobs/sha256/blobs/uploads/",
		"/v2/a/index.json/blobs/uploads/",
		"/v2/" + strings.Repeat("a/", 200) + "blobs/uploads/",
	} {
		r := tr.do(req{method: "POST", path: p})
		if r.status != 400 || r.code() != codeNameInvalid {
			// net/http may clean the path itself and redirect; anything
			// but a created upload is fine as long as nothing escaped.
			if r.status == 202 {
				t.Errorf("POST %s: upload started", p)
			}
		}
	}
	// Nothing was created outside the root or inside layout a's files.
	ents, _ := os.ReadDir(filepath.Join(tr.root, "a", "blobs"))
	for _, e := range ents {
		if e.Name() != "sha256" {
			t.Errorf("created %s in a/blobs", e.Name())
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(tr.root), "etc")); err == nil {
		t.Error("escaped the root")
	}
	tr.expect(req{method: "GET", path: "/v2/a/blobs/sha256:..%2f..%2findex.json"}, 404, "") // %2f splits the path
	tr.expect(req{method: "GET", path: "/v2/a/blobs/sha256:..index.json"}, 400, codeDigestInvalid)
	tr.expect(req{method: "GET", path: "/v2/a/manifests/sha256:baddigeststring"}, 400, codeDigestInvalid)
	tr.expect(req{method: "GET", path: "/v2/a/manifests/md5:d41d8cd98f00b204e9800998ecf8427e"}, 400, codeUnsupported)
	tr.expect(req{method: "GET", path: "/v2/a/manifests/-bad"}, 400, codeTagInvalid)
}

func TestManifestChecks(t *testing.T) {
	tr := newRegistry(t)
	img := makeImage(t, "m")
	tr.pushBlob("m", img.layer)
	tr.pushBlob("m", img.config)
	put := func(ref, ct string, body []byte, status int, code string) {
		t.Helper()
		tr.expect(req{method: "PUT", path: "/v2/m/manifests/" + ref, body: body, header: map[string]string{"Content-Type": ct}}, status, code)
	}
	// Wrong digest in the URL.
	put(string(digest.FromString("other")), v1.MediaTypeImageManifest, img.manifest, 400, codeDigestInvalid)
	// Over 4 MiB, with and without a Content-Length.
	big := []byte(`{"schemaVersion":2,"annotations":{"x":"` + strings.Repeat("A", maxManifestSize) + `"}}`)
	put("big", v1.MediaTypeImageManifest, big, 413, "")
	r := tr.do(req{method: "PUT", path: "/v2/m/manifests/big", body: big, noLength: true, header: map[string]string{"Content-Type": v1.MediaTypeImageManifest}})
	if r.status != 413 {
		t.Errorf("chunked oversized manifest: %d", r.status)
	}
	// Body and Content-Type disagree.
	put("v1", v1.MediaTypeImageIndex, img.manifest, 400, codeManifestInvalid)
	put("v1", v1.MediaTypeImageManifest, []byte("not json"), 400, codeManifestInvalid)
	put("v1", "application/vnd.example+json", []byte(`{}`), 400, codeManifestInvalid)
	// A layer that is not there.
	other := makeImage(t, "missing layer")
	tr.pushBlob("m", other.config)
	put("v2", v1.MediaTypeImageManifest, other.manifest, 400, codeManifestBlobUnknown)
	// An invalid tag.
	put("bad..tag", v1.MediaTypeImageManifest, img.manifest, 400, codeTagInvalid)
	// None of that left a tag behind.
	tl := tr.expect(req{method: "GET", path: "/v2/m/tags/list"}, 200, "")
	if !strings.Contains(string(tl.body), `"tags":[]`) {
		t.Errorf("tags after rejected pushes: %s", tl.body)
	}
	put("v1", "", img.manifest, 201, "") // Content-Type from the body
}

func TestTagsAndDeletes(t *testing.T) {
	tr := newRegistry(t)
	img := makeImage(t, "t")
	tr.pushBlob("t", img.layer)
	tr.pushBlob("t", img.config)
	for _, tag := range []string{"c", "a", "e", "b", "d"} {
		tr.putManifest("t", tag, v1.MediaTypeImageManifest, img.manifest)
	}
	list := func(q string) (dspec.TagList, string) {
		r := tr.expect(req{method: "GET", path: "/v2/t/tags/list" + q}, 200, "")
		var tl dspec.TagList
		json.Unmarshal(r.body, &tl)
		return tl, r.header.Get("Link")
	}
	for _, tc := range []struct {
		q, want, link string
	}{
		{"", "a b c d e", ""},
		{"?n=2", "a b", `</v2/t/tags/list?last=b&n=2>; rel="next"`},
		{"?n=2&last=b", "c d", `</v2/t/tags/list?last=d&n=2>; rel="next"`},
		{"?n=2&last=d", "e", ""},
		{"?last=c", "d e", ""},
		{"?n=0", "", ""},
		{"?n=10", "a b c d e", ""},
	} {
		tl, link := list(tc.q)
		if strings.Join(tl.Tags, " ") != tc.want || link != tc.link || tl.Name != "t" {
			t.Errorf("%s: %v %q", tc.q, tl.Tags, link)
		}
	}
	tr.expect(req{method: "GET", path: "/v2/t/tags/list?n=-1"}, 400, "")
	// Deleting tags keeps the manifest until the last goes, and after.
	for _, tag := range []string{"a", "b", "c", "d", "e"} {
		tr.expect(req{method: "DELETE", path: "/v2/t/manifests/" + tag}, 202, "")
		tr.expect(req{method: "HEAD", path: "/v2/t/manifests/" + tag}, 404, "")
	}
	tr.expect(req{method: "DELETE", path: "/v2/t/manifests/a"}, 404, codeManifestUnknown)
	tr.expect(req{method: "HEAD", path: "/v2/t/manifests/" + string(img.desc.Digest)}, 200, "")
	l, _ := layout.Open(context.Background(), filepath.Join(tr.root, "t"))
	idx, _ := l.Index(context.Background())
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != img.desc.Digest || len(idx.Manifests[0].Annotations) != 0 {
		t.Fatalf("index.json after tag deletes: %+v", idx.Manifests)
	}
	// Deleting by digest removes it; a blob delete removes a blob.
	tr.expect(req{method: "DELETE", path: "/v2/t/manifests/" + string(img.desc.Digest)}, 202, "")
	tr.expect(req{method: "GET", path: "/v2/t/manifests/" + string(img.desc.Digest)}, 404, codeManifestUnknown)
	d := digest.FromBytes(img.layer)
	tr.expect(req{method: "DELETE", path: "/v2/t/blobs/" + string(d)}, 202, "")
	tr.expect(req{method: "DELETE", path: "/v2/t/blobs/" + string(d)}, 404, codeBlobUnknown)
	tr.expect(req{method: "GET", path: "/v2/nosuch/tags/list"}, 404, codeNameUnknown)
}

func TestReferrers(t *testing.T) {
	tr := newRegistry(t)
	img := makeImage(t, "subject")
	tr.pushImage("r", "v1", img)
	empty := tr.pushBlob("r", []byte("{}"))
	sig := tr.pushBlob("r", []byte("signature"))
	art := func(at string, n int) []byte {
		m := v1.Manifest{
			Versioned:    specs.Versioned{SchemaVersion: 2},
			MediaType:    v1.MediaTypeImageManifest,
			ArtifactType: at,
			Config:       v1.Descriptor{MediaType: v1.MediaTypeEmptyJSON, Digest: empty, Size: 2},
			Layers:       []v1.Descriptor{{MediaType: "application/octet-stream", Digest: sig, Size: 9}},
			Subject:      &img.desc,
			Annotations:  map[string]string{"n": fmt.Sprint(n)},
		}
		b, _ := json.Marshal(m)
		return b
	}
	a1, a2 := art("application/vnd.example.sig", 1), art("application/vnd.example.sbom", 2)
	for _, a := range [][]byte{a1, a2} {
		r := tr.putManifest("r", string(digest.FromBytes(a)), v1.MediaTypeImageManifest, a)
		if r.header.Get("OCI-Subject") != string(img.desc.Digest) {
			t.Errorf("OCI-Subject %q", r.header.Get("OCI-Subject"))
		}
	}
	get := func(q string) (v1.Index, http.Header) {
		r := tr.expect(req{method: "GET", path: "/v2/r/referrers/" + string(img.desc.Digest) + q}, 200, "")
		var idx v1.Index
		if err := json.Unmarshal(r.body, &idx); err != nil || r.header.Get("Content-Type") != v1.MediaTypeImageIndex {
			t.Fatalf("referrers: %s %v", r.body, err)
		}
		return idx, r.header
	}
	idx, h := get("")
	if len(idx.Manifests) != 2 || h.Get("OCI-Filters-Applied") != "" {
		t.Fatalf("referrers: %+v", idx.Manifests)
	}
	idx, h = get("?artifactType=application/vnd.example.sbom")
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != digest.FromBytes(a2) || idx.Manifests[0].Annotations["n"] != "2" ||
		h.Get("OCI-Filters-Applied") != "artifactType" {
		t.Fatalf("filtered referrers: %+v %v", idx.Manifests, h)
	}
	// No referrers, no repository: an empty index, never 404.
	for _, p := range []string{"/v2/r/referrers/" + string(digest.FromString("x")), "/v2/nosuch/referrers/" + string(img.desc.Digest)} {
		r := tr.expect(req{method: "GET", path: p}, 200, "")
		if !strings.Contains(string(r.body), `"manifests":[]`) {
			t.Errorf("%s: %s", p, r.body)
		}
	}
	tr.expect(req{method: "GET", path: "/v2/r/referrers/sha256:nothex"}, 400, codeDigestInvalid)
}

// Concurrent pushes of different tags to one repository all land.
func TestConcurrentPushes(t *testing.T) {
	tr := newRegistry(t)
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			img := makeImage(t, fmt.Sprint(i))
			for _, b := range [][]byte{img.layer, img.config} {
				d := digest.FromBytes(b)
				res, err := http.Post(tr.http.URL+"/v2/c/blobs/uploads/?digest="+string(d), "application/octet-stream", bytes.NewReader(b))
				if err != nil || res.StatusCode != 201 {
					errs <- fmt.Errorf("blob %d: %v %v", i, res, err)
					return
				}
				res.Body.Close()
			}
			r, _ := http.NewRequest("PUT", tr.http.URL+fmt.Sprintf("/v2/c/manifests/t%d", i), bytes.NewReader(img.manifest))
			r.Header.Set("Content-Type", v1.MediaTypeImageManifest)
			res, err := http.DefaultClient.Do(r)
			if err != nil || res.StatusCode != 201 {
				errs <- fmt.Errorf("manifest %d: %v %v", i, res, err)
				return
			}
			res.Body.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	r := tr.expect(req{method: "GET", path: "/v2/c/tags/list"}, 200, "")
	var tl dspec.TagList
	json.Unmarshal(r.body, &tl)
	if len(tl.Tags) != n {
		t.Fatalf("tags %v, want %d", tl.Tags, n)
	}
	rep, err := validate.Layout(context.Background(), filepath.Join(tr.root, "c"), validate.WithAllBlobs())
	if err != nil || !rep.Valid {
		t.Fatalf("validate: %+v %v", rep, err)
	}
}

func TestMount(t *testing.T) {
	tr := newRegistry(t)
	d := tr.pushBlob("src", []byte("shared layer"))
	r := tr.expect(req{method: "POST", path: "/v2/dst/blobs/uploads/?mount=" + string(d) + "&from=src"}, 201, "")
	if r.header.Get("Location") != "/v2/dst/blobs/"+string(d) {
		t.Errorf("Location %q", r.header.Get("Location"))
	}
	tr.expect(req{method: "GET", path: "/v2/dst/blobs/" + string(d)}, 200, "")
	// One file system: the layouts share the file (a hard link, no copy).
	a, _ := os.Stat(filepath.Join(tr.root, "src", "blobs", "sha256", d.Encoded()))
	b, _ := os.Stat(filepath.Join(tr.root, "dst", "blobs", "sha256", d.Encoded()))
	if a == nil || b == nil || !os.SameFile(a, b) {
		t.Error("mount copied the blob instead of linking it")
	}
	// Without from=: found anywhere under the root.
	tr.expect(req{method: "POST", path: "/v2/third/blobs/uploads/?mount=" + string(d)}, 201, "")
	// Not there: a session starts instead.
	tr.expect(req{method: "POST", path: "/v2/dst/blobs/uploads/?mount=" + string(digest.FromString("none")) + "&from=src"}, 202, "")
}

func TestHtpasswd(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "htpasswd")
	os.WriteFile(f, []byte("# users\nalice:"+string(hash)+"\n"), 0o600)
	tr := newRegistry(t, WithHtpasswd(f))
	r := tr.expect(req{method: "GET", path: "/v2/"}, 401, codeUnauthorized)
	if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic ") {
		t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
	}
	u := strings.Replace(tr.http.URL, "http://", "http://alice:wrong@", 1)
	tr.expect(req{method: "GET", path: u + "/v2/"}, 401, codeUnauthorized)
	u = strings.Replace(tr.http.URL, "http://", "http://bob:s3cret@", 1)
	tr.expect(req{method: "GET", path: u + "/v2/"}, 401, codeUnauthorized)
	u = strings.Replace(tr.http.URL, "http://", "http://alice:s3cret@", 1)
	for range 2 { // the second is answered from the cache
		tr.expect(req{method: "GET", path: u + "/v2/"}, 200, "")
	}
	tr.expect(req{method: "POST", path: u + "/v2/x/blobs/uploads/"}, 202, "")

	// Only bcrypt entries are accepted, at load time.
	os.WriteFile(f, []byte("bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n"), 0o600)
	if _, err := New(context.Background(), t.TempDir(), WithHtpasswd(f)); err == nil {
		t.Error("a SHA1 htpasswd entry was accepted")
	}
}

func TestReadOnly(t *testing.T) {
	tr := newRegistry(t, WithReadOnly())
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		tr.expect(req{method: m, path: "/v2/x/blobs/uploads/"}, 405, codeUnsupported)
	}
	tr.expect(req{method: "GET", path: "/v2/"}, 200, "")
}
