// Package contenttest is the conformance suite of package content's
// interfaces, as containerd's content/testsuite: each backend (the layout,
// and next the registry client and the archives) runs the same tests
// through a constructor, so they all keep the same promises.
//
//	func TestConformance(t *testing.T) {
//		contenttest.TestProvider(t, func(t *testing.T, f contenttest.Fixture) content.Provider { ... })
//	}
package contenttest

import (
	"bytes"
	"context"
	_ "crypto/sha256" // register the hashes go-digest looks up
	_ "crypto/sha512"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/errdefs"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Fixture is what a backend under test must hold when its constructor
// returns.
type Fixture struct {
	// Blobs holds content by the digest it is stored under. Some entries
	// are deliberately corrupt (their content does not hash to their
	// digest): the constructor must store them as they are, bypassing its
	// own verification, to stand for a damaged disk or a hostile server.
	Blobs map[digest.Digest][]byte
	// Refs are tags naming manifests and indexes of Blobs (the
	// org.opencontainers.image.ref.name of a layout, the tags of a
	// registry repository).
	Refs map[string]v1.Descriptor
}

// Store is a backend that takes blobs and gives them back.
type Store interface {
	content.Ingester
	content.Provider
}

// Platforms of the fixture's images.
var (
	linuxAMD64   = v1.Platform{OS: "linux", Architecture: "amd64"}
	linuxARM64   = v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	windowsAMD64 = v1.Platform{OS: "windows", Architecture: "amd64"}
)

// fixture is the content the suites seed backends with.
type fixture struct {
	Fixture
	layer, corrupt      v1.Descriptor // a layer; a blob stored with wrong content
	amd64, arm64, index v1.Descriptor
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{Fixture: Fixture{Blobs: map[digest.Digest][]byte{}, Refs: map[string]v1.Descriptor{}}}
	add := func(mediaType string, data []byte) v1.Descriptor {
		d := v1.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
		f.Blobs[d.Digest] = data
		return d
	}
	addJSON := func(mediaType string, v any) v1.Descriptor {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return add(mediaType, data)
	}
	layerData := bytes.Repeat([]byte("contenttest layer "), 4096) // several reads long
	f.layer = add(v1.MediaTypeImageLayer, layerData)
	good := []byte("the content its digest names")
	f.corrupt = v1.Descriptor{MediaType: v1.MediaTypeImageLayer, Digest: digest.FromBytes(good), Size: int64(len(good))}
	// Same size, other bytes; a JSON document, so that a backend which
	// parses manifests before serving them (a registry) serves it too.
	f.Blobs[f.corrupt.Digest] = []byte(`{"schemaVersion":2,"x":"ab"}`)
	manifest := func(p v1.Platform) v1.Descriptor {
		cfg := addJSON(v1.MediaTypeImageConfig, v1.Image{
			Platform: p,
			RootFS:   v1.RootFS{Type: "layers", DiffIDs: []digest.Digest{f.layer.Digest}},
		})
		m := addJSON(v1.MediaTypeImageManifest, v1.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2},
			MediaType: v1.MediaTypeImageManifest,
			Config:    cfg,
			Layers:    []v1.Descriptor{f.layer},
		})
		return m
	}
	f.amd64, f.arm64 = manifest(linuxAMD64), manifest(linuxARM64)
	entry := func(d v1.Descriptor, p v1.Platform) v1.Descriptor { d.Platform = &p; return d }
	f.index = addJSON(v1.MediaTypeImageIndex, v1.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: v1.MediaTypeImageIndex,
		Manifests: []v1.Descriptor{entry(f.amd64, windowsAMD64), entry(f.amd64, linuxAMD64), entry(f.arm64, linuxARM64)},
	})
	f.Refs["single"] = f.amd64
	f.Refs["multi"] = f.index
	return f
}

