package validate

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/ocikit/ocikit/internal/jsonschema"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// schemaFS holds the JSON schemas of image-spec v1.1.1, byte for byte the
// files of github.com/opencontainers/image-spec/schema (a test compares
// them with the module's). They are carried here rather than taken from
// that package's embed.FS because importing it links jsonschema/v5, whose
// package init compiles every JSON Schema draft's metaschema in every
// ocikit process.
//
//go:embed schema/*.json
var schemaFS embed.FS

// schemaFiles maps the media types with a schema to its file.
var schemaFiles = map[string]string{
	v1.MediaTypeDescriptor:    "content-descriptor.json",
	v1.MediaTypeLayoutHeader:  "image-layout-schema.json",
	v1.MediaTypeImageManifest: "image-manifest-schema.json",
	v1.MediaTypeImageIndex:    "image-index-schema.json",
	v1.MediaTypeImageConfig:   "config-schema.json",
}

// schemas compiles the image-spec schemas once, on first use: compiling
// takes milliseconds and most ocikit commands never validate. The result is
// immutable and safe for concurrent use.
var schemas = sync.OnceValues(func() (map[string]*jsonschema.Schema, error) {
	return compileFS(schemaFS, "schema", schemaFiles)
})

// compileFS compiles the schema files of dir in fsys named by roots (key ->
// file name), all as draft-04 (what both specifications' schemas declare or,
// for the files without $schema, are included from).
//
// A reference is resolved by the file name it ends in, in dir. The
// specifications' schemas refer to each other by file name, relative to
// their "id" URLs (image-spec: "id":
// "https://opencontainers.org/schema/image/index" with "$ref":
// "content-descriptor.json") or to their own location (runtime-spec), so
// the file name is what every reference means. Nothing is read from the
// network or the disk, whatever a schema names.
func compileFS(fsys embed.FS, dir string, roots map[string]string) (map[string]*jsonschema.Schema, error) {
	load := func(name string) (any, error) {
		data, err := fsys.ReadFile(dir + "/" + name)
		if err != nil {
			return nil, fmt.Errorf("no embedded schema %s", name)
		}
		return decodeJSON(data)
	}
	out := make(map[string]*jsonschema.Schema, len(roots))
	for key, file := range roots {
		s, err := jsonschema.Compile(load, file)
		if err != nil {
			return nil, fmt.Errorf("validate: compile schema %s: %w", file, err)
		}
		out[key] = s
	}
	return out, nil
}

// decodeJSON decodes one JSON value, numbers as json.Number (what the
// schema validator works on, and exact for 64-bit sizes).
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the top-level value")
	}
	return v, nil
}

// schemaProblem is one schema violation: where in the document, and what.
type schemaProblem struct {
	at  []string // JSON pointer tokens
	msg string
}

// checkSchema validates doc (as decoded by decodeJSON) against the schema
// for mediaType and returns the violations.
func checkSchema(mediaType string, doc any) ([]schemaProblem, error) {
	all, err := schemas()
	if err != nil {
		return nil, err
	}
	s, ok := all[mediaType]
	if !ok {
		return nil, fmt.Errorf("validate: no schema for %s", mediaType)
	}
	return validateSchema(s, doc), nil
}

// validateSchema runs one compiled schema over doc and returns its
// violations sorted by location, each once.
func validateSchema(s *jsonschema.Schema, doc any) []schemaProblem {
	errs := s.Validate(doc)
	// A failed oneOf/anyOf comes with the errors of its closest
	// alternative ("got string, want array" for a nullable array), a
	// failed allOf with those of its schemas; the bare "matches none of
	// the alternatives" is kept only where nothing at or below it says
	// more.
	var out []schemaProblem
	missing := map[string]int{} // location -> index in out of its "missing" line
	for i, e := range errs {
		switch e.Kind {
		case jsonschema.OneOf, jsonschema.AnyOf, jsonschema.AllOf:
			if explainedBelow(errs, i) {
				continue
			}
		case jsonschema.Required:
			// One line per object: "missing properties 'size', 'digest'".
			key := strings.Join(e.At, "\x00")
			if i, ok := missing[key]; ok {
				out[i].msg = strings.Replace(out[i].msg, "missing property ", "missing properties ", 1) + ", " + quote(e.Property)
				continue
			}
			missing[key] = len(out)
		}
		out = append(out, schemaProblem{at: e.At, msg: describe(e)})
	}
	sort.SliceStable(out, func(i, j int) bool {
		return strings.Join(out[i].at, "/") < strings.Join(out[j].at, "/")
	})
	return dedupe(out)
}

// explainedBelow tells whether a violation other than a combinator's is at
// or below the location of errs[self].
func explainedBelow(errs []jsonschema.Error, self int) bool {
	at := errs[self].At
	for i, o := range errs {
		switch {
		case i == self:
			continue
		case o.Kind == jsonschema.OneOf || o.Kind == jsonschema.AnyOf || o.Kind == jsonschema.AllOf:
			continue
		}
		if len(o.At) >= len(at) && slices.Equal(o.At[:len(at)], at) {
			return true
		}
	}
	return false
}

