package validate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/internal/fsutil"

	"github.com/klauspost/compress/gzip"
	"github.com/ocikit/ocikit/layout"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// maxDocumentSize caps the JSON documents read whole (index.json, oci-layout
// and manifest, index and config blobs). Registries cap manifests at
// 4 MiB; configs with long histories and index.json files with very many
// tags stay far below 64 MiB.
const maxDocumentSize = 64 << 20

// maxDepth bounds nested indexes. Digests make cycles impossible in a
// verified graph; the bound also covers unverifiable algorithms.
const maxDepth = 32

// tmpPrefix marks the temporary files ocikit's layout package writes in
// blobs/ and the layout root while a write is in flight; they are not
// blobs.
const tmpPrefix = ".ocikit-tmp-"

// Option configures Layout.
type Option func(*options)

type options struct {
	ref      string
	allBlobs bool
	layers   bool
	strict   bool
	log      *slog.Logger
}

// WithStrict also reports, as warnings, SHOULD-level omissions that common
// tools make and that harm no consumer, such as a manifest or index without
// its own mediaType field (image-index.md, manifest.md: "This property
// SHOULD be used").
func WithStrict() Option { return func(o *options) { o.strict = true } }

// WithRef limits the walk to one image: the index.json entries whose
// org.opencontainers.image.ref.name is name, or, when name is a digest, the
// manifest or index blob with that digest. oci-layout and the whole of
// index.json are checked either way.
func WithRef(name string) Option { return func(o *options) { o.ref = name } }

// WithAllBlobs also verifies the content of blobs no descriptor reaches
// (image-layout.md: "The content of blobs/<alg>/<encoded> MUST match the
// digest"). By default only referenced blobs are hashed.
func WithAllBlobs() Option { return func(o *options) { o.allBlobs = true } }

// WithLayerContents decompresses the layers of container images and checks
// their tar streams: the digest against the config's rootfs.diff_ids
// (config.md#layer-diffid), a well-formed tar archive without duplicate
// entries (layer.md#distributable-format) and whiteouts that are empty
// regular files hiding nothing of their own layer (layer.md#whiteouts).
// This costs a decompression of every layer; by default only the count of
// diff_ids is checked.
func WithLayerContents() Option { return func(o *options) { o.layers = true } }

// WithLogger logs progress at debug level.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// ErrNotLayout is returned (wrapped) by Layout when dir does not exist or is
// not a directory: there is nothing to report on.
var ErrNotLayout = errdefs.New(errdefs.ErrInvalid, "validate: not an image layout directory")

// Layout validates the OCI image layout in dir: the oci-layout file, the
// blobs directory and its entry names, index.json, and, following every
// descriptor from index.json, each index, manifest, config and layer:
// schema, semantic rules, presence, size and digest of every blob (except
// those image-spec lets be absent: non-distributable or `urls` layers and
// `subject` targets), media types against content, and the config's
// diff_ids against the manifest's layers.
//
// Layout reads the raw files itself, so it reports on layouts that
// layout.Open refuses. It holds package layout's shared lock while it
// reads, so a concurrent `ocikit image gc` waits for it. The error is nil unless dir is not a directory
// (ErrNotLayout) or ctx ends; every problem with the content is in the
// report.
func Layout(ctx context.Context, dir string, opts ...Option) (*Report, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	target := dir
	if o.ref != "" {
		sep := ":"
		if isDigestRef(o.ref) {
			sep = "@"
		}
		target = dir + sep + o.ref
	}
	st, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: directory does not exist: %w", dir, ErrNotLayout)
		}
		return nil, fmt.Errorf("%w: %w", ErrNotLayout, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s: not a directory: %w", dir, ErrNotLayout)
	}
	w := &walker{
		checker: checker{r: newReport(target), strict: o.strict},
		ctx:     ctx,
		dir:     dir,
		opts:    o,
		blobs:   map[digest.Digest]*blobState{},
		docs:    map[docKey]*docState{},
	}
	start := time.Now()
	o.log.Debug("validate layout", "dir", dir, "ref", o.ref, "all-blobs", o.allBlobs, "layers", o.layers)
	// A directory that cannot be locked (flock(2) refused, or no flock
	// on this OS) is validated unlocked.
	unlock, err := layout.LockShared(ctx, dir)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		o.log.Debug("validating unlocked", "dir", dir, "error", err)
		unlock = func() {}
	}
	defer unlock()
	w.layoutHeader()
	present := w.blobsDir()
	idx := w.indexJSON()
	if idx != nil {
		w.walkIndexJSON(idx)
	}
	if o.allBlobs {
		w.queueUnreferenced(present)
	}
	w.runJobs()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o.log.Debug("validated layout", "dir", dir, "errors", w.r.Errors, "warnings", w.r.Warnings,
		"blobs", w.r.Checked.Blobs, "bytes", w.r.Checked.Bytes, "duration", time.Since(start))
	return w.r, nil
}

