package validate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	// Digest verification of the registered algorithms (descriptor.md:
	// SHA-256 MUST, SHA-512 MAY) and of go-digest's sha384.
	_ "crypto/sha256"
	_ "crypto/sha512"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Media types outside image-spec's own that OCI layouts carry: Docker's
// schema 2 types, which media-types.md#compatibility-matrix declares
// compatible (or, for the layer, interchangeable).
const (
	dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	dockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	dockerConfig       = "application/vnd.docker.container.image.v1+json"
	dockerLayerGzip    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	dockerLayerForeign = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
)

// docKind is what a JSON document is, whatever media type names it.
type docKind int

const (
	kindOther docKind = iota
	kindIndex
	kindManifest
	kindConfig
	kindEmpty
	kindDescriptor
	kindLayoutHeader
)

func (k docKind) String() string {
	switch k {
	case kindIndex:
		return "image index"
	case kindManifest:
		return "image manifest"
	case kindConfig:
		return "image config"
	case kindEmpty:
		return "empty JSON blob"
	case kindDescriptor:
		return "content descriptor"
	case kindLayoutHeader:
		return "oci-layout"
	}
	return "blob"
}

// kindOf maps a media type to the document kind it names.
func kindOf(mediaType string) docKind {
	switch mediaType {
	case v1.MediaTypeImageIndex, dockerManifestList:
		return kindIndex
	case v1.MediaTypeImageManifest, dockerManifest:
		return kindManifest
	case v1.MediaTypeImageConfig, dockerConfig:
		return kindConfig
	case v1.MediaTypeEmptyJSON:
		return kindEmpty
	case v1.MediaTypeDescriptor:
		return kindDescriptor
	case v1.MediaTypeLayoutHeader:
		return kindLayoutHeader
	}
	return kindOther
}

// schemaType is the media type whose schema checks a document of kind k.
func (k docKind) schemaType() string {
	switch k {
	case kindIndex:
		return v1.MediaTypeImageIndex
	case kindManifest:
		return v1.MediaTypeImageManifest
	case kindConfig:
		return v1.MediaTypeImageConfig
	case kindDescriptor:
		return v1.MediaTypeDescriptor
	case kindLayoutHeader:
		return v1.MediaTypeLayoutHeader
	}
	return ""
}

// Layer media types a runtime can unpack, and whether each is deprecated.
var layerTypes = map[string]bool{
	v1.MediaTypeImageLayer:                     false,
	v1.MediaTypeImageLayerGzip:                 false,
	v1.MediaTypeImageLayerZstd:                 false,
	v1.MediaTypeImageLayerNonDistributable:     true, //nolint:staticcheck // deprecated types are still valid input
	v1.MediaTypeImageLayerNonDistributableGzip: true, //nolint:staticcheck
	v1.MediaTypeImageLayerNonDistributableZstd: true, //nolint:staticcheck
	dockerLayerGzip:                            false,
	dockerLayerForeign:                         true,
}

func isNonDistributable(mediaType string) bool {
	return strings.Contains(mediaType, ".nondistributable.") || mediaType == dockerLayerForeign
}

// checker accumulates problems. One checker serves one validation.
type checker struct {
	r *Report
	// schemaAt holds the paths the schema flagged, so that a semantic
	// check does not report the same field twice.
	schemaAt map[string]bool
	// strict: also report SHOULD-level omissions common tools make.
	strict bool
}

func (c *checker) add(sev Severity, l loc, file, clause, format string, args ...any) {
	path := l.String()
	if parent := parentPath(path); c.schemaAt[path] || parent != "" && c.schemaAt[parent] {
		return
	}
	c.r.add(Problem{Severity: sev, Path: path, File: file, Message: fmt.Sprintf(format, args...), Clause: clause})
}

// schemaError records a schema violation (never suppressed).
func (c *checker) schemaError(l loc, file, clause, msg string) {
	path := l.String()
	if c.schemaAt == nil {
		c.schemaAt = map[string]bool{}
	}
	c.schemaAt[path] = true
	c.r.add(Problem{Severity: Error, Path: path, File: file, Message: msg, Clause: clause})
}

// parentPath strips the last field or index from a path.
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	j := strings.LastIndex(p, " → ")
	if i <= j || i <= 0 {
		return ""
	}
	return p[:i]
}

