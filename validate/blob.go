package validate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// sniffLen is how much of a blob is kept to recognise its format.
const sniffLen = 512

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
	path := filepath.Join(w.dir, filepath.FromSlash(blobFile(d)))
	fi, err := os.Stat(path)
	b.checked = true
	if err != nil {
		b.exists = false
		return b
	}
	b.exists = true
	b.size = fi.Size()
	if !fi.Mode().IsRegular() {
		// Reported by the blobs/ scan; nothing to read.
		b.digestOK = false
		b.reported = true
		return b
	}
	verifier := d.Validate() == nil
	b.unverifiable = !verifier
	f, err := os.Open(path)
	if err != nil {
		b.digestOK = false
		b.reported = true
		w.errorf(rootLoc(blobFile(d)), blobFile(d), clauseLayoutBlobs, "cannot read blob: %v", err)
		return b
	}
	defer f.Close()
	var h digest.Digester
	if verifier {
		h = d.Algorithm().Digester()
	}
	if keep && b.size <= maxDocumentSize {
		data, err := io.ReadAll(f)
		if err != nil {
			b.digestOK, b.reported = false, true
			w.errorf(rootLoc(blobFile(d)), blobFile(d), clauseLayoutBlobs, "cannot read blob: %v", err)
			return b
		}
		b.size = int64(len(data))
		b.data = data
		b.head = data[:min(len(data), sniffLen)]
		if h != nil {
			h.Hash().Write(data)
		}
	} else {
		head := make([]byte, sniffLen)
		hn, err := io.ReadFull(f, head)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			b.digestOK, b.reported = false, true
			w.errorf(rootLoc(blobFile(d)), blobFile(d), clauseLayoutBlobs, "cannot read blob: %v", err)
			return b
		}
		b.head = head[:hn]
		var dst io.Writer = io.Discard
		if h != nil {
			dst = h.Hash()
		}
		dst.Write(b.head)
		if w.buf == nil {
			w.buf = make([]byte, 256<<10)
		}
		n, err := io.CopyBuffer(dst, struct{ io.Reader }{f}, w.buf)
		if err != nil {
			b.digestOK, b.reported = false, true
			w.errorf(rootLoc(blobFile(d)), blobFile(d), clauseLayoutBlobs, "cannot read blob: %v", err)
			return b
		}
		n += int64(hn)
		b.size = n
	}
	w.r.Checked.Blobs++
	w.r.Checked.Bytes += b.size
	b.digestOK = h == nil || h.Digest() == d
	return b
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

// checkDiffID decompresses a layer and compares the digest of its tar
// stream with the config's diff_id for it (config.md#layer-diffid).
func (w *walker) checkDiffID(l loc, layer v1.Descriptor, want digest.Digest) {
	b := w.blobs[layer.Digest]
	if b == nil || !b.exists || !b.digestOK || b.unverifiable || want.Validate() != nil {
		return
	}
	if b.diffID == "" && b.diffErr == nil {
		b.diffID, b.diffErr = w.diffID(layer, want.Algorithm())
	}
	file := blobFile(layer.Digest)
	switch {
	case b.diffErr != nil:
		w.errorf(l, file, clauseDiffID, "cannot compute the layer's diff_id: %v", b.diffErr)
	case b.diffID != want:
		w.errorf(l, file, clauseDiffID, "uncompressed layer hashes to %s, config rootfs.diff_ids says %s", b.diffID, want)
	}
}

func (w *walker) diffID(layer v1.Descriptor, alg digest.Algorithm) (digest.Digest, error) {
	f, err := os.Open(filepath.Join(w.dir, filepath.FromSlash(blobFile(layer.Digest))))
	if err != nil {
		return "", err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	head, _ := br.Peek(4)
	var r io.Reader = br
	switch compression(head) {
	case "gzip":
		if w.gz == nil {
			w.gz = new(gzip.Reader)
		}
		if err := w.gz.Reset(br); err != nil {
			return "", fmt.Errorf("gzip: %w", err)
		}
		r = w.gz
	case "zstd":
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return "", fmt.Errorf("zstd: %w", err)
		}
		defer zr.Close()
		r = zr
	}
	if w.buf == nil {
		w.buf = make([]byte, 256<<10)
	}
	h := alg.Digester()
	if _, err := io.CopyBuffer(h.Hash(), struct{ io.Reader }{r}, w.buf); err != nil {
		return "", fmt.Errorf("decompress: %w", err)
	}
	return h.Digest(), nil
}

// unreferenced hashes the blobs no descriptor reached (WithAllBlobs).
func (w *walker) unreferenced(present []digest.Digest) {
	for _, d := range present {
		if w.ctx.Err() != nil {
			return
		}
		if b := w.blobs[d]; b != nil && b.checked {
			continue
		}
		b := w.blob(d, false)
		if b.exists && !b.digestOK && !b.reported {
			b.reported = true
			file := blobFile(d)
			w.errorf(rootLoc(file), file, clauseLayoutBlobs, "content of %s does not match its digest", file)
		}
	}
}

// sniffJSON tells an index from a manifest by its members.
func sniffJSON(data []byte) docKind {
	var obj map[string]any
	if json.Unmarshal(data, &obj) != nil {
		return kindOther
	}
	return sniffKind(obj)
}
