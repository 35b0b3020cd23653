package validate

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// sniffLen is how much of a blob is kept to recognise its format.
const sniffLen = 512

// blobRead is what reading one blob file found. readBlob fills it without
// touching the walker, so that layers can be read in parallel.
type blobRead struct {
	exists       bool
	regular      bool
	size         int64
	digestOK     bool
	unverifiable bool
	data         []byte
	head         []byte
	err          error // the file exists but could not be read
	hashed       bool  // content was read and hashed (counts as checked)
}

// readBlob reads and hashes the blob file at path, keeping the content when
// keep is set and it is at most maxDocumentSize bytes.
func readBlob(path string, d digest.Digest, keep bool, buf []byte) blobRead {
	var r blobRead
	fi, err := os.Stat(path)
	if err != nil {
		return r
	}
	r.exists = true
	r.size = fi.Size()
	if !fi.Mode().IsRegular() {
		return r // reported by the blobs/ scan; nothing to read
	}
	r.regular = true
	verifier := d.Validate() == nil
	r.unverifiable = !verifier
	f, err := os.Open(path)
	if err != nil {
		r.err = err
		return r
	}
	defer f.Close()
	var h digest.Digester
	if verifier {
		h = d.Algorithm().Digester()
	}
	if keep && r.size <= maxDocumentSize {
		data, err := io.ReadAll(f)
		if err != nil {
			r.err = err
			return r
		}
		r.size = int64(len(data))
		r.data = data
		r.head = data[:min(len(data), sniffLen)]
		if h != nil {
			h.Hash().Write(data)
		}
	} else {
		head := make([]byte, sniffLen)
		hn, err := io.ReadFull(f, head)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			r.err = err
			return r
		}
		r.head = head[:hn]
		var dst io.Writer = io.Discard
		if h != nil {
			dst = h.Hash()
		}
		dst.Write(r.head)
		n, err := io.CopyBuffer(dst, struct{ io.Reader }{f}, buf)
		if err != nil {
			r.err = err
			return r
		}
		r.size = n + int64(hn)
	}
	r.hashed = true
	r.digestOK = h == nil || h.Digest() == d
	return r
}

// blob reads and hashes blob d once, keeping its content when keep is set
// (JSON documents) and the blob is small enough.
func (w *walker) blob(d digest.Digest, keep bool) *blobState {
	b := w.blobs[d]
	if b == nil {
		b = &blobState{}
		w.blobs[d] = b
	}
	if b.checked && (!keep || b.data != nil || !b.exists || !b.digestOK || b.size > maxDocumentSize) {
		return b
	}
	if w.buf == nil {
		w.buf = make([]byte, 256<<10)
	}
	w.store(b, d, readBlob(filepath.Join(w.dir, filepath.FromSlash(blobFile(d))), d, keep, w.buf))
	if b.readErr != nil && !b.reported {
		b.reported = true
		w.errorf(rootLoc(blobFile(d)), blobFile(d), clauseLayoutBlobs, "cannot read blob: %v", b.readErr)
	}
	return b
}

// store records a read in the blob's state.
func (w *walker) store(b *blobState, d digest.Digest, r blobRead) {
	b.checked = true
	b.exists, b.size, b.unverifiable = r.exists, r.size, r.unverifiable
	b.data, b.head, b.readErr = r.data, r.head, r.err
	b.digestOK = r.digestOK
	if r.exists && !r.regular {
		b.reported = true // the blobs/ scan said it
	}
	if r.hashed {
		w.r.Checked.Blobs++
		w.r.Checked.Bytes += r.size
	}
}

// compression recognises a blob's format by its magic bytes.
func compression(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return "gzip"
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "zstd"
	case len(head) == 0:
		return "empty"
	}
	return "none"
}

// wantCompression is the compression a layer media type declares, or ""
// for types this validator does not know.
func wantCompression(mediaType string) string {
	switch {
	case mediaType == dockerLayerGzip || mediaType == dockerLayerForeign || strings.HasSuffix(mediaType, ".tar+gzip"):
		return "gzip"
	case strings.HasSuffix(mediaType, ".tar+zstd"):
		return "zstd"
	case mediaType == v1.MediaTypeImageLayer || mediaType == v1.MediaTypeImageLayerNonDistributable: //nolint:staticcheck // deprecated types are still valid input
		return "none"
	}
	return ""
}