func (c *checker) errorf(l loc, file, clause, format string, args ...any) {
	c.add(Error, l, file, clause, format, args...)
}

func (c *checker) warnf(l loc, file, clause, format string, args ...any) {
	c.add(Warning, l, file, clause, format, args...)
}

// Document validates one JSON document of the given media type on its own:
// JSON well-formedness, the image-spec schema for the type, and every
// semantic rule that needs no other blob (digest grammar and registered
// encodings, embedded data against digest and size, media types, platform
// values, annotation rules, config fields). Media types: the image index,
// manifest, config, content descriptor and oci-layout types of image-spec
// (and Docker's compatible manifest list, manifest and config types).
//
// Of the options, only WithStrict applies.
func Document(mediaType string, data []byte, opts ...Option) *Report {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	r := newReport(mediaType)
	c := &checker{r: r, strict: o.strict}
	k := kindOf(mediaType)
	if k == kindOther || k == kindEmpty {
		c.errorf(rootLoc(""), "", clauseMediaTypes, "no validation defined for media type %q", mediaType)
		return r
	}
	c.document(rootLoc(""), "", k, mediaType, data)
	return r
}

// parsed is a decoded document: the typed value for the semantic checks
// (nil when the JSON does not decode into the spec's Go type).
type parsed struct {
	index    *v1.Index
	manifest *v1.Manifest
	config   *v1.Image
	desc     *v1.Descriptor
}

// document checks data as a document of kind k that a descriptor (or the
// caller) says has media type claimed, and returns it decoded.
func (c *checker) document(l loc, file string, k docKind, claimed string, data []byte) parsed {
	c.r.Checked.Documents++
	if !c.wellFormed(l, file, data) {
		return parsed{}
	}
	doc, err := decodeJSON(data)
	if err != nil {
		c.errorf(l, file, clauseJSON, "malformed JSON: %v", err)
		return parsed{}
	}
	obj, isObj := doc.(map[string]any)
	if !isObj {
		c.errorf(l, file, schemaClause(k), "%s must be a JSON object, got %s", k, jsonType(doc))
		return parsed{}
	}
	if k == kindEmpty {
		if len(obj) != 0 {
			c.warnf(l, file, clauseEmptyDescriptor, "empty JSON blob holds %d fields; the guidance is {}", len(obj))
		}
		return parsed{}
	}
	// A descriptor may call a manifest an index or the reverse; name the
	// document after its content when the content is unambiguous.
	if actual := sniffKind(obj); actual != kindOther && actual != k && (k == kindIndex || k == kindManifest || k == kindConfig) {
		c.errorf(l, file, clauseConflicts, "content is %s, not the %s that media type %s names", actual.article(), k, claimed)
		return parsed{}
	}
	probs, err := checkSchema(k.schemaType(), doc)
	if err != nil {
		c.errorf(l, file, "", "%v", err)
		return parsed{}
	}
	before := c.r.Errors
	for _, p := range probs {
		c.schemaError(pointerLoc(l, doc, p.at), file, schemaClause(k), p.msg)
	}
	c.checkDataFields(l, file, k, obj)

	var out parsed
	var target any
	switch k {
	case kindIndex:
		out.index = new(v1.Index)
		target = out.index
	case kindManifest:
		out.manifest = new(v1.Manifest)
		target = out.manifest
	case kindConfig:
		out.config = new(v1.Image)
		target = out.config
	case kindDescriptor:
		out.desc = new(v1.Descriptor)
		target = out.desc
	case kindLayoutHeader:
		c.checkLayoutHeader(l, file, obj, len(probs) > 0)
		return parsed{}
	}
	if err := json.Unmarshal(data, target); err != nil {
		if c.r.Errors == before {
			c.errorf(l, file, schemaClause(k), "does not decode as %s: %s", k.article(), jsonErrorText(data, err))
		}
		return parsed{}
	}
	switch k {
	case kindIndex:
		c.checkIndex(l, file, claimed, out.index, obj)
	case kindManifest:
		c.checkManifest(l, file, claimed, out.manifest)
	case kindConfig:
		c.checkConfig(l, file, out.config)
	case kindDescriptor:
		c.checkDescriptor(l, file, out.desc)
	}
	return out
}

func (k docKind) article() string {
	switch k {
	case kindIndex, kindManifest, kindConfig, kindEmpty:
		return "an " + k.String()
	}
	return "a " + k.String()
}

