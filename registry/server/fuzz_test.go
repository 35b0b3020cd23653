package server

import (
	"context"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzContentRange: no input panics, and what parses is a sane range.
func FuzzContentRange(f *testing.F) {
	for _, s := range []string{"0-999", "bytes 0-99/*", "bytes=5-9", "9-5", "-1-3", "1-", "18446744073709551616-1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start, end, ok := parseContentRange(s)
		if ok && (start < 0 || end < start) {
			t.Fatalf("%q parsed to %d-%d", s, start, end)
		}
	})
}

// FuzzRequest sends any method, path and Content-Range to a server whose
// root holds one repository: nothing panics, nothing appears outside the
// root, and every error is a JSON body of the spec.
func FuzzRequest(f *testing.F) {
	for _, s := range [][3]string{
		{"GET", "/v2/a/manifests/latest", ""},
		{"POST", "/v2/a/blobs/uploads/", ""},
		{"PATCH", "/v2/a/blobs/uploads/x", "0-3"},
		{"PUT", "/v2/../../x/manifests/v1", ""},
		{"DELETE", "/v2/a/blobs/sha256:" + strings.Repeat("0", 64), ""},
		{"GET", "/v2/a/referrers/sha512:" + strings.Repeat("0", 128), ""},
		{"GET", "/v2/a/tags/list?n=1&last=z", ""},
		{"POST", "/v2/a/blobs/uploads/?mount=sha256:00&from=../..", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	parent := f.TempDir()
	root := filepath.Join(parent, "root")
	s, err := New(context.Background(), root)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, method, target, contentRange string) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\x00") {
			return
		}
		r, err := http.NewRequest(method, "http://registry"+target, strings.NewReader("body"))
		if err != nil {
			return
		}
		if contentRange != "" {
			r.Header.Set("Content-Range", contentRange)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code >= 400 && method != http.MethodHead && !strings.HasPrefix(w.Body.String(), `{"errors":[`) {
			t.Fatalf("%s %s: %d %q", method, target, w.Code, w.Body.String())
		}
		filepath.WalkDir(parent, func(p string, _ fs.DirEntry, _ error) error {
			if p != parent && p != root && !strings.HasPrefix(p, root+string(os.PathSeparator)) {
				t.Fatalf("%s %s created %s outside the root", method, target, p)
			}
			return nil
		})
	})
}