type walker struct {
	checker
	ctx   context.Context
	dir   string
	opts  options
	blobs map[digest.Digest]*blobState
	docs  map[docKey]*docState
	jobs  []*blobJob   // opaque blobs (layers, unknown types) to hash after the walk
	buf   []byte       // copy buffer for hashing, reused across blobs
	gz    *gzip.Reader // reused across layers (WithLayerContents)
}

// blobState caches what is known about one blob file, so that a blob
// shared by many images (a base layer, a config) is read and hashed once
// and its problems reported once.
type blobState struct {
	checked       bool
	exists        bool
	size          int64
	digestOK      bool // content hashes to the name (or cannot be verified)
	unverifiable  bool
	data          []byte         // content, kept only for JSON documents
	readErr       error          // the file exists but could not be read
	head          []byte         // first bytes, for the compression sniff
	layer         *layerContents // WithLayerContents
	layerReported bool           // layer's content problems were reported
	reported      bool           // a blob-level problem (unreadable, altered) was reported
}

// docKey names a document: the same digest read as a different kind is a
// different check (and a media-type conflict reported once per kind).
type docKey struct {
	d    digest.Digest
	kind docKind
}

type docState struct {
	parsed parsed
	ok     bool // parsed and trusted (size and digest matched)
}

func blobFile(d digest.Digest) string {
	alg, enc, _ := strings.Cut(string(d), ":")
	return "blobs/" + alg + "/" + enc
}

// layoutHeader checks the oci-layout file (image-layout.md#content: it MUST
// exist, be a JSON object and contain imageLayoutVersion).
func (w *walker) layoutHeader() {
	l := rootLoc(v1.ImageLayoutFile)
	data, err := fsutil.ReadFileLimit(filepath.Join(w.dir, v1.ImageLayoutFile), 1<<20)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			w.errorf(l, v1.ImageLayoutFile, clauseLayoutContent, "oci-layout file is missing: not an OCI image layout")
		} else {
			w.errorf(l, v1.ImageLayoutFile, clauseLayoutContent, "cannot read oci-layout: %v", err)
		}
		return
	}
	w.document(l, v1.ImageLayoutFile, kindLayoutHeader, v1.MediaTypeLayoutHeader, data)
}

// blobsDir checks that blobs/ exists and that its entries are named by the
// digest grammar (image-layout.md#blobs), and returns the blobs present.
func (w *walker) blobsDir() []digest.Digest {
	l := rootLoc(v1.ImageBlobsDir)
	root := filepath.Join(w.dir, v1.ImageBlobsDir)
	st, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		w.errorf(l, v1.ImageBlobsDir, clauseLayoutContent, "blobs directory is missing")
		return nil
	case err != nil:
		w.errorf(l, v1.ImageBlobsDir, clauseLayoutContent, "cannot read blobs directory: %v", err)
		return nil
	case !st.IsDir():
		w.errorf(l, v1.ImageBlobsDir, clauseLayoutContent, "blobs is not a directory")
		return nil
	}
	algs, err := os.ReadDir(root)
	if err != nil {
		w.errorf(l, v1.ImageBlobsDir, clauseLayoutContent, "cannot read blobs directory: %v", err)
		return nil
	}
	var present []digest.Digest
	for _, a := range algs {
		name := a.Name()
		if strings.HasPrefix(name, tmpPrefix) {
			continue
		}
		al := rootLoc("blobs/" + name)
		if !a.IsDir() {
			w.errorf(al, "blobs/"+name, clauseLayoutBlobs, "%q in blobs/ is not an algorithm directory", name)
			continue
		}
		if !algorithmRE().MatchString(name) {
			w.errorf(al, "blobs/"+name, clauseLayoutBlobs, "directory name %q does not match the digest algorithm grammar", name)
			continue
		}
		entries, err := os.ReadDir(filepath.Join(root, name))
		if err != nil {
			w.errorf(al, "blobs/"+name, clauseLayoutBlobs, "cannot read: %v", err)
			continue
		}
		for _, e := range entries {
			enc := e.Name()
			if strings.HasPrefix(enc, tmpPrefix) {
				continue
			}
			file := "blobs/" + name + "/" + enc
			el := rootLoc(file)
			d := digest.Digest(name + ":" + enc)
			switch {
			case !encodedRE().MatchString(enc):
				w.errorf(el, file, clauseLayoutBlobs, "file name %q does not match the digest encoding grammar", enc)
				continue
			case e.Type()&fs.ModeSymlink != 0:
				// Not forbidden, but the layout is no longer
				// self-contained (a copy or an archive of it breaks).
				w.warnf(el, file, clauseLayoutBlobs, "blob is a symbolic link")
			case !e.Type().IsRegular():
				w.errorf(el, file, clauseLayoutBlobs, "blob is not a regular file (%s)", e.Type())
				continue
			}
			if (name == "sha256" || name == "sha512") && d.Validate() != nil {
				w.errorf(el, file, clauseDigests, "file name %q is not a valid %s encoding (lowercase hex of the right length)", enc, name)
				continue
			}
			present = append(present, d)
		}
	}
	return present
}

