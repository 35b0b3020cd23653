package layout

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestBrokenLayouts runs every broken fixture through Open, Resolve and GC:
// each fails with the right sentinel, in one line naming the file, and
// leaves the layout byte-for-byte unchanged.
func TestBrokenLayouts(t *testing.T) {
	tests := []struct {
		fixture string
		openErr error  // from Open (nil: Open succeeds)
		useErr  error  // from Resolve("latest") when Open succeeds
		gcOK    bool   // GC succeeds (the breakage is below what GC reads)
		mention string // the error names this
	}{
		{"no-oci-layout", ErrInvalidLayout, nil, false, "oci-layout"},
		{"bad-version", ErrUnsupportedVersion, nil, false, "oci-layout"},
		{"bad-oci-layout-json", ErrInvalidLayout, nil, false, "oci-layout"},
		{"bad-index-json", ErrInvalidLayout, nil, false, "index.json"},
		{"index-schema-1", ErrInvalidLayout, nil, false, "index.json"},
		{"altered-manifest", nil, ErrDigestMismatch, false, "blobs/sha256/"},
		{"truncated-config", nil, ErrSizeMismatch, true, "blobs/sha256/"},
		{"dangling-manifest", nil, ErrNotFound, false, "blobs/sha256/"},
		{"unknown-digest", nil, ErrUnsupportedDigest, false, "md5"},
		{"wrong-size", nil, ErrSizeMismatch, false, "blobs/sha256/"},
		{"invalid-digest", nil, ErrInvalidDigest, false, "NOT-HEX"},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			dir := copyTree(t, fixture(tt.fixture))
			before := treeHash(t, dir)
			check := func(err, want error) {
				t.Helper()
				if !errors.Is(err, want) {
					t.Fatalf("err = %v, want %v", err, want)
				}
				if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, tt.mention) {
					t.Fatalf("error %q: want one line mentioning %q", msg, tt.mention)
				}
			}
			l, err := Open(ctx, dir)
			if tt.openErr != nil {
				check(err, tt.openErr)
				l = &Layout{dir: dir} // what a caller skipping Open would hold
			} else if err != nil {
				t.Fatal(err)
			}
			if tt.useErr != nil {
				_, err = l.Resolve(ctx, "latest")
				check(err, tt.useErr)
			}
			rep, err := l.GC(ctx)
			if tt.gcOK {
				if err != nil || len(rep.Removed) != 0 {
					t.Fatalf("GC = %+v, %v", rep, err)
				}
			} else if err == nil {
				t.Fatalf("GC succeeded on a broken layout: %+v", rep)
			}
			if err := l.Tag(ctx, "other", v1.Descriptor{MediaType: v1.MediaTypeImageManifest, Digest: digest.FromString("x"), Size: 1}); err == nil {
				t.Fatal("tagging a missing blob succeeded")
			}
			if after := treeHash(t, dir); after != before {
				t.Fatalf("layout changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := Open(ctx, filepath.Join(dir, "missing")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing dir: %v", err)
	}
	writeFile(t, filepath.Join(dir, "file"), "")
	if _, err := Open(ctx, filepath.Join(dir, "file")); !errors.Is(err, ErrInvalidLayout) {
		t.Fatalf("file: %v", err)
	}
	for _, tt := range []struct {
		name, marker string
		want         error
	}{
		{"array", `[]`, ErrInvalidLayout},
		{"no version", `{"other":1}`, ErrInvalidLayout},
		{"number version", `{"imageLayoutVersion":1}`, ErrInvalidLayout},
		{"empty", ``, ErrInvalidLayout},
		{"1.1.0", `{"imageLayoutVersion":"1.1.0"}`, ErrUnsupportedVersion},
		{"1.0.1 with extra fields", `{"imageLayoutVersion":"1.0.1","x":true}`, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := newLayout(t)
			writeFile(t, filepath.Join(l.Dir(), "oci-layout"), tt.marker)
			_, err := Open(ctx, l.Dir())
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("no blobs", func(t *testing.T) {
		l := newLayout(t)
		must(t, os.Remove(filepath.Join(l.Dir(), "blobs")))
		if _, err := Open(ctx, l.Dir()); !errors.Is(err, ErrInvalidLayout) || !strings.Contains(err.Error(), "blobs") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no index.json", func(t *testing.T) {
		l := newLayout(t)
		must(t, os.Remove(filepath.Join(l.Dir(), "index.json")))
		if _, err := Open(ctx, l.Dir()); !errors.Is(err, ErrInvalidLayout) || !strings.Contains(err.Error(), "index.json") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestParseIndex(t *testing.T) {
	good := `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:` + strings.Repeat("a", 64) + `","size":1}`
	tests := []struct {
		name, doc string
		ok        bool
	}{
		{"minimal", `{"schemaVersion":2,"manifests":[]}`, true},
		{"with entry", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` + good + `]}`, true},
		{"unknown media type entry", `{"schemaVersion":2,"manifests":[{"mediaType":"application/xml","digest":"sha256:` + strings.Repeat("b", 64) + `","size":7}]}`, true},
		{"unregistered algorithm", `{"schemaVersion":2,"manifests":[{"mediaType":"a/b","digest":"multihash+base58:QmRZ","size":7}]}`, true},
		{"docker list", `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[]}`, true},
		{"trailing garbage", `{"schemaVersion":2,"manifests":[]} x`, false},
		{"not an object", `[]`, false},
		{"schema 1", `{"schemaVersion":1,"manifests":[]}`, false},
		{"manifest media type", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","manifests":[]}`, false},
		{"no manifests", `{"schemaVersion":2}`, false},
		{"null manifests", `{"schemaVersion":2,"manifests":null}`, false},
		{"entry without media type", `{"schemaVersion":2,"manifests":[{"digest":"sha256:` + strings.Repeat("a", 64) + `","size":1}]}`, false},
		{"entry with bad digest", `{"schemaVersion":2,"manifests":[{"mediaType":"a/b","digest":"sha256","size":1}]}`, false},
		{"negative size", `{"schemaVersion":2,"manifests":[{"mediaType":"a/b","digest":"sha256:` + strings.Repeat("a", 64) + `","size":-1}]}`, false},
		{"size as string", `{"schemaVersion":2,"manifests":[{"mediaType":"a/b","digest":"sha256:` + strings.Repeat("a", 64) + `","size":"1"}]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseIndex([]byte(tt.doc))
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidDocument) && !errors.Is(err, ErrInvalidDigest) {
				t.Fatalf("err %v wraps no sentinel", err)
			}
		})
	}
}

func TestTagUntagLookup(t *testing.T) {
	ctx := context.Background()
	l := newLayout(t)
	a := putImage(t, l, amd64, "a")
	b := putImage(t, l, amd64, "b")
	mustTag(t, l, "one", a)
	mustTag(t, l, "two", a)
	mustTag(t, l, "one", b) // replaces, keeps position
	idx, err := l.Index(ctx)
	must(t, err)
	if len(idx.Manifests) != 2 || idx.Manifests[0].Digest != b.Digest || idx.Manifests[0].Annotations[v1.AnnotationRefName] != "one" {
		t.Fatalf("index after retag: %+v", idx.Manifests)
	}
	if got, err := l.Lookup(ctx, "one"); err != nil || got.Digest != b.Digest {
		t.Fatalf("Lookup(one) = %v, %v", got.Digest, err)
	}
	if got, err := l.Lookup(ctx, string(a.Digest)); err != nil || got.Digest != a.Digest {
		t.Fatalf("Lookup(digest) = %v, %v", got.Digest, err)
	}
	// A digest not in index.json: found from the blob, media type sniffed.
	c := putImage(t, l, amd64, "c")
	if got, err := l.Lookup(ctx, string(c.Digest)); err != nil || got.MediaType != v1.MediaTypeImageManifest || got.Size != c.Size {
		t.Fatalf("Lookup(untagged digest) = %+v, %v", got, err)
	}
	_, err = l.Lookup(ctx, "three")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "one, two") {
		t.Fatalf("Lookup(three) = %v, want not found listing the tags", err)
	}
	// The caller's annotations are copied, not modified.
	ann := map[string]string{"x": "y"}
	d := a
	d.Annotations = ann
	mustTag(t, l, "three", d)
	if len(ann) != 1 {
		t.Fatalf("Tag modified the caller's annotations: %v", ann)
	}
	must(t, l.Untag(ctx, "two"))
	if err := l.Untag(ctx, "two"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Untag: %v", err)
	}
	if tags := Tags(mustIndex(t, l)); strings.Join(tags, ",") != "one,three" {
		t.Fatalf("tags = %v", tags)
	}
	// Bad tags and descriptors leave index.json alone.
	before := treeHash(t, l.Dir())
	for _, tt := range []struct {
		name string
		desc v1.Descriptor
		want error
	}{
		{"bad/tag/", a, ErrInvalidReference},
		{"", a, ErrInvalidReference},
		{"ok", v1.Descriptor{MediaType: "a/b", Digest: digest.FromString("missing"), Size: 7}, ErrNotFound},
		{"ok", v1.Descriptor{MediaType: a.MediaType, Digest: a.Digest, Size: a.Size + 1}, ErrSizeMismatch},
		{"ok", v1.Descriptor{MediaType: "a/b", Digest: "md5:d41d8cd98f00b204e9800998ecf8427e"}, ErrUnsupportedDigest},
		{"ok", v1.Descriptor{Digest: a.Digest, Size: a.Size}, ErrInvalidDocument},
	} {
		if err := l.Tag(ctx, tt.name, tt.desc); !errors.Is(err, tt.want) {
			t.Errorf("Tag(%q, %v) = %v, want %v", tt.name, tt.desc.Digest, err, tt.want)
		}
	}
	if after := treeHash(t, l.Dir()); after != before {
		t.Fatal("failed Tag changed the layout")
	}
}

func mustIndex(t testing.TB, l *Layout) *v1.Index {
	t.Helper()
	idx, err := l.Index(context.Background())
	must(t, err)
	return idx
}

func TestLookupAmbiguous(t *testing.T) {
	ctx := context.Background()
	l := newLayout(t)
	a := putImage(t, l, amd64, "a")
	b := putImage(t, l, amd64, "b")
	must(t, l.UpdateIndex(ctx, func(idx *v1.Index) error {
		for _, d := range []v1.Descriptor{a, b, a} {
			d.Annotations = map[string]string{v1.AnnotationRefName: "dup"}
			idx.Manifests = append(idx.Manifests, d)
		}
		return nil
	}))
	_, err := l.Lookup(ctx, "dup")
	if !errors.Is(err, ErrAmbiguous) || !strings.Contains(err.Error(), string(b.Digest)) {
		t.Fatalf("err = %v", err)
	}
	// Tagging again resolves it: one entry remains.
	mustTag(t, l, "dup", a)
	if n := len(mustIndex(t, l).Manifests); n != 1 {
		t.Fatalf("%d entries after retag", n)
	}
}

func TestUpdateIndexErrorWritesNothing(t *testing.T) {
	ctx := context.Background()
	l := newLayout(t)
	before := treeHash(t, l.Dir())
	boom := errors.New("boom")
	if err := l.UpdateIndex(ctx, func(idx *v1.Index) error {
		idx.Manifests = append(idx.Manifests, v1.Descriptor{MediaType: "a/b", Digest: digest.FromString("x")})
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if err := l.UpdateIndex(ctx, func(idx *v1.Index) error {
		idx.Manifests = append(idx.Manifests, v1.Descriptor{MediaType: "a/b", Digest: "bogus"})
		return nil
	}); !errors.Is(err, ErrInvalidDigest) {
		t.Fatalf("invalid descriptor: err = %v", err)
	}
	if treeHash(t, l.Dir()) != before {
		t.Fatal("layout changed")
	}
}

func TestTagConcurrentGoroutines(t *testing.T) {
	ctx := context.Background()
	l := newLayout(t)
	d := putImage(t, l, amd64, "x")
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each goroutine opens its own Layout, like separate callers.
			l2, err := Open(ctx, l.Dir())
			if err == nil {
				err = l2.Tag(ctx, fmt.Sprintf("t%d", i), d)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	if n := len(Tags(mustIndex(t, l))); n != 40 {
		t.Fatalf("%d tags, want 40", n)
	}
}

func TestValidateTag(t *testing.T) {
	for _, tt := range []struct {
		name string
		ok   bool
	}{
		{"latest", true}, {"v1.0.0-vendor.0", true}, {"2.0.0-debug", true}, {"a/b/c", true},
		{"stable-release", true}, {"a__b", false}, {"a--b", true}, {"a---b", false},
		{"foo@bar", true}, {"v1:debug", true}, {"a+b", true}, {"-a", false}, {"a-", false},
		{"a//b", false}, {"/a", false}, {"a b", false}, {"ä", false}, {"", false},
		{strings.Repeat("a", maxTagLen), true}, {strings.Repeat("a", maxTagLen+1), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := ValidateTag(tt.name); (err == nil) != tt.ok {
				t.Fatalf("ValidateTag(%q) = %v", tt.name, err)
			}
		})
	}
}
