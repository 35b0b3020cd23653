package dockerarchive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/internal/tarx"
	"github.com/ocikit/ocikit/layer"
	"github.com/ocikit/ocikit/layout"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Caps of Open.
const (
	// DefaultMaxBlobSize caps one file of an archive.
	DefaultMaxBlobSize = tarx.DefaultMaxBlobSize
	// maxConfigSize caps an image config (as a manifest).
	maxConfigSize = 4 << 20
	// maxEntries caps the entries of one archive.
	maxEntries = 1 << 16
	// maxLinkHops bounds a chain of links between entries.
	maxLinkHops = 16
)

// Option adjusts Open and Create: WithTempDir, WithMaxBlobSize.
type Option = tarx.Option

type options = tarx.Options

// WithTempDir puts the temporary layout in dir instead of os.TempDir().
func WithTempDir(dir string) Option { return tarx.WithTempDir(dir) }

// WithMaxBlobSize caps one file of the archive Open reads (default
// DefaultMaxBlobSize).
func WithMaxBlobSize(n int64) Option { return tarx.WithMaxBlobSize(n) }

func newOptions(opts []Option) options { return tarx.NewOptions(opts) }

// Archive is a docker archive opened for reading: a content.ImageSource
// (and content.Stater) whose images are manifest.json's. Close removes
// its temporary layout.
type Archive struct {
	tmp   string
	l     *layout.Layout
	items []v1.Descriptor // the manifest of each manifest.json item, in order
	tags  []string        // every RepoTag, for error messages
}

var (
	_ content.ImageSource = (*Archive)(nil)
	_ content.Stater      = (*Archive)(nil)
)

// entry is what extraction learnt of one tar entry: a file stored under
// the digest of its content, or a link to another entry's name.
type entry struct {
	digest digest.Digest
	size   int64
	bad    bool   // a blobs/ALG/ENC entry whose content is not ENC
	link   string // the entry name a link resolves to (one hop)
}

// Open reads the docker archive in file (see the package doc for what is
// refused). A missing file is errdefs.ErrNotFound.
func Open(ctx context.Context, file string, opts ...Option) (*Archive, error) {
	o := newOptions(opts)
	f, size, err := tarx.OpenFile(file, ErrInvalidArchive)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tmp, err := os.MkdirTemp(o.TempDir, "ocikit-docker-archive-")
	if err != nil {
		return nil, fmt.Errorf("open archive: %w", err)
	}
	r, limit, closeR, err := decompressed(f, size, o)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("archive %s: %w", file, err)
	}
	a, err := open(ctx, r, limit, tmp, o)
	closeR()
	if err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("archive %s: %w", file, err)
	}
	return a, nil
}

// decompressed reads the archive through gzip or zstd when it is
// compressed (`docker save | gzip`, which docker load and podman load
// read too), and returns the bound on what its tar may hold: the file's
// size for a plain tar, the blob cap for a compressed one (a stream that
// inflates past it is refused, not written out).
func decompressed(f *os.File, size int64, o options) (io.Reader, int64, func(), error) {
	br := bufio.NewReaderSize(f, 1<<20)
	magic, _ := br.Peek(4)
	var mediaType string
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		mediaType = v1.MediaTypeImageLayerGzip
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		mediaType = v1.MediaTypeImageLayerZstd
	default:
		return br, size, func() {}, nil
	}
	zr, err := layer.Decompress(mediaType, br)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("%v: %w", err, ErrInvalidArchive)
	}
	return &capReader{r: zr, limit: o.MaxBlobSize}, o.MaxBlobSize, func() { zr.Close() }, nil
}

// capReader fails once more than limit bytes have been read.
type capReader struct {
	r        io.Reader
	n, limit int64
}

func (c *capReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.limit {
		return n, fmt.Errorf("decompressed archive larger than %d bytes: %w", c.limit, ErrInvalidArchive)
	}
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%v: %w", err, ErrInvalidArchive)
	}
	return n, err
}

type extraction struct {
	dir      string
	o        options
	entries  map[string]*entry
	verified map[digest.Digest]bool
	docs     map[string][]byte // manifest.json, index.json, oci-layout
}