func readAll(ctx context.Context, p content.Provider, d v1.Descriptor) ([]byte, error) {
	rc, err := p.OpenBlob(ctx, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func wantKind(t *testing.T, what string, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("%s: err = %v, want kind %v", what, err, kind)
	}
}

// TestProvider checks a Provider (and, if it has StatBlob, a
// content.Stater) seeded with a Fixture by newProvider.
func TestProvider(t *testing.T, newProvider func(t *testing.T, f Fixture) content.Provider) {
	f := newFixture(t)
	ctx := context.Background()
	p := newProvider(t, f.Fixture)
	missing := v1.Descriptor{MediaType: v1.MediaTypeImageLayer, Digest: digest.FromString("not stored"), Size: 10}

	t.Run("Read", func(t *testing.T) {
		for _, d := range []v1.Descriptor{f.layer, f.amd64, f.index} {
			got, err := readAll(ctx, p, d)
			if err != nil || !bytes.Equal(got, f.Blobs[d.Digest]) {
				t.Fatalf("read %s: %d bytes, %v; want %d bytes", d.Digest, len(got), err, d.Size)
			}
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		_, err := p.OpenBlob(ctx, missing)
		wantKind(t, "open missing blob", err, errdefs.ErrNotFound)
	})
	t.Run("Corrupt", func(t *testing.T) {
		got, err := readAll(ctx, p, f.corrupt)
		wantKind(t, "read corrupt blob", err, errdefs.ErrDigestMismatch)
		if int64(len(got)) > f.corrupt.Size {
			t.Fatalf("read %d bytes of a %d-byte blob", len(got), f.corrupt.Size)
		}
	})
	t.Run("WrongSize", func(t *testing.T) {
		for _, size := range []int64{0, f.layer.Size - 1, f.layer.Size + 1} {
			d := f.layer
			d.Size = size
			got, err := readAll(ctx, p, d)
			wantKind(t, fmt.Sprintf("read with size %d of %d", size, f.layer.Size), err, errdefs.ErrDigestMismatch)
			if int64(len(got)) > size {
				t.Fatalf("size %d: read %d bytes", size, len(got))
			}
		}
	})
	t.Run("BadDigest", func(t *testing.T) {
		for _, tt := range []struct {
			d    digest.Digest
			kind error
		}{
			{"sha256:xyz", errdefs.ErrInvalid},
			{digest.Digest("sha256:" + strings.Repeat("A", 64)), errdefs.ErrInvalid},
			{"not a digest", errdefs.ErrInvalid},
			{"../../etc:passwd", errdefs.ErrInvalid},
			{"md5:d41d8cd98f00b204e9800998ecf8427e", errdefs.ErrUnsupported},
		} {
			_, err := p.OpenBlob(ctx, v1.Descriptor{MediaType: v1.MediaTypeImageLayer, Digest: tt.d, Size: 1})
			wantKind(t, fmt.Sprintf("open %q", tt.d), err, tt.kind)
		}
	})
	t.Run("ReadAll", func(t *testing.T) {
		got, err := content.ReadAll(ctx, p, f.amd64, 1<<20)
		if err != nil || !bytes.Equal(got, f.Blobs[f.amd64.Digest]) {
			t.Fatalf("ReadAll: %d bytes, %v", len(got), err)
		}
		_, err = content.ReadAll(ctx, p, f.layer, f.layer.Size-1)
		wantKind(t, "ReadAll over the limit", err, errdefs.ErrInvalid)
		_, err = content.ReadAll(ctx, p, f.corrupt, 1<<20)
		wantKind(t, "ReadAll of a corrupt blob", err, errdefs.ErrDigestMismatch)
		short := f.amd64
		short.Size--
		_, err = content.ReadAll(ctx, p, short, 1<<20)
		wantKind(t, "ReadAll with a short size", err, errdefs.ErrDigestMismatch)
	})
	t.Run("Cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := readAll(cctx, p, f.layer); !errors.Is(err, context.Canceled) {
			t.Fatalf("read with a cancelled context: err = %v", err)
		}
	})
	t.Run("Stat", func(t *testing.T) {
		s, ok := p.(content.Stater)
		if !ok {
			t.Skip("not a content.Stater")
		}
		if n, err := s.StatBlob(ctx, f.layer.Digest); err != nil || n != f.layer.Size {
			t.Fatalf("StatBlob = %d, %v; want %d", n, err, f.layer.Size)
		}
		_, err := s.StatBlob(ctx, missing.Digest)
		wantKind(t, "stat missing blob", err, errdefs.ErrNotFound)
		_, err = s.StatBlob(ctx, "sha256:xyz")
		wantKind(t, "stat bad digest", err, errdefs.ErrInvalid)
	})
}