// indexJSON checks index.json (image-layout.md#indexjson-file: it MUST
// exist and be an image index) and returns it decoded.
func (w *walker) indexJSON() *v1.Index {
	l := rootLoc("index.json")
	data, err := fsutil.ReadFileLimit(filepath.Join(w.dir, "index.json"), maxDocumentSize)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			w.errorf(l, "index.json", clauseLayoutContent, "index.json is missing")
		} else {
			w.errorf(l, "index.json", clauseLayoutContent, "cannot read index.json: %v", err)
		}
		return nil
	}
	w.r.Checked.Indexes++
	p := w.document(l, "index.json", kindIndex, v1.MediaTypeImageIndex, data)
	return p.index
}

// walkIndexJSON follows the entries of index.json (all, or the one image
// WithRef names).
func (w *walker) walkIndexJSON(idx *v1.Index) {
	l := rootLoc("index.json")
	tags := map[string]int{}
	for i, d := range idx.Manifests {
		name, ok := d.Annotations[v1.AnnotationRefName]
		if !ok {
			continue
		}
		w.r.Checked.Tags++
		if j, dup := tags[name]; dup {
			w.warnf(l.field("manifests").index(i), "index.json", clauseLayoutIndex, "ref.name %q is also on manifests[%d]; tools resolving it will pick one or refuse", name, j)
			continue
		}
		tags[name] = i
	}
	ref := w.opts.ref
	if ref == "" {
		for i, d := range idx.Manifests {
			if w.ctx.Err() != nil {
				return
			}
			w.follow(l.field("manifests").index(i), "index.json", d, roleIndexEntry, 0)
		}
		return
	}
	found := false
	for i, d := range idx.Manifests {
		if d.Annotations[v1.AnnotationRefName] == ref || string(d.Digest) == ref {
			found = true
			w.follow(l.field("manifests").index(i), "index.json", d, roleIndexEntry, 0)
		}
	}
	if found {
		return
	}
	if isDigestRef(ref) {
		w.followDigest(digest.Digest(ref))
		return
	}
	w.errorf(l, "index.json", clauseLayoutIndex, "no entry with ref.name %q", ref)
}

// isDigestRef tells a digest (of an algorithm this program verifies) from a
// tag: "v1:2" is a tag, "sha256:<64 hex>" a digest.
func isDigestRef(ref string) bool { return digest.Digest(ref).Validate() == nil }