func schemaClause(k docKind) string {
	switch k {
	case kindIndex:
		return clauseIndexProps
	case kindManifest:
		return clauseManifestProps
	case kindConfig:
		return clauseConfigProps
	case kindDescriptor:
		return clauseDescriptor
	case kindLayoutHeader:
		return clauseLayoutFile
	}
	return ""
}

// sniffKind recognises indexes, manifests and configs by their required
// members, to catch a descriptor whose mediaType misnames its target.
func sniffKind(obj map[string]any) docKind {
	_, manifests := obj["manifests"]
	_, layers := obj["layers"]
	_, rootfs := obj["rootfs"]
	_, schemaVersion := obj["schemaVersion"]
	switch {
	case manifests && !layers && schemaVersion:
		return kindIndex
	case layers && schemaVersion && !manifests:
		return kindManifest
	case rootfs && !schemaVersion && !layers:
		return kindConfig
	}
	if mt, ok := obj["mediaType"].(string); ok {
		switch kindOf(mt) {
		case kindIndex, kindManifest:
			return kindOf(mt)
		}
	}
	return kindOther
}

// wellFormed checks the JSON syntax (with line and column) and reports
// duplicate object member names, which encoding/json silently resolves to
// the last one: two parsers reading different values from one digest is
// the confusion content addressing exists to prevent.
func (c *checker) wellFormed(l loc, file string, data []byte) bool {
	if len(bytes.TrimSpace(data)) == 0 {
		c.errorf(l, file, clauseJSON, "empty document, want a JSON object")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	// path holds the keys and indexes down to the current value; a loc is
	// built from it only for a duplicate, so the scan stays linear however
	// deep the document nests.
	var path []any
	at := func() loc {
		r := l
		for _, p := range path {
			if i, ok := p.(int); ok {
				r = r.index(i)
			} else {
				r = r.field(p.(string))
			}
		}
		return r
	}
	var scan func(depth int) error
	scan = func(depth int) error {
		if depth > maxJSONDepth {
			return errTooDeep
		}
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		d, ok := tok.(json.Delim)
		if !ok {
			return nil
		}
		switch d {
		case '{':
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				key, _ := kt.(string)
				if seen[key] {
					clause := clauseJSONNames
					if n := len(path); n > 0 && (path[n-1] == "annotations" || path[n-1] == "Labels") {
						clause = clauseAnnotationRules
					}
					c.errorf(at().field(key), file, clause, "duplicate key %q", key)
				}
				seen[key] = true
				path = append(path, key)
				err = scan(depth + 1)
				path = path[:len(path)-1]
				if err != nil {
					return err
				}
			}
		case '[':
			for i := 0; dec.More(); i++ {
				path = append(path, i)
				err := scan(depth + 1)
				path = path[:len(path)-1]
				if err != nil {
					return err
				}
			}
		}
		_, err = dec.Token() // the closing delimiter
		return err
	}
	err := scan(0)
	if errors.Is(err, errTooDeep) {
		c.errorf(l, file, clauseJSON, "JSON nested deeper than %d levels", maxJSONDepth)
		return false
	}
	if err == nil {
		end := dec.InputOffset()
		if _, terr := dec.Token(); terr != io.EOF {
			for end < int64(len(data)) && strings.IndexByte(" \t\r\n", data[end]) >= 0 {
				end++
			}
			c.errorf(l, file, clauseJSON, "malformed JSON: data after the top-level value at %s", lineCol(data, end))
			return false
		}
		return true
	}
	c.errorf(l, file, clauseJSON, "malformed JSON: %s", jsonErrorText(data, err))
	return false
}

// maxJSONDepth is encoding/json's own nesting limit: deeper documents
// cannot be decoded anyway.
const maxJSONDepth = 10000

var errTooDeep = errors.New("too deep")

// jsonErrorText renders a decoding error with its line and column.
func jsonErrorText(data []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v at %s", se, lineCol(data, se.Offset))
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("field %s: got JSON %s, want %s", te.Field, te.Value, te.Type)
		}
		return fmt.Sprintf("got JSON %s, want %s", te.Value, te.Type)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "unexpected end of input"
	}
	return err.Error()
}

func lineCol(data []byte, off int64) string {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	line, col := 1, 1
	for _, b := range data[:off] {
		if b == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("line %d, column %d", line, col)
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	}
	return "an object"
}