func open(ctx context.Context, r io.Reader, size int64, tmp string, o options) (*Archive, error) {
	x := &extraction{dir: tmp, o: o, entries: map[string]*entry{}, verified: map[digest.Digest]bool{}, docs: map[string][]byte{}}
	if err := x.extract(ctx, r, size); err != nil {
		return nil, err
	}
	mdata, ok := x.docs[ManifestFile]
	if !ok {
		return nil, fmt.Errorf("no %s: not a docker archive: %w", ManifestFile, ErrInvalidArchive)
	}
	items, err := ParseManifest(mdata)
	if err != nil {
		return nil, err
	}
	marker, ok := x.docs[v1.ImageLayoutFile]
	if !ok {
		marker = []byte(`{"imageLayoutVersion":"1.0.0"}`)
	}
	index, ok := x.docs[v1.ImageIndexFile]
	if !ok {
		index = []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`)
	}
	for name, data := range map[string][]byte{v1.ImageLayoutFile: marker, v1.ImageIndexFile: index} {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			return nil, err
		}
	}
	l, err := layout.Open(ctx, tmp)
	if err != nil {
		return nil, err
	}
	a := &Archive{tmp: tmp, l: l}
	byConfig, err := ociManifests(ctx, l)
	if err != nil {
		return nil, err
	}
	for i, it := range items {
		desc, err := x.image(ctx, l, it, byConfig)
		if err != nil {
			return nil, fmt.Errorf("%s: image %d: %w", ManifestFile, i, err)
		}
		a.items = append(a.items, desc)
		a.tags = append(a.tags, it.RepoTags...)
		for _, t := range it.RepoTags {
			if err := l.Tag(ctx, t, desc); err != nil {
				return nil, fmt.Errorf("%s: image %d: RepoTags: %w", ManifestFile, i, err)
			}
		}
	}
	return a, nil
}

// extract stores the archive's files in x.dir's blob store and records
// its entries.
func (x *extraction) extract(ctx context.Context, r io.Reader, fileSize int64) error {
	if err := os.MkdirAll(filepath.Join(x.dir, v1.ImageBlobsDir, "sha256"), 0o755); err != nil {
		return err
	}
	tr := tarx.NewReader(r, fileSize, maxEntries, ErrInvalidArchive)
	for {
		hdr, name, err := tr.Next(ctx)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeDir {
			continue
		}
		if name == "" {
			return fmt.Errorf("entry %q: not a directory: %w", clip(hdr.Name), ErrInvalidArchive)
		}
		if _, dup := x.entries[name]; dup {
			return fmt.Errorf("entry %q: appears twice: %w", clip(name), ErrInvalidArchive)
		}
		switch hdr.Typeflag {
		case tar.TypeSymlink:
			// A link between entries, as docker save shares a layer between
			// images: kept as an alias, never created on disk, and only
			// within the archive.
			if strings.HasPrefix(hdr.Linkname, "/") {
				return fmt.Errorf("entry %q: link to absolute %q: %w", clip(name), clip(hdr.Linkname), ErrInvalidArchive)
			}
			target, err := entryName(path.Join(path.Dir(name), hdr.Linkname))
			if err != nil || target == "" {
				return fmt.Errorf("entry %q: link %q leaves the archive: %w", clip(name), clip(hdr.Linkname), ErrInvalidArchive)
			}
			x.entries[name] = &entry{link: target}
		case tar.TypeLink:
			target, err := entryName(hdr.Linkname)
			if err != nil || target == "" {
				return fmt.Errorf("entry %q: hard link %q leaves the archive: %w", clip(name), clip(hdr.Linkname), ErrInvalidArchive)
			}
			x.entries[name] = &entry{link: target}
		case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // old writers' regular files
			if err := tr.CheckSize(hdr); err != nil {
				return err
			}
			if err := x.file(ctx, name, tr, hdr.Size); err != nil {
				return fmt.Errorf("entry %q: %w", clip(name), err)
			}
		default:
			return fmt.Errorf("entry %q: type %q is not a file, directory or link: %w", clip(hdr.Name), hdr.Typeflag, ErrInvalidArchive)
		}
	}
}

// file stores one regular file: the documents in memory (capped), every
// other file in the blob store under the sha256 of its content.
func (x *extraction) file(ctx context.Context, name string, r *tarx.Reader, size int64) error {
	switch name {
	case ManifestFile, v1.ImageIndexFile, v1.ImageLayoutFile:
		limit := int64(MaxManifestSize)
		if name == v1.ImageIndexFile {
			limit = layout.MaxJSONSize
		}
		if size > limit {
			return fmt.Errorf("%d bytes, more than %d: %w", size, limit, ErrInvalidArchive)
		}
		data := make([]byte, size)
		if _, err := io.ReadFull(r, data); err != nil {
			return fmt.Errorf("truncated: %w", ErrInvalidArchive)
		}
		x.docs[name] = data
		return nil
	case "repositories":
		return nil // the legacy name map; manifest.json's RepoTags say the same
	}
	if size > x.o.MaxBlobSize {
		return fmt.Errorf("%d bytes, more than %d: %w", size, x.o.MaxBlobSize, ErrInvalidArchive)
	}
	// A file named blobs/ALG/ENC (docker 25, an OCI layout) is stored under
	// that name even when its content differs, so that reading it fails as
	// a digest mismatch; a file the manifest names must be intact.
	var named digest.Digest
	if rest, ok := strings.CutPrefix(name, v1.ImageBlobsDir+"/"); ok {
		if alg, enc, ok := strings.Cut(rest, "/"); ok && layout.CheckDigest(digest.Digest(alg+":"+enc)) == nil {
			named = digest.Digest(alg + ":" + enc)
		}
	}
	tmp, err := os.CreateTemp(filepath.Join(x.dir, v1.ImageBlobsDir), ".extract-")
	if err != nil {
		return err
	}
	defer func() { tmp.Close(); os.Remove(tmp.Name()) }()
	alg := digest.Canonical
	if named != "" {
		alg = named.Algorithm()
	}
	h := alg.Hash()
	n, err := r.Copy(ctx, io.MultiWriter(tmp, h), size)
	if err != nil {
		return err
	}
	got := digest.NewDigest(alg, h)
	e := &entry{digest: got, size: n}
	store := got
	if named != "" && named != got {
		e.bad, store = true, named
	}
	x.entries[name] = e
	if x.verified[store] || (e.bad && fileExists(x.blobPath(store))) {
		return nil // the same content again, or a corrupt copy of a blob held
	}
	if err := os.MkdirAll(filepath.Dir(x.blobPath(store)), 0o755); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), x.blobPath(store)); err != nil {
		return err
	}
	if !e.bad {
		x.verified[store] = true
	}
	return nil
}

func (x *extraction) blobPath(d digest.Digest) string {
	return filepath.Join(x.dir, v1.ImageBlobsDir, string(d.Algorithm()), d.Encoded())
}

func fileExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// resolve finds the file an archive path names, following links between
// entries.
func (x *extraction) resolve(p string) (*entry, error) {
	name, err := entryName(p)
	if err != nil {
		return nil, err
	}
	for hop := 0; hop <= maxLinkHops; hop++ {
		e, ok := x.entries[name]
		switch {
		case !ok:
			return nil, fmt.Errorf("%q: not in the archive: %w", clip(p), ErrInvalidArchive)
		case e.link == "":
			if e.bad {
				return nil, fmt.Errorf("%q: content is %s: %w", clip(p), e.digest, errdefs.ErrDigestMismatch)
			}
			return e, nil
		}
		name = e.link
	}
	return nil, fmt.Errorf("%q: more than %d links: %w", clip(p), maxLinkHops, ErrInvalidArchive)
}

// image returns the manifest of one manifest.json item: the OCI manifest
// the archive's index.json has for its config, else one made of its
// layer tars (checked against the config's diff_ids) and stored in l.
func (x *extraction) image(ctx context.Context, l *layout.Layout, it ManifestItem, byConfig map[digest.Digest]v1.Descriptor) (v1.Descriptor, error) {
	ce, err := x.resolve(it.Config)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("config: %w", err)
	}
	cfgDesc := v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Digest: ce.digest, Size: ce.size}
	data, err := content.ReadAll(ctx, l, cfgDesc, maxConfigSize)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("config: %w", err)
	}
	var cfg v1.Image
	if err := json.Unmarshal(data, &cfg); err != nil {
		return v1.Descriptor{}, fmt.Errorf("config %s: %v: %w", ce.digest, err, ErrInvalidArchive)
	}
	if d, ok := byConfig[ce.digest]; ok {
		return d, nil
	}
	if len(cfg.RootFS.DiffIDs) != len(it.Layers) {
		return v1.Descriptor{}, fmt.Errorf("config %s has %d diff_ids for %d layers: %w", ce.digest, len(cfg.RootFS.DiffIDs), len(it.Layers), ErrInvalidArchive)
	}
	m := v1.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: v1.MediaTypeImageManifest,
		Config:    cfgDesc,
		Layers:    make([]v1.Descriptor, 0, len(it.Layers)),
	}
	for i, p := range it.Layers {
		le, err := x.resolve(p)
		if err != nil {
			return v1.Descriptor{}, fmt.Errorf("layer %d: %w", i, err)
		}
		if le.digest != cfg.RootFS.DiffIDs[i] {
			return v1.Descriptor{}, fmt.Errorf("layer %d %q: content is %s, the config's diff_id %s: %w", i, clip(p), le.digest, clip(string(cfg.RootFS.DiffIDs[i])), errdefs.ErrDigestMismatch)
		}
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: v1.MediaTypeImageLayer, Digest: le.digest, Size: le.size})
	}
	return content.PutJSON(ctx, l, v1.MediaTypeImageManifest, m)
}

// ociManifests maps config digests to the image manifests an OCI
// index.json in the archive lists (directly or in an index it lists).
func ociManifests(ctx context.Context, l *layout.Layout) (map[digest.Digest]v1.Descriptor, error) {
	idx, err := l.Index(ctx)
	if err != nil {
		return nil, err
	}
	out := map[digest.Digest]v1.Descriptor{}
	add := func(d v1.Descriptor) error {
		data, err := content.ReadAll(ctx, l, d, MaxManifestSize)
		if err != nil {
			return err
		}
		m, err := layout.ParseManifest(data)
		if err != nil {
			return fmt.Errorf("manifest %s: %w", d.Digest, err)
		}
		if _, ok := out[m.Config.Digest]; !ok {
			out[m.Config.Digest] = v1.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}
		}
		return nil
	}
	for _, d := range idx.Manifests {
		switch {
		case layout.IsManifest(d.MediaType):
			if err := add(d); err != nil {
				return nil, fmt.Errorf("%s: %w", v1.ImageIndexFile, err)
			}
		case layout.IsIndex(d.MediaType):
			data, err := content.ReadAll(ctx, l, d, MaxManifestSize)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", v1.ImageIndexFile, err)
			}
			sub, err := layout.ParseIndex(data)
			if err != nil {
				return nil, fmt.Errorf("%s: index %s: %w", v1.ImageIndexFile, d.Digest, err)
			}
			for _, c := range sub.Manifests {
				if layout.IsManifest(c.MediaType) {
					if err := add(c); err != nil {
						return nil, fmt.Errorf("%s: index %s: %w", v1.ImageIndexFile, d.Digest, err)
					}
				}
			}
		}
	}
	return out, nil
}

// entryName cleans a tar entry name ("./manifest.json" is
// "manifest.json") as tarx.EntryName does, for the names links and
// manifest.json give.
func entryName(name string) (string, error) { return tarx.EntryName(name, ErrInvalidArchive) }

// OpenBlob opens a blob of the archive, verified as it is read
// (content.Provider).
func (a *Archive) OpenBlob(ctx context.Context, desc v1.Descriptor) (io.ReadCloser, error) {
	return a.l.OpenBlob(ctx, desc)
}

// StatBlob reports a blob's size (content.Stater).
func (a *Archive) StatBlob(ctx context.Context, d digest.Digest) (int64, error) {
	return a.l.StatBlob(ctx, d)
}

// Lookup finds what ref names (content.ImageSource): "@N", the N-th image
// of manifest.json; a RepoTag ("NAME:TAG") or a tag of the archive's OCI
// index.json; or a digest.
func (a *Archive) Lookup(ctx context.Context, ref string) (v1.Descriptor, error) {
	n, ok, err := ParseSourceIndex(ref)
	switch {
	case err != nil:
		return v1.Descriptor{}, err
	case ok && n >= len(a.items):
		return v1.Descriptor{}, fmt.Errorf("image @%d: the archive has %d: %w", n, len(a.items), errdefs.ErrNotFound)
	case ok:
		return a.items[n], nil
	}
	d, err := a.l.Lookup(ctx, ref)
	if errors.Is(err, errdefs.ErrNotFound) {
		// Not the temporary layout's message: name what the archive has.
		have := "none"
		if len(a.tags) > 0 {
			have = strings.Join(a.tags[:min(len(a.tags), 20)], ", ")
		}
		return v1.Descriptor{}, fmt.Errorf("image %q: not in the archive, which holds %d images (RepoTags: %s; @0 to @%d by position): %w",
			clip(ref), len(a.items), have, max(len(a.items)-1, 0), errdefs.ErrNotFound)
	}
	return d, err
}

// Resolve resolves ref (as Lookup takes it) to one image
// (content.Resolver).
func (a *Archive) Resolve(ctx context.Context, ref string, opts ...content.ResolveOption) (*content.Image, error) {
	if _, ok, _ := ParseSourceIndex(ref); ok {
		d, err := a.Lookup(ctx, ref)
		if err != nil {
			return nil, err
		}
		ref = string(d.Digest)
	}
	return a.l.Resolve(ctx, ref, opts...)
}

// Index lists the archive's images, one entry per manifest.json item: an
// archive of one image needs no name.
func (a *Archive) Index(context.Context) (*v1.Index, error) {
	return &v1.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageIndex, Manifests: append([]v1.Descriptor{}, a.items...)}, nil
}

// Close removes the temporary layout.
func (a *Archive) Close() error { return os.RemoveAll(a.tmp) }