// checkLayerContent checks that a layer's content is compressed as its
// media type says (layer.md: "+gzip" is gzip, "+zstd" is zstd, the bare
// type is a tar archive).
func (w *walker) checkLayerContent(l loc, file string, d v1.Descriptor, b *blobState) {
	want := wantCompression(d.MediaType)
	if want == "" || b.head == nil && b.size > 0 {
		return
	}
	got := compression(b.head)
	if got == want {
		return
	}
	clause := clauseLayerTar
	switch want {
	case "gzip":
		clause = clauseLayerGzip
	case "zstd":
		clause = clauseLayerZstd
	}
	switch got {
	case "empty":
		w.errorf(l, file, clause, "layer %s is empty, media type %s says a tar archive", file, d.MediaType)
	case "none":
		w.errorf(l, file, clause, "layer media type %s says %s, but the content is not compressed", d.MediaType, want)
	default:
		if want == "none" {
			w.errorf(l, file, clause, "layer media type %s says an uncompressed tar archive, but the content is %s-compressed", d.MediaType, got)
		} else {
			w.errorf(l, file, clause, "layer media type %s says %s, but the content is %s-compressed", d.MediaType, want, got)
		}
	}
}

// layerContents is what reading a layer's tar stream found.
type layerContents struct {
	diffIDs  map[digest.Algorithm]digest.Digest
	problems []layerProblem
	err      error
}

type layerProblem struct {
	sev    Severity
	clause string
	msg    string
}

// checkLayer decompresses a container-image layer (WithLayerContents) and
// checks its tar stream: well-formed (layer.md#distributable-format), no
// duplicate entries, whiteouts that are empty regular files and hide
// nothing in their own layer (layer.md#whiteouts), and its digest against
// the config's diff_id (config.md#layer-diffid) when want is set. Problems
// of the content are reported once per blob; a diff_id mismatch once per
// manifest referring to it.
func (w *walker) checkLayer(l loc, layer v1.Descriptor, want digest.Digest) {
	b := w.blobs[layer.Digest]
	if b == nil || !b.exists || !b.digestOK || b.unverifiable || wantCompression(layer.MediaType) == "" {
		return
	}
	alg := diffIDAlgorithm(want)
	path := filepath.Join(w.dir, filepath.FromSlash(blobFile(layer.Digest)))
	if w.buf == nil {
		w.buf = make([]byte, 256<<10)
	}
	if b.layer == nil {
		b.layer = readLayerContents(path, alg, &w.gz, w.buf)
	} else if _, ok := b.layer.diffIDs[alg]; !ok && b.layer.err == nil {
		other := readLayerContents(path, alg, &w.gz, w.buf)
		b.layer.diffIDs[alg], b.layer.err = other.diffIDs[alg], other.err
	}
	file := blobFile(layer.Digest)
	if !b.layerReported {
		b.layerReported = true
		for _, p := range b.layer.problems {
			w.add(p.sev, l, file, p.clause, "%s", p.msg)
		}
		if err := b.layer.err; err != nil && !errors.Is(err, errLayerBroken) {
			w.errorf(l, file, clauseLayerTar, "layer content unreadable: %v", err)
		}
	}
	if want == "" || b.layer.err != nil || want.Validate() != nil {
		return
	}
	if got := b.layer.diffIDs[alg]; got != want {
		w.errorf(l, file, clauseDiffID, "uncompressed layer hashes to %s, config rootfs.diff_ids says %s", got, want)
	}
}

// diffIDAlgorithm is the algorithm of the diff_id a layer is checked
// against (sha256 when there is none).
func diffIDAlgorithm(want digest.Digest) digest.Algorithm {
	if want != "" && want.Validate() == nil {
		return want.Algorithm()
	}
	return digest.SHA256
}

// readLayerContents decompresses the layer file at path, hashing its tar
// stream with alg and checking its entries. gz is a gzip reader to reuse
// (created when nil); buf a copy buffer.
func readLayerContents(path string, alg digest.Algorithm, gz **gzip.Reader, buf []byte) *layerContents {
	lc := &layerContents{diffIDs: map[digest.Algorithm]digest.Digest{}}
	d, probs, err := readLayer(path, alg, gz, buf)
	lc.diffIDs[alg], lc.problems, lc.err = d, probs, err
	return lc
}

// maxLayerProblems bounds the tar-entry problems reported per layer.
const maxLayerProblems = 20