// checkDataFields checks the "data" member of every descriptor position of
// the document before the typed decode, which would fail on bad base64
// without saying where.
func (c *checker) checkDataFields(l loc, file string, k docKind, obj map[string]any) {
	check := func(at loc, v any) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		s, ok := m["data"].(string)
		if !ok {
			return
		}
		if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			c.errorf(at.field("data"), file, clauseDescriptor, "data is not base64 (RFC 4648 section 4): %v", err)
		}
	}
	arr := func(name string) {
		if a, ok := obj[name].([]any); ok {
			for i, v := range a {
				check(l.field(name).index(i), v)
			}
		}
	}
	switch k {
	case kindDescriptor:
		check(l, obj)
	case kindIndex:
		arr("manifests")
		check(l.field("subject"), obj["subject"])
	case kindManifest:
		check(l.field("config"), obj["config"])
		arr("layers")
		check(l.field("subject"), obj["subject"])
	}
}

// checkLayoutHeader checks oci-layout beyond its schema, phrasing the
// version problem plainly when the schema already flagged it.
func (c *checker) checkLayoutHeader(l loc, file string, obj map[string]any, schemaFailed bool) {
	v, ok := obj["imageLayoutVersion"].(string)
	if ok && v != v1.ImageLayoutVersion && !schemaFailed {
		c.errorf(l.field("imageLayoutVersion"), file, clauseLayoutFile, "unsupported imageLayoutVersion %q, want %q", v, v1.ImageLayoutVersion)
	}
}

// algorithmRE and encodedRE are the digest grammar of descriptor.md#digests.
var (
	algorithmRE = lazyRegexp(`^[a-z0-9]+(?:[+._-][a-z0-9]+)*$`)
	encodedRE   = lazyRegexp(`^[a-zA-Z0-9=_-]+$`)
)

// digestGrammar reports whether d matches the digest grammar.
func digestGrammar(d string) bool {
	alg, enc, ok := strings.Cut(d, ":")
	return ok && algorithmRE().MatchString(alg) && encodedRE().MatchString(enc)
}

// checkDigest checks a digest that matched the grammar (the schema reports
// the others) against its algorithm's encoding. It returns whether the
// digest can be verified by this program.
func (c *checker) checkDigest(l loc, file string, d digest.Digest) bool {
	s := string(d)
	if !digestGrammar(s) {
		return false
	}
	alg, enc, _ := strings.Cut(s, ":")
	switch alg {
	case "sha256":
		if len(enc) != 64 || !isLowerHex(enc) {
			c.errorf(l, file, clauseSHA256, "sha256 digest must be 64 lowercase hex characters, got %q", enc)
			return false
		}
		return true
	case "sha512":
		if len(enc) != 128 || !isLowerHex(enc) {
			c.errorf(l, file, clauseSHA512, "sha512 digest must be 128 lowercase hex characters, got %q", enc)
			return false
		}
		return true
	}
	// descriptor.md: "Implementations SHOULD allow digests with
	// unrecognized algorithms to pass validation if they comply with the
	// above grammar."
	if err := d.Validate(); err == nil {
		c.warnf(l, file, clauseRegistered, "digest algorithm %q is not registered by image-spec (sha256, sha512)", alg)
		return true
	}
	c.warnf(l, file, clauseRegistered, "digest algorithm %q is not registered by image-spec (sha256, sha512); content cannot be verified", alg)
	return false
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// checkDescriptor checks one descriptor's own fields.
func (c *checker) checkDescriptor(l loc, file string, d *v1.Descriptor) {
	verifiable := c.checkDigest(l.field("digest"), file, d.Digest)
	if d.Size < 0 {
		c.errorf(l.field("size"), file, clauseDescriptor, "size %d is negative", d.Size)
	}
	if d.Data != nil {
		if int64(len(d.Data)) != d.Size {
			c.errorf(l.field("data"), file, clauseDescriptor, "data holds %d bytes, size says %d", len(d.Data), d.Size)
		} else if verifiable {
			if got := d.Digest.Algorithm().FromBytes(d.Data); got != d.Digest {
				c.errorf(l.field("data"), file, clauseDescriptor, "data hashes to %s, digest says %s", got, d.Digest)
			}
		}
	}
	for i, u := range d.URLs {
		if pu, err := url.Parse(u); err == nil && pu.Scheme != "http" && pu.Scheme != "https" {
			c.warnf(l.field("urls").index(i), file, clauseDescriptor, "url %q: entries SHOULD use http or https", u)
		}
	}
	if d.MediaType == v1.MediaTypeEmptyJSON && d.Size != 2 && d.Size >= 0 {
		c.warnf(l.field("size"), file, clauseEmptyDescriptor, "empty descriptor has size %d; its content {} has size 2", d.Size)
	}
	if d.Platform != nil {
		c.checkPlatform(l.field("platform"), file, clauseIndexProps, *d.Platform)
	}
	c.checkAnnotations(l.field("annotations"), file, d.Annotations)
}

// refNameRE is the ref.name grammar of annotations.md.
var refNameRE = lazyRegexp(`^[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*(?:/[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*)*$`)

// ValidRefName reports whether s matches the grammar annotations.md gives
// for org.opencontainers.image.ref.name.
func ValidRefName(s string) bool { return refNameRE().MatchString(s) }

// checkAnnotations checks the values of the pre-defined keys whose format
// annotations.md fixes. Unknown keys are fine ("Consumers MUST NOT generate
// an error if they encounter an unknown annotation key").
func (c *checker) checkAnnotations(l loc, file string, a map[string]string) {
	for _, k := range sortedKeys(a) {
		v := a[k]
		switch k {
		case v1.AnnotationRefName:
			if !ValidRefName(v) {
				c.errorf(l.field(k), file, clauseAnnotationKeys, "ref.name %q does not match the reference grammar (components of [A-Za-z0-9] joined by - . _ : @ + or --, separated by /)", v)
			}
		case v1.AnnotationCreated:
			if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
				c.warnf(l.field(k), file, clauseAnnotationKeys, "created %q is not an RFC 3339 date-time", v)
			}
		case v1.AnnotationBaseImageDigest:
			if !digestGrammar(v) {
				c.warnf(l.field(k), file, clauseAnnotationKeys, "base.digest %q is not a digest", v)
			}
		}
	}
}

