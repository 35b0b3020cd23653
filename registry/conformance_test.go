package registry_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/content/contenttest"
	"github.com/ocikit/ocikit/internal/registrytest"
	"github.com/ocikit/ocikit/registry"
	digest "github.com/opencontainers/go-digest"
)

var repoSeq atomic.Int64

// newRepo is a fresh, empty repository of reg.
func newRepo(t *testing.T, reg *registrytest.Registry, opts ...registry.Option) *registry.Repository {
	t.Helper()
	name := fmt.Sprintf("regclient/conformance%d", repoSeq.Add(1))
	if reg.User != "" {
		opts = append(opts, registry.WithCredentials(reg.User, reg.Password))
	}
	r, err := registry.New(reg.Host, name, append(opts, registry.WithPush())...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// seed pushes f to a new repository of reg with plain HTTP calls (blobs,
// then manifests, then indexes, then tags), and writes the blobs whose
// content does not match their digest straight into the registry's
// storage, as a damaged or hostile registry would serve them.
func seed(t *testing.T, reg *registrytest.Registry, f contenttest.Fixture) *registry.Repository {
	t.Helper()
	r := newRepo(t, reg)
	name := r.Name()[len(reg.Host)+1:]
	base := "http://" + reg.Host + "/v2/" + name
	do := func(method, url, ct string, body []byte, want int) *http.Response {
		req, err := http.NewRequest(method, url, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("seed: %s %s: %s %s", method, url, resp.Status, msg)
		}
		return resp
	}
	kinds := map[digest.Digest]string{}
	for d, data := range f.Blobs {
		if d.Algorithm().FromBytes(data) != d {
			// Corrupt: a blob link and a manifest revision link to it.
			hex := d.Encoded()
			for _, p := range []string{
				filepath.Join("blobs/sha256", hex[:2], hex, "data"),
				filepath.Join("repositories", name, "_layers/sha256", hex, "link"),
				filepath.Join("repositories", name, "_manifests/revisions/sha256", hex, "link"),
			} {
				p = filepath.Join(reg.Storage, "docker/registry/v2", p)
				content := []byte(d)
				if filepath.Base(p) == "data" {
					content = data
				}
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			continue
		}
		var probe struct {
			SchemaVersion int             `json:"schemaVersion"`
			Manifests     json.RawMessage `json:"manifests"`
		}
		json.Unmarshal(data, &probe)
		switch {
		case probe.SchemaVersion == 2 && probe.Manifests != nil:
			kinds[d] = "index"
		case probe.SchemaVersion == 2:
			kinds[d] = "manifest"
		default:
			resp := do(http.MethodPost, base+"/blobs/uploads/", "", nil, http.StatusAccepted)
			loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
			if err != nil {
				t.Fatal(err)
			}
			q := loc.Query()
			q.Set("digest", string(d))
			loc.RawQuery = q.Encode()
			do(http.MethodPut, loc.String(), "application/octet-stream", data, http.StatusCreated)
		}
	}
	for _, kind := range []string{"manifest", "index"} {
		for d, k := range kinds {
			if k == kind {
				var probe struct {
					MediaType string `json:"mediaType"`
				}
				json.Unmarshal(f.Blobs[d], &probe)
				do(http.MethodPut, base+"/manifests/"+string(d), probe.MediaType, f.Blobs[d], http.StatusCreated)
			}
		}
	}
	for tag, desc := range f.Refs {
		do(http.MethodPut, base+"/manifests/"+tag, desc.MediaType, f.Blobs[desc.Digest], http.StatusCreated)
	}
	return r
}

func TestContentConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("starts docker-registry")
	}
	reg := registrytest.Start(t, "", "")
	t.Run("Provider", func(t *testing.T) {
		contenttest.TestProvider(t, func(t *testing.T, f contenttest.Fixture) content.Provider { return seed(t, reg, f) })
	})
	t.Run("Ingester", func(t *testing.T) {
		contenttest.TestIngester(t, func(t *testing.T) contenttest.Store { return newRepo(t, reg) })
	})
	t.Run("ImageSource", func(t *testing.T) {
		contenttest.TestImageSource(t, func(t *testing.T, f contenttest.Fixture) content.ImageSource { return seed(t, reg, f) })
	})
	t.Run("Tagger", func(t *testing.T) {
		contenttest.TestTagger(t, func(t *testing.T, f contenttest.Fixture) contenttest.TagStore { return seed(t, reg, f) })
	})
}