// readLayer decompresses a layer, hashing the tar stream with alg and
// checking its entries.
func readLayer(path string, alg digest.Algorithm, gz **gzip.Reader, buf []byte) (digest.Digest, []layerProblem, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	head, _ := br.Peek(4)
	var r io.Reader = br
	switch compression(head) {
	case "gzip":
		if *gz == nil {
			*gz = new(gzip.Reader)
		}
		if err := (*gz).Reset(br); err != nil {
			return "", nil, fmt.Errorf("gzip: %w", err)
		}
		r = *gz
	case "zstd":
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return "", nil, fmt.Errorf("zstd: %w", err)
		}
		defer zr.Close()
		r = zr
	}
	h := alg.Digester()
	tee := io.TeeReader(r, h.Hash())
	probs, broken := tarProblems(tee, buf)
	if broken {
		return "", probs, errLayerBroken
	}
	// The hash covers the whole stream, including the end-of-archive
	// blocks and any padding after them.
	if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{tee}, buf); err != nil {
		return "", probs, fmt.Errorf("decompress: %w", err)
	}
	return h.Digest(), probs, nil
}

// errLayerBroken: the tar stream could not be read to its end; the
// problems say why.
var errLayerBroken = errors.New("layer tar stream broken")

// tarProblems reads a tar stream and reports what layer.md forbids; broken
// says the stream could not be read to its end.
func tarProblems(r io.Reader, buf []byte) (probs []layerProblem, broken bool) {
	add := func(sev Severity, clause, format string, args ...any) {
		if len(probs) < maxLayerProblems {
			probs = append(probs, layerProblem{sev, clause, fmt.Sprintf(format, args...)})
		} else if len(probs) == maxLayerProblems {
			probs = append(probs, layerProblem{Warning, clause, "more problems in this layer not shown"})
		}
	}
	tr := tar.NewReader(r)
	seen := map[string]bool{}
	var whiteouts []string // paths hidden by whiteouts in this layer
	n := 0
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if n == 0 {
				add(Error, clauseLayerTar, "content is not a tar archive: %v", err)
			} else {
				add(Error, clauseLayerTar, "tar archive broken after %d entries: %v", n, err)
			}
			return probs, true
		}
		n++
		name := cleanEntry(hdr.Name)
		if name == "" {
			// The root directory itself ("./").
			if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{tr}, buf); err != nil {
				add(Error, clauseLayerTar, "tar entry %q: %v", hdr.Name, err)
				return probs, true
			}
			continue
		}
		if seen[name] {
			add(Error, clauseLayerTar, "duplicate tar entry %q", hdr.Name)
		}
		seen[name] = true
		if escapes(hdr.Name) {
			add(Warning, clauseLayerTar, "tar entry %q points outside the root", hdr.Name)
		}
		dir, base := path.Split(name)
		switch {
		case base == ".wh..wh..opq":
			if hdr.Typeflag != tar.TypeReg || hdr.Size != 0 {
				add(Warning, "layer.md#opaque-whiteout", "opaque whiteout %q is not an empty regular file", hdr.Name)
			}
		case strings.HasPrefix(base, ".wh..wh."):
			add(Warning, "layer.md#whiteouts", "tar entry %q uses the reserved .wh..wh. prefix", hdr.Name)
		case strings.HasPrefix(base, ".wh."):
			if hdr.Typeflag != tar.TypeReg || hdr.Size != 0 {
				add(Warning, "layer.md#whiteouts", "whiteout %q is not an empty regular file", hdr.Name)
			}
			whiteouts = append(whiteouts, dir+strings.TrimPrefix(base, ".wh."))
		}
		if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{tr}, buf); err != nil {
			add(Error, clauseLayerTar, "tar entry %q: %v", hdr.Name, err)
			return probs, true
		}
	}
	for _, p := range whiteouts {
		if seen[p] {
			add(Error, "layer.md#whiteouts", "whiteout for %q in the layer that adds it (whiteouts MUST only apply to lower layers)", p)
		}
	}
	return probs, false
}

// cleanEntry normalises a tar entry name to a relative path without "./"
// or trailing slash, as an unpacker would place it.
func cleanEntry(name string) string {
	c := path.Clean("/" + name)
	return strings.TrimPrefix(c, "/")
}

// escapes reports whether a tar name climbs above the root with "..".
func escapes(name string) bool {
	depth := 0
	for _, part := range strings.Split(name, "/") {
		switch part {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return true
			}
		default:
			depth++
		}
	}
	return false
}

// sniffJSON tells an index from a manifest by its members.
func sniffJSON(data []byte) docKind {
	var obj map[string]any
	if json.Unmarshal(data, &obj) != nil {
		return kindOther
	}
	return sniffKind(obj)
}