// checkMediaTypeField checks a document's own mediaType member against the
// type that names it: image-index.md and manifest.md ("When used, this
// field MUST contain the media type ..."), and media-types.md for a
// conflict with the referencing descriptor.
func (c *checker) checkMediaTypeField(l loc, file, clause, own, claimed, want string) {
	if own == "" {
		// umoci and skopeo omit it; only pedantic runs say so.
		if c.strict {
			c.warnf(l.field("mediaType"), file, clause, "mediaType field is missing; it SHOULD be %s", want)
		}
		return
	}
	expect := want
	if kindOf(claimed) == kindOf(want) && claimed != "" {
		expect = claimed
	}
	if own != expect {
		c.errorf(l.field("mediaType"), file, clause, "mediaType field is %s, want %s", own, expect)
	}
	if own == dockerManifest || own == dockerManifestList {
		c.warnf(l.field("mediaType"), file, clauseCompat, "Docker media type %s: compatible with, but not, an OCI type", own)
	}
}

func (c *checker) checkIndex(l loc, file, claimed string, idx *v1.Index, obj map[string]any) {
	c.checkMediaTypeField(l, file, clauseIndexProps, idx.MediaType, claimed, v1.MediaTypeImageIndex)
	raw, _ := obj["manifests"].([]any)
	for i := range idx.Manifests {
		ml := l.field("manifests").index(i)
		c.checkDescriptor(ml, file, &idx.Manifests[i])
		// platform.features: "This property is RESERVED for future
		// versions of the specification" (not in the Go type).
		if i < len(raw) {
			if m, ok := raw[i].(map[string]any); ok {
				if p, ok := m["platform"].(map[string]any); ok && p["features"] != nil {
					c.warnf(ml.field("platform").field("features"), file, clauseIndexProps, "platform.features is reserved for future versions of the specification")
				}
			}
		}
	}
	if idx.Subject != nil {
		c.checkDescriptor(l.field("subject"), file, idx.Subject)
	}
	c.checkAnnotations(l.field("annotations"), file, idx.Annotations)
}