// followDigest starts the walk at a blob no index.json entry names (the
// DIR@DIGEST form), taking its media type from its content.
func (w *walker) followDigest(d digest.Digest) {
	l := rootLoc(blobFile(d))
	if d.Validate() != nil {
		w.errorf(l, "", clauseDigests, "%q is not a digest this validator can verify", d)
		return
	}
	fi, err := os.Stat(filepath.Join(w.dir, filepath.FromSlash(blobFile(d))))
	if err != nil {
		w.errorf(l, blobFile(d), clauseLayoutBlobs, "blob %s is missing", d)
		return
	}
	data, err := fsutil.ReadFileLimit(filepath.Join(w.dir, filepath.FromSlash(blobFile(d))), maxDocumentSize)
	if err != nil {
		w.errorf(l, blobFile(d), clauseLayoutBlobs, "cannot read: %v", err)
		return
	}
	mt := v1.MediaTypeImageManifest
	if k := sniffJSON(data); k == kindIndex {
		mt = v1.MediaTypeImageIndex
	}
	w.follow(rootLoc(blobFile(d)), "", v1.Descriptor{MediaType: mt, Digest: d, Size: fi.Size()}, roleIndexEntry, 0)
}

// role is what a descriptor's target is to the document holding it.
type role int

const (
	roleIndexEntry role = iota // an entry of an index's manifests
	roleConfig
	roleLayer
	roleSubject
	roleUnreferenced // a blob no descriptor reaches (WithAllBlobs)
)

// blobProblems reports what is wrong with the blob d names (missing where
// it must be present, size, digest, unverifiable) and returns its content
// (for documents) and whether the content can be trusted.
func (w *walker) blobProblems(l loc, d v1.Descriptor, r role, b *blobState) ([]byte, bool) {
	file := blobFile(d.Digest)
	if b.readErr != nil && !b.reported {
		b.reported = true
		w.errorf(l, file, clauseLayoutBlobs, "cannot read blob: %v", b.readErr)
	}
	var data []byte
	switch {
	case !b.exists && d.Data != nil && int64(len(d.Data)) == d.Size && verifies(d.Digest, d.Data):
		// descriptor.md#embedded-content: the data field is the content.
		return d.Data, true
	case !b.exists:
		switch {
		case r == roleSubject:
			// manifest.md: subject is a weak association to another
			// graph, which the layout need not hold.
			return nil, false
		case r == roleLayer && (isNonDistributable(d.MediaType) || len(d.URLs) > 0):
			// layer.md#non-distributable-layers and descriptor.md urls:
			// the content MAY be fetched from elsewhere.
			return nil, false
		}
		if !b.reported {
			w.errorf(l, file, clauseLayoutBlobs, "referenced blob %s is missing", d.Digest)
			b.reported = true
		}
		return nil, false
	case b.size != d.Size:
		w.errorf(l, file, clauseDescriptor, "size mismatch: %s has %d bytes, descriptor says %d", file, b.size, d.Size)
		w.blobContentProblem(l, file, d.Digest, b)
		return nil, false
	case !b.digestOK:
		w.blobContentProblem(l, file, d.Digest, b)
		return nil, false
	default:
		data = b.data
	}
	if b.unverifiable && !b.reported {
		w.warnf(l, file, clauseRegistered, "content of %s not verified: digest algorithm %q unsupported", file, d.Digest.Algorithm())
		b.reported = true
	}
	return data, true
}

// checkable reports whether a descriptor's digest can name a blob file:
// it matches the grammar (the schema reports it otherwise) and, for the
// algorithms this program knows, their encoding (checkDigest reports it).
func checkable(d digest.Digest) bool {
	if !digestGrammar(string(d)) {
		return false
	}
	err := d.Validate()
	return err == nil || errors.Is(err, digest.ErrDigestUnsupported)
}