// describe phrases a violation. Pattern failures on the fields the schemas
// constrain with long regular expressions get a plain statement of what
// was expected instead of the expression.
func describe(e jsonschema.Error) string {
	last := ""
	if len(e.At) > 0 {
		last = e.At[len(e.At)-1]
	}
	switch e.Kind {
	case jsonschema.Required:
		return fmt.Sprintf("missing property %s", quote(e.Property))
	case jsonschema.AdditionalProperties:
		return fmt.Sprintf("additional property %s not allowed", quote(e.Property))
	case jsonschema.Dependencies:
		return fmt.Sprintf("missing property %s, which another property requires", quote(e.Property))
	case jsonschema.Type:
		got := e.Given
		// An integer where no integer is wanted is a number to the
		// reader ("got number, want string").
		if got == "integer" && !slices.Contains(e.Types, "integer") {
			got = "number"
		}
		return fmt.Sprintf("got %s, want %s", got, strings.Join(e.Types, " or "))
	case jsonschema.Enum:
		ws := make([]string, len(e.Enum))
		for i, w := range e.Enum {
			ws[i] = jsonText(w)
		}
		if len(ws) == 1 {
			return fmt.Sprintf("got %s, want %s", jsonText(e.Value), ws[0])
		}
		return fmt.Sprintf("got %s, want one of %s", jsonText(e.Value), strings.Join(ws, ", "))
	case jsonschema.Pattern:
		got := fmt.Sprint(e.Value)
		switch last {
		case "mediaType", "artifactType":
			return fmt.Sprintf("%s is not a valid media type (RFC 6838 type/subtype, each 1-127 characters)", strconv.Quote(got))
		case "digest":
			return fmt.Sprintf("%s is not a valid digest (algorithm:encoded)", strconv.Quote(got))
		}
		return fmt.Sprintf("%s does not match pattern %s", quote(got), quote(e.Pattern))
	case jsonschema.Format:
		if e.Format == "date-time" {
			return dateTimeMsg(e.Value)
		}
		return fmt.Sprintf("%s is not valid %s", quote(e.Value), e.Format)
	case jsonschema.MinItems:
		if len(e.At) == 1 && e.At[0] == "layers" {
			// manifest.md says only "layers SHOULD have at least one
			// entry"; the schema (and so this validator) requires one.
			return "layers is empty; image-spec's manifest schema requires at least one entry (the prose: SHOULD, for portability)"
		}
		return fmt.Sprintf("minItems: got %d, want %s", count(e.Value), e.Limit)
	case jsonschema.MaxItems, jsonschema.MinProperties, jsonschema.MaxProperties, jsonschema.MinLength, jsonschema.MaxLength:
		return fmt.Sprintf("%s: got %d, want %s", e.Kind.Keyword(), count(e.Value), e.Limit)
	case jsonschema.Minimum, jsonschema.ExclusiveMinimum, jsonschema.Maximum, jsonschema.ExclusiveMaximum, jsonschema.MultipleOf:
		return fmt.Sprintf("%s: got %s, want %s", e.Kind.Keyword(), jsonText(e.Value), e.Limit)
	case jsonschema.OneOf:
		return "matches none or more than one of the schema's oneOf alternatives"
	case jsonschema.AnyOf:
		return "matches none of the schema's anyOf alternatives"
	case jsonschema.AllOf:
		return "fails one of the schema's allOf parts"
	case jsonschema.Not:
		return "matches the schema's not, which it must not"
	case jsonschema.UniqueItems:
		return fmt.Sprintf("items at %d and %d are equal", e.Items[0], e.Items[1])
	case jsonschema.AdditionalItems:
		return fmt.Sprintf("more than the %s items the schema lists", e.Limit)
	}
	return e.Error()
}

func quote(v any) string { return "'" + fmt.Sprint(v) + "'" }

func dateTimeMsg(v any) string {
	return fmt.Sprintf("%s is not valid date-time (RFC 3339: 2006-01-02T15:04:05Z)", quote(v))
}

// count is the length of an array, object or string value.
func count(v any) int {
	switch v := v.(type) {
	case []any:
		return len(v)
	case map[string]any:
		return len(v)
	case string:
		return len([]rune(v))
	}
	return 0
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func dedupe(in []schemaProblem) []schemaProblem {
	seen := map[string]bool{}
	out := in[:0]
	for _, p := range in {
		k := strings.Join(p.at, "/") + "\x00" + p.msg
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, p)
	}
	return out
}

// pointerLoc converts JSON pointer tokens into a loc below base, using the
// document to tell array indexes from object keys.
func pointerLoc(base loc, doc any, tokens []string) loc {
	l := base
	cur := doc
	for _, tok := range tokens {
		switch v := cur.(type) {
		case []any:
			i, err := strconv.Atoi(tok)
			if err == nil && i >= 0 && i < len(v) {
				l = l.index(i)
				cur = v[i]
				continue
			}
			l = l.field(tok)
			cur = nil
		case map[string]any:
			l = l.field(tok)
			cur = v[tok]
		default:
			l = l.field(tok)
			cur = nil
		}
	}
	return l
}