func (c *checker) checkManifest(l loc, file, claimed string, m *v1.Manifest) {
	c.checkMediaTypeField(l, file, clauseManifestProps, m.MediaType, claimed, v1.MediaTypeImageManifest)
	c.checkDescriptor(l.field("config"), file, &m.Config)
	switch m.Config.MediaType {
	case v1.MediaTypeEmptyJSON:
		if m.ArtifactType == "" {
			c.errorf(l.field("artifactType"), file, clauseArtifacts, "artifactType MUST be set when config.mediaType is %s", v1.MediaTypeEmptyJSON)
		}
	case dockerConfig:
		c.warnf(l.field("config").field("mediaType"), file, clauseCompat, "Docker media type %s: compatible with, but not, an OCI type", dockerConfig)
	}
	image := kindOf(m.Config.MediaType) == kindConfig
	for i := range m.Layers {
		ll := l.field("layers").index(i)
		d := &m.Layers[i]
		c.checkDescriptor(ll, file, d)
		if !image {
			continue // artifact: any layer type (manifest.md#guidelines-for-artifact-usage)
		}
		deprecated, known := layerTypes[d.MediaType]
		switch {
		case d.MediaType == v1.MediaTypeEmptyJSON:
			c.warnf(ll.field("mediaType"), file, clauseManifestProps, "empty descriptor as a layer of a container image")
		case !known:
			c.warnf(ll.field("mediaType"), file, clauseManifestProps, "layer media type %s is not a layer type runtimes unpack", d.MediaType)
		case deprecated:
			c.warnf(ll.field("mediaType"), file, clauseNonDist, "non-distributable layer media type %s is deprecated", d.MediaType)
		case d.MediaType == dockerLayerGzip:
			c.warnf(ll.field("mediaType"), file, clauseCompat, "Docker media type %s: interchangeable with %s", d.MediaType, v1.MediaTypeImageLayerGzip)
		}
	}
	if m.Subject != nil {
		c.checkDescriptor(l.field("subject"), file, m.Subject)
	}
	c.checkAnnotations(l.field("annotations"), file, m.Annotations)
}

// envRE is the VARNAME=VARVALUE form of config.md (and image-spec's own
// schema validator).
var envRE = lazyRegexp(`^[^=]+=`)

var portRE = lazyRegexp(`^[0-9]{1,5}(/(tcp|udp|sctp))?$`)

var signalRE = lazyRegexp(`^(SIG[A-Z0-9]+([+-][0-9]+)?|[0-9]+)$`)

func (c *checker) checkConfig(l loc, file string, img *v1.Image) {
	c.checkPlatform(l, file, clauseConfigProps, img.Platform)
	for i, d := range img.RootFS.DiffIDs {
		dl := l.field("rootfs").field("diff_ids").index(i)
		if !digestGrammar(string(d)) {
			c.errorf(dl, file, clauseDiffID, "diff_id %q is not a digest", d)
			continue
		}
		c.checkDigest(dl, file, d)
	}
	cfg := img.Config
	cl := l.field("config")
	for i, e := range cfg.Env {
		if !envRE().MatchString(e) {
			c.errorf(cl.field("Env").index(i), file, clauseConfigProps, "Env entry %q is not VARNAME=VARVALUE", e)
		}
	}
	for _, p := range sortedKeys(cfg.ExposedPorts) {
		if !portRE().MatchString(p) {
			c.warnf(cl.field("ExposedPorts").field(p), file, clauseConfigProps, "exposed port %q is not port, port/tcp or port/udp", p)
		} else if n, _ := strconv.Atoi(strings.SplitN(p, "/", 2)[0]); n > 65535 || n == 0 {
			c.warnf(cl.field("ExposedPorts").field(p), file, clauseConfigProps, "exposed port %q is out of range", p)
		}
	}
	if cfg.StopSignal != "" && !signalRE().MatchString(cfg.StopSignal) {
		c.warnf(cl.field("StopSignal"), file, clauseConfigProps, "StopSignal %q is not a signal name (SIGNAME) or number", cfg.StopSignal)
	}
	if len(img.History) > 0 {
		nonEmpty := 0
		for _, h := range img.History {
			if !h.EmptyLayer {
				nonEmpty++
			}
		}
		if nonEmpty != len(img.RootFS.DiffIDs) {
			c.warnf(l.field("history"), file, clauseConfigProps, "%d history entries without empty_layer, but %d diff_ids", nonEmpty, len(img.RootFS.DiffIDs))
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