// follow checks the blob a descriptor points to and, for documents,
// descends into it. It returns the decoded document when there is one and
// its content is trusted.
func (w *walker) follow(l loc, from string, d v1.Descriptor, r role, depth int) (parsed, bool) {
	if w.ctx.Err() != nil || !checkable(d.Digest) {
		return parsed{}, false
	}
	k := kindOf(d.MediaType)
	if r == roleLayer || k == kindOther || k == kindDescriptor || k == kindLayoutHeader {
		// Opaque content: hashed later, in parallel (runJobs).
		w.queue(l, d, r)
		return parsed{}, false
	}
	file := blobFile(d.Digest)
	b := w.blob(d.Digest, true)
	data, ok := w.blobProblems(l, d, r, b)
	if !ok {
		return parsed{}, false
	}
	if depth > maxDepth {
		w.errorf(l, file, clauseIndexProps, "indexes nested more than %d deep", maxDepth)
		return parsed{}, false
	}
	if data == nil {
		w.errorf(l, file, clauseDescriptor, "%s is %d bytes, too large for %s", file, b.size, k.article())
		return parsed{}, false
	}
	key := docKey{d.Digest, k}
	if ds, seen := w.docs[key]; seen {
		if r == roleIndexEntry && ds.parsed.manifest != nil {
			w.crossCheck(l, from, d, ds.parsed.manifest)
		}
		return ds.parsed, ds.ok
	}
	ds := &docState{}
	w.docs[key] = ds
	switch k {
	case kindIndex:
		w.r.Checked.Indexes++
	case kindManifest:
		w.r.Checked.Manifests++
	case kindConfig:
		w.r.Checked.Configs++
	}
	p := w.document(l.enter(), file, k, d.MediaType, data)
	ds.parsed, ds.ok = p, true
	el := l.enter()
	switch k {
	case kindIndex:
		if p.index != nil {
			for i, m := range p.index.Manifests {
				w.follow(el.field("manifests").index(i), file, m, roleIndexEntry, depth+1)
			}
			if p.index.Subject != nil {
				w.follow(el.field("subject"), file, *p.index.Subject, roleSubject, depth+1)
			}
		}
	case kindManifest:
		if p.manifest != nil {
			w.walkManifest(el, file, p.manifest, depth)
			if r == roleIndexEntry {
				w.crossCheck(l, from, d, p.manifest)
			}
		}
	}
	return p, true
}

// crossCheck compares what an index entry says about a manifest with the
// manifest: its platform against the config's (image-index.md: platform
// "describes the minimum runtime requirements of the image"), and its
// artifactType against the manifest's (descriptor.md: "the value of the
// config descriptor mediaType when the descriptor references an image
// manifest", or the manifest's own artifactType).
func (w *walker) crossCheck(l loc, file string, d v1.Descriptor, m *v1.Manifest) {
	if d.Platform != nil {
		if cs, ok := w.docs[docKey{m.Config.Digest, kindConfig}]; ok && cs.parsed.config != nil {
			have := cs.parsed.config.Platform
			want := *d.Platform
			if have.Variant == "" || want.Variant == "" {
				have.Variant, want.Variant = "", ""
			}
			if !samePlatform(have, want) {
				w.warnf(l.field("platform"), file, clauseIndexProps, "platform %s differs from the image config's %s", platformString(*d.Platform), platformString(cs.parsed.config.Platform))
			}
		}
	}
	if d.ArtifactType != "" {
		want := m.ArtifactType
		if want == "" {
			want = m.Config.MediaType
		}
		if d.ArtifactType != want {
			w.warnf(l.field("artifactType"), file, clauseDescriptor, "artifactType %s differs from the manifest's %s", d.ArtifactType, want)
		}
	}
}

func (w *walker) walkManifest(el loc, file string, m *v1.Manifest, depth int) {
	cfg, ok := w.follow(el.field("config"), file, m.Config, roleConfig, depth+1)
	var diffIDs []digest.Digest
	image := ok && cfg.config != nil
	if image {
		diffIDs = cfg.config.RootFS.DiffIDs
		if len(diffIDs) != len(m.Layers) {
			w.errorf(el.field("config"), blobFile(m.Config.Digest), clauseConfigProps, "rootfs.diff_ids has %s, the manifest has %s", plural(len(diffIDs), "entry"), plural(len(m.Layers), "layer"))
			diffIDs = nil
		}
	}
	for i, layer := range m.Layers {
		j := w.queue(el.field("layers").index(i), layer, roleLayer)
		if j != nil && w.opts.layers && image {
			j.contents = true
			if diffIDs != nil {
				j.want = diffIDs[i]
			}
		}
	}
	if m.Subject != nil {
		w.follow(el.field("subject"), file, *m.Subject, roleSubject, depth+1)
	}
}

// blobContentProblem reports, once per blob, content that does not hash to
// its name.
func (w *walker) blobContentProblem(l loc, file string, d digest.Digest, b *blobState) {
	if b.digestOK || b.reported {
		return
	}
	b.reported = true
	w.errorf(l, file, clauseLayoutBlobs, "content of %s does not match its digest", file)
}

func verifies(d digest.Digest, data []byte) bool {
	if !d.Algorithm().Available() {
		return false
	}
	return d.Algorithm().FromBytes(data) == d
}
