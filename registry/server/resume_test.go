package server

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

// cutReader yields r's bytes until n have been read, then fails as a
// connection that broke would.
type cutReader struct {
	r io.Reader
	n int
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if len(p) > c.n {
		p = p[:c.n]
	}
	k, err := c.r.Read(p)
	c.n -= k
	return k, err
}

// TestResumeCutChunk: a chunk (with Content-Range) or a streamed PATCH
// whose body breaks keeps what arrived; GET on the session reports it as
// the offset (Range: 0-<end>), and the upload continues from there with
// the rest and commits to the right blob.
func TestResumeCutChunk(t *testing.T) {
	for _, ranged := range []bool{true, false} {
		name := map[bool]string{true: "chunk", false: "stream"}[ranged]
		t.Run(name, func(t *testing.T) {
			tr := newRegistry(t)
			data := []byte(strings.Repeat("0123456789abcdef", 4096)) // 64 KiB
			d := digest.FromBytes(data)
			loc := tr.startUpload("r")
			tr.expect(req{method: "PATCH", path: loc, body: data[:1000], header: chunk(0, 999)}, 202, "")
			// The second chunk announces the rest and breaks after 20000
			// bytes; it reaches the server's handler as a body that fails.
			q := httptest.NewRequest(http.MethodPatch, loc, &cutReader{r: bytes.NewReader(data[1000:]), n: 20000})
			q.Header.Set("Content-Type", "application/octet-stream")
			if ranged {
				q.Header.Set("Content-Range", "1000-65535")
				q.ContentLength = int64(len(data) - 1000)
			} else {
				q.ContentLength = -1
			}
			w := httptest.NewRecorder()
			tr.srv.ServeHTTP(w, q)
			if w.Code != http.StatusBadRequest {
				t.Fatalf("cut PATCH: %d %s, want 400", w.Code, w.Body)
			}
			r := tr.expect(req{method: "GET", path: loc}, 204, "")
			if got := r.header.Get("Range"); got != "0-20999" {
				t.Fatalf("after the cut: Range %q, want 0-20999 (what arrived is kept)", got)
			}
			tr.expect(req{method: "PATCH", path: loc, body: data[21000:], header: chunk(21000, len(data)-1)}, 202, "")
			tr.expect(req{method: "PUT", path: withDigest(loc, d)}, 201, "")
			if got := tr.expect(req{method: "GET", path: "/v2/r/blobs/" + string(d)}, 200, ""); !bytes.Equal(got.body, data) {
				t.Fatal("resumed blob differs")
			}
		})
	}
}