// errReader yields some bytes, then fails.
type errReader struct {
	data []byte
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// verifiedReader claims to verify d (content.VerifiedReader).
type verifiedReader struct {
	errReader
	d v1.Descriptor
}

func (v *verifiedReader) Verifies() v1.Descriptor { return v.d }

// TestIngester checks an Ingester, reading back through its Provider; each
// subtest gets an empty store from newStore.
func TestIngester(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	data := bytes.Repeat([]byte("contenttest ingest "), 4096)
	want := v1.Descriptor{MediaType: v1.MediaTypeImageLayer, Digest: digest.FromBytes(data), Size: int64(len(data))}
	other := digest.FromString("other content")
	notVisible := func(t *testing.T, s Store, ds ...digest.Digest) {
		t.Helper()
		for _, d := range ds {
			_, err := s.OpenBlob(ctx, v1.Descriptor{MediaType: v1.MediaTypeImageLayer, Digest: d, Size: want.Size})
			wantKind(t, "open after a failed put", err, errdefs.ErrNotFound)
			if st, ok := s.(content.Stater); ok {
				_, err := st.StatBlob(ctx, d)
				wantKind(t, "stat after a failed put", err, errdefs.ErrNotFound)
			}
		}
	}

	t.Run("Put", func(t *testing.T) {
		s := newStore(t)
		in := want
		in.Annotations = map[string]string{"a": "b"}
		got, err := s.PutBlob(ctx, bytes.NewReader(data), in)
		if err != nil {
			t.Fatal(err)
		}
		if got.Digest != want.Digest || got.Size != want.Size || got.MediaType != want.MediaType || got.Annotations["a"] != "b" {
			t.Fatalf("PutBlob = %+v, want %+v", got, in)
		}
		back, err := readAll(ctx, s, got)
		if err != nil || !bytes.Equal(back, data) {
			t.Fatalf("read back: %d bytes, %v", len(back), err)
		}
		// Again: already there is fine.
		if _, err := s.PutBlob(ctx, bytes.NewReader(data), want); err != nil {
			t.Fatalf("second PutBlob: %v", err)
		}
	})
	t.Run("DigestComputed", func(t *testing.T) {
		s := newStore(t)
		got, err := s.PutBlob(ctx, bytes.NewReader(data), v1.Descriptor{MediaType: v1.MediaTypeImageLayer})
		if err != nil || got.Digest != want.Digest || got.Size != want.Size {
			t.Fatalf("PutBlob without digest = %+v, %v; want %s, %d bytes", got, err, want.Digest, want.Size)
		}
	})
	t.Run("SHA512", func(t *testing.T) {
		s := newStore(t)
		d := want
		d.Digest = digest.SHA512.FromBytes(data)
		got, err := s.PutBlob(ctx, bytes.NewReader(data), d)
		if err != nil || got.Digest != d.Digest {
			t.Fatalf("PutBlob sha512 = %+v, %v", got, err)
		}
		if back, err := readAll(ctx, s, got); err != nil || !bytes.Equal(back, data) {
			t.Fatalf("read back sha512: %d bytes, %v", len(back), err)
		}
	})
	t.Run("DigestMismatch", func(t *testing.T) {
		s := newStore(t)
		d := want
		d.Digest = other
		_, err := s.PutBlob(ctx, bytes.NewReader(data), d)
		wantKind(t, "put with a wrong digest", err, errdefs.ErrDigestMismatch)
		notVisible(t, s, other, want.Digest)
	})
	t.Run("SizeMismatch", func(t *testing.T) {
		for _, size := range []int64{want.Size - 1, want.Size + 1} {
			s := newStore(t)
			d := want
			d.Size = size
			_, err := s.PutBlob(ctx, bytes.NewReader(data), d)
			wantKind(t, fmt.Sprintf("put with size %d of %d", size, want.Size), err, errdefs.ErrDigestMismatch)
			notVisible(t, s, want.Digest)
		}
	})
	t.Run("ReaderFails", func(t *testing.T) {
		s := newStore(t)
		boom := errors.New("contenttest: source failed")
		_, err := s.PutBlob(ctx, &errReader{data: data[:1000], err: boom}, want)
		if !errors.Is(err, boom) {
			t.Fatalf("put from a failing reader: err = %v, want %v", err, boom)
		}
		notVisible(t, s, want.Digest, digest.FromBytes(data[:1000]))
	})
	t.Run("VerifiedReader", func(t *testing.T) {
		// A reader that verifies itself may be trusted not to end
		// (io.EOF) on wrong content; its error must still stop the put.
		s := newStore(t)
		bad := bytes.ToUpper(data)
		boom := fmt.Errorf("contenttest: content is not %s: %w", want.Digest, errdefs.ErrDigestMismatch)
		_, err := s.PutBlob(ctx, &verifiedReader{errReader: errReader{data: bad, err: boom}, d: want}, want)
		wantKind(t, "put from a verified reader that fails", err, errdefs.ErrDigestMismatch)
		notVisible(t, s, want.Digest)
		got, err := s.PutBlob(ctx, &verifiedReader{errReader: errReader{data: bytes.Clone(data), err: io.EOF}, d: want}, want)
		if err != nil || got.Digest != want.Digest {
			t.Fatalf("put from a verified reader = %+v, %v", got, err)
		}
		if back, err := readAll(ctx, s, want); err != nil || !bytes.Equal(back, data) {
			t.Fatalf("read back: %d bytes, %v", len(back), err)
		}
	})
	t.Run("Cancelled", func(t *testing.T) {
		s := newStore(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := s.PutBlob(cctx, bytes.NewReader(data), want)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("put with a cancelled context: err = %v", err)
		}
		notVisible(t, s, want.Digest)
	})
	t.Run("BadDigest", func(t *testing.T) {
		s := newStore(t)
		for _, tt := range []struct {
			d    digest.Digest
			kind error
		}{
			{"sha256:xyz", errdefs.ErrInvalid},
			{"md5:d41d8cd98f00b204e9800998ecf8427e", errdefs.ErrUnsupported},
		} {
			_, err := s.PutBlob(ctx, bytes.NewReader(data), v1.Descriptor{MediaType: v1.MediaTypeImageLayer, Digest: tt.d})
			wantKind(t, fmt.Sprintf("put %q", tt.d), err, tt.kind)
		}
	})
	t.Run("PutJSON", func(t *testing.T) {
		s := newStore(t)
		v := map[string]string{"hello": "world"}
		d, err := content.PutJSON(ctx, s, v1.MediaTypeImageConfig, v)
		if err != nil || d.MediaType != v1.MediaTypeImageConfig {
			t.Fatalf("PutJSON = %+v, %v", d, err)
		}
		got, err := content.ReadAll(ctx, s, d, 1<<20)
		if err != nil || string(got) != `{"hello":"world"}` {
			t.Fatalf("read back %q, %v", got, err)
		}
	})
}

// TestImageSource checks an ImageSource seeded with a Fixture by newSource.
func TestImageSource(t *testing.T, newSource func(t *testing.T, f Fixture) content.ImageSource) {
	f := newFixture(t)
	ctx := context.Background()
	src := newSource(t, f.Fixture)

	t.Run("Lookup", func(t *testing.T) {
		for ref, want := range map[string]v1.Descriptor{"multi": f.index, "single": f.amd64, string(f.arm64.Digest): f.arm64} {
			got, err := src.Lookup(ctx, ref)
			if err != nil || got.Digest != want.Digest || got.Size != want.Size || got.MediaType != want.MediaType {
				t.Fatalf("Lookup(%q) = %+v, %v; want %+v", ref, got, err, want)
			}
		}
		_, err := src.Lookup(ctx, "nope")
		wantKind(t, "lookup of an unknown tag", err, errdefs.ErrNotFound)
		_, err = src.Lookup(ctx, string(digest.FromString("not stored")))
		wantKind(t, "lookup of an unknown digest", err, errdefs.ErrNotFound)
	})
	t.Run("Resolve", func(t *testing.T) {
		tests := []struct {
			ref  string
			p    *v1.Platform
			want v1.Descriptor
			err  error
		}{
			{"multi", &linuxAMD64, f.amd64, nil},
			{"multi", &linuxARM64, f.arm64, nil},
			{"multi", &v1.Platform{OS: "linux", Architecture: "arm64"}, f.arm64, nil},
			{"multi", &v1.Platform{OS: "linux", Architecture: "aarch64"}, f.arm64, nil},
			{"multi", &v1.Platform{OS: "linux", Architecture: "s390x"}, v1.Descriptor{}, errdefs.ErrNotFound},
			{"single", &linuxAMD64, f.amd64, nil},
			{"single", nil, f.amd64, nil}, // no platform asked: a single manifest is taken as is
			{"single", &linuxARM64, v1.Descriptor{}, errdefs.ErrNotFound},
			{string(f.arm64.Digest), &linuxARM64, f.arm64, nil},
			{"nope", nil, v1.Descriptor{}, errdefs.ErrNotFound},
		}
		for _, tt := range tests {
			name := tt.ref
			var opts []content.ResolveOption
			if tt.p != nil {
				opts = append(opts, content.WithPlatform(*tt.p))
				name += " " + tt.p.OS + "/" + tt.p.Architecture
			}
			t.Run(name, func(t *testing.T) {
				img, err := src.Resolve(ctx, tt.ref, opts...)
				if tt.err != nil {
					wantKind(t, "resolve", err, tt.err)
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if img.Descriptor.Digest != tt.want.Digest {
					t.Fatalf("resolved %s, want %s", img.Descriptor.Digest, tt.want.Digest)
				}
				var m v1.Manifest
				if err := json.Unmarshal(f.Blobs[tt.want.Digest], &m); err != nil {
					t.Fatal(err)
				}
				if img.Manifest.Config.Digest != m.Config.Digest || len(img.Manifest.Layers) != 1 {
					t.Fatalf("manifest = %+v", img.Manifest)
				}
				var c v1.Image
				if err := json.Unmarshal(f.Blobs[m.Config.Digest], &c); err != nil {
					t.Fatal(err)
				}
				if img.Config.OS != c.OS || img.Config.Architecture != c.Architecture || img.Config.Variant != c.Variant {
					t.Fatalf("config is for %s/%s/%s, want %s/%s/%s", img.Config.OS, img.Config.Architecture, img.Config.Variant, c.OS, c.Architecture, c.Variant)
				}
			})
		}
	})
}

// TagStore is a backend whose tags can be moved and read back.
type TagStore interface {
	content.Tagger
	content.ImageSource
}

// TestTagger checks a Tagger, reading tags back through Lookup; each
// subtest gets a store seeded with a Fixture by newStore.
func TestTagger(t *testing.T, newStore func(t *testing.T, f Fixture) TagStore) {
	f := newFixture(t)
	ctx := context.Background()

	t.Run("Tag", func(t *testing.T) {
		s := newStore(t, f.Fixture)
		if err := s.Tag(ctx, "new", f.arm64); err != nil {
			t.Fatal(err)
		}
		if d, err := s.Lookup(ctx, "new"); err != nil || d.Digest != f.arm64.Digest {
			t.Fatalf("Lookup(new) = %s, %v; want %s", d.Digest, err, f.arm64.Digest)
		}
	})
	t.Run("Move", func(t *testing.T) {
		s := newStore(t, f.Fixture)
		if err := s.Tag(ctx, "single", f.index); err != nil {
			t.Fatal(err)
		}
		if d, err := s.Lookup(ctx, "single"); err != nil || d.Digest != f.index.Digest {
			t.Fatalf("Lookup(single) = %s, %v; want %s", d.Digest, err, f.index.Digest)
		}
		if d, err := s.Lookup(ctx, "multi"); err != nil || d.Digest != f.index.Digest {
			t.Fatalf("other tag changed: Lookup(multi) = %s, %v", d.Digest, err)
		}
	})
	t.Run("Missing", func(t *testing.T) {
		s := newStore(t, f.Fixture)
		missing := v1.Descriptor{MediaType: v1.MediaTypeImageManifest, Digest: digest.FromString("not stored"), Size: 10}
		wantKind(t, "tag a missing manifest", s.Tag(ctx, "gone", missing), errdefs.ErrNotFound)
		_, err := s.Lookup(ctx, "gone")
		wantKind(t, "lookup after a failed tag", err, errdefs.ErrNotFound)
	})
	t.Run("BadName", func(t *testing.T) {
		s := newStore(t, f.Fixture)
		for _, name := range []string{"", "bad name", "-x", strings.Repeat("a", 300) + "/"} {
			wantKind(t, fmt.Sprintf("tag %q", name), s.Tag(ctx, name, f.arm64), errdefs.ErrInvalid)
		}
	})
	t.Run("Corrupt", func(t *testing.T) {
		s := newStore(t, f.Fixture)
		d := f.corrupt
		d.MediaType = v1.MediaTypeImageManifest
		// Content is verified before it is parsed: the mismatch is found
		// first, whatever the bytes say.
		wantKind(t, "tag a corrupt manifest", s.Tag(ctx, "corrupt", d), errdefs.ErrDigestMismatch)
	})
}
