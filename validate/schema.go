package validate

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/xeipuuv/gojsonreference"
	"github.com/xeipuuv/gojsonschema"
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
var schemas = sync.OnceValues(func() (map[string]*gojsonschema.Schema, error) {
	return compileFS(schemaFS, "schema", schemaFiles)
})

// compileFS compiles the schema files of dir in fsys named by roots (key ->
// file name), all as draft-04 (what both specifications' schemas declare or,
// for the files without $schema, are included from).
func compileFS(fsys embed.FS, dir string, roots map[string]string) (map[string]*gojsonschema.Schema, error) {
	out := make(map[string]*gojsonschema.Schema, len(roots))
	for key, file := range roots {
		// A loader per root: gojsonschema refuses a second document
		// declaring an "id" it has already seen, and image-spec's files
		// reach each other under several URLs (content-descriptor.json as
		// a root and as .../schema/image/content-descriptor.json).
		sl := gojsonschema.NewSchemaLoader()
		sl.AutoDetect = false
		sl.Draft = gojsonschema.Draft4
		s, err := sl.Compile(embeddedSchema{fsys: fsys, dir: dir, url: "file:///" + file})
		if err != nil {
			return nil, fmt.Errorf("validate: compile schema %s: %w", file, err)
		}
		out[key] = s
	}
	return out, nil
}

// embeddedSchema is a schema reference resolved in one directory of an
// embed.FS by the last element of its URL path, and the factory of the
// references it contains. The specifications' schemas refer to each other
// by file name, relative to their "id" URLs (image-spec: "id":
// "https://opencontainers.org/schema/image/index" with "$ref":
// "content-descriptor.json") or to their own location (runtime-spec), so
// the file name is what every reference means. Nothing is read from the
// network or the disk, whatever a schema names.
type embeddedSchema struct {
	fsys embed.FS
	dir  string
	url  string
}

func (e embeddedSchema) JsonSource() any { return e.url }

func (e embeddedSchema) JsonReference() (gojsonreference.JsonReference, error) {
	return gojsonreference.NewJsonReference(e.url)
}

func (e embeddedSchema) LoaderFactory() gojsonschema.JSONLoaderFactory { return e }

// New makes the loader of a reference found while compiling.
func (e embeddedSchema) New(source string) gojsonschema.JSONLoader {
	e.url = source
	return e
}

func (e embeddedSchema) LoadJSON() (any, error) {
	u, err := url.Parse(e.url)
	if err != nil {
		return nil, err
	}
	name := path.Base(u.Path)
	data, err := e.fsys.ReadFile(e.dir + "/" + name)
	if err != nil {
		return nil, fmt.Errorf("schema reference %s: no embedded schema %s", e.url, name)
	}
	// runtime-spec v1.3.0's defs.json has `"$ref": "#definitions/uint32"`
	// (no slash after #); gojsonschema reads it as the pointer it means,
	// so the file is used as is.
	return decodeJSON(data)
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

// decoded hands an already decoded document to the validator.
type decoded struct{ doc any }

func (d decoded) JsonSource() any        { return d.doc }
func (d decoded) LoadJSON() (any, error) { return d.doc, nil }
func (d decoded) JsonReference() (gojsonreference.JsonReference, error) {
	return gojsonreference.NewJsonReference("#")
}
func (d decoded) LoaderFactory() gojsonschema.JSONLoaderFactory {
	return gojsonschema.DefaultJSONLoaderFactory{}
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
func validateSchema(s *gojsonschema.Schema, doc any) []schemaProblem {
	res, err := s.Validate(decoded{doc})
	if err != nil {
		return []schemaProblem{{msg: err.Error()}}
	}
	if res.Valid() {
		return nil
	}
	errs := res.Errors()
	// A failed oneOf/anyOf comes with the errors of its closest
	// alternative ("got string, want array" for a nullable array); the
	// bare "matches none of the alternatives" is kept only where nothing
	// at or below it says more.
	var out []schemaProblem
	missing := map[string]int{} // location -> index in out of its "missing" line
	for _, e := range errs {
		at := contextTokens(e)
		switch e.(type) {
		case *gojsonschema.NumberOneOfError, *gojsonschema.NumberAnyOfError:
			if explainedBelow(errs, e, at) {
				continue
			}
		case *gojsonschema.RequiredError:
			// One line per object: "missing properties 'size', 'digest'".
			key := strings.Join(at, "\x00")
			if i, ok := missing[key]; ok {
				out[i].msg = strings.Replace(out[i].msg, "missing property ", "missing properties ", 1) + ", " + quote(e.Details()["property"])
				continue
			}
			missing[key] = len(out)
		}
		out = append(out, schemaProblem{at: at, msg: describe(e, at)})
	}
	sort.SliceStable(out, func(i, j int) bool {
		return strings.Join(out[i].at, "/") < strings.Join(out[j].at, "/")
	})
	return dedupe(out)
}

// contextTokens returns the JSON pointer tokens of an error's instance
// location ("(root)", then keys and indexes).
func contextTokens(e gojsonschema.ResultError) []string {
	t := strings.Split(e.Context().String("\x00"), "\x00")
	return t[1:]
}

func explainedBelow(errs []gojsonschema.ResultError, self gojsonschema.ResultError, at []string) bool {
	for _, o := range errs {
		if o == self {
			continue
		}
		switch o.(type) {
		case *gojsonschema.NumberOneOfError, *gojsonschema.NumberAnyOfError:
			continue
		}
		ot := contextTokens(o)
		if len(ot) >= len(at) && strings.Join(ot[:len(at)], "\x00") == strings.Join(at, "\x00") {
			return true
		}
	}
	return false
}

// describe phrases a violation. Pattern failures on the fields the schemas
// constrain with long regular expressions get a plain statement of what
// was expected instead of the expression.
func describe(e gojsonschema.ResultError, at []string) string {
	d := e.Details()
	last := ""
	if len(at) > 0 {
		last = at[len(at)-1]
	}
	switch e.(type) {
	case *gojsonschema.RequiredError:
		return fmt.Sprintf("missing property %s", quote(d["property"]))
	case *gojsonschema.AdditionalPropertyNotAllowedError:
		return fmt.Sprintf("additional property %s not allowed", quote(d["property"]))
	case *gojsonschema.InvalidTypeError:
		want := fmt.Sprint(d["expected"])
		got := fmt.Sprint(d["given"])
		// An integer where no integer is wanted is a number to the
		// reader ("got number, want string").
		if got == gojsonschema.TYPE_INTEGER && !strings.Contains(want, gojsonschema.TYPE_INTEGER) {
			got = gojsonschema.TYPE_NUMBER
		}
		return fmt.Sprintf("got %s, want %s", got, strings.ReplaceAll(want, "/", " or "))
	case *gojsonschema.EnumError:
		var want []any
		if err := json.Unmarshal([]byte("["+fmt.Sprint(d["allowed"])+"]"), &want); err != nil || len(want) == 0 {
			return fmt.Sprintf("got %s, want one of %v", jsonText(e.Value()), d["allowed"])
		}
		ws := make([]string, len(want))
		for i, w := range want {
			ws[i] = jsonText(w)
		}
		if len(ws) == 1 {
			return fmt.Sprintf("got %s, want %s", jsonText(e.Value()), ws[0])
		}
		return fmt.Sprintf("got %s, want one of %s", jsonText(e.Value()), strings.Join(ws, ", "))
	case *gojsonschema.DoesNotMatchPatternError:
		got := fmt.Sprint(e.Value())
		switch last {
		case "mediaType", "artifactType":
			return fmt.Sprintf("%s is not a valid media type (RFC 6838 type/subtype, each 1-127 characters)", strconv.Quote(got))
		case "digest":
			return fmt.Sprintf("%s is not a valid digest (algorithm:encoded)", strconv.Quote(got))
		}
		return fmt.Sprintf("%s does not match pattern %s", quote(got), quote(d["pattern"]))
	case *gojsonschema.DoesNotMatchFormatError:
		if d["format"] == "date-time" {
			return dateTimeMsg(e.Value())
		}
		return fmt.Sprintf("%s is not valid %v", quote(e.Value()), d["format"])
	case *gojsonschema.ArrayMinItemsError:
		if len(at) == 1 && at[0] == "layers" {
			// manifest.md says only "layers SHOULD have at least one
			// entry"; the schema (and so this validator) requires one.
			return "layers is empty; image-spec's manifest schema requires at least one entry (the prose: SHOULD, for portability)"
		}
		return fmt.Sprintf("minItems: got %d, want %v", count(e.Value()), d["min"])
	case *gojsonschema.ArrayMaxItemsError:
		return fmt.Sprintf("maxItems: got %d, want %v", count(e.Value()), d["max"])
	case *gojsonschema.ArrayMinPropertiesError:
		return fmt.Sprintf("minProperties: got %d, want %v", count(e.Value()), d["min"])
	case *gojsonschema.StringLengthGTEError:
		return fmt.Sprintf("minLength: got %d, want %v", count(e.Value()), d["min"])
	case *gojsonschema.StringLengthLTEError:
		return fmt.Sprintf("maxLength: got %d, want %v", count(e.Value()), d["max"])
	case *gojsonschema.NumberGTEError:
		return fmt.Sprintf("minimum: got %s, want %s", jsonText(e.Value()), numText(d["min"]))
	case *gojsonschema.NumberGTError:
		return fmt.Sprintf("exclusiveMinimum: got %s, want %s", jsonText(e.Value()), numText(d["min"]))
	case *gojsonschema.NumberLTEError:
		return fmt.Sprintf("maximum: got %s, want %s", jsonText(e.Value()), numText(d["max"]))
	case *gojsonschema.NumberLTError:
		return fmt.Sprintf("exclusiveMaximum: got %s, want %s", jsonText(e.Value()), numText(d["max"]))
	case *gojsonschema.NumberOneOfError:
		return "matches none or more than one of the schema's oneOf alternatives"
	case *gojsonschema.NumberAnyOfError:
		return "matches none of the schema's anyOf alternatives"
	case *gojsonschema.ItemsMustBeUniqueError:
		return fmt.Sprintf("items at %v and %v are equal", d["i"], d["j"])
	}
	return e.Description()
}

func quote(v any) string { return "'" + fmt.Sprint(v) + "'" }

func dateTimeMsg(v any) string {
	return fmt.Sprintf("%s is not valid date-time (RFC 3339: 2006-01-02T15:04:05Z)", quote(v))
}

// checkDateTimes reports the config's "created" values (the image's and
// each history entry's, the schema's two "format": "date-time" fields)
// that are not RFC 3339 date-times but that gojsonschema's date-time
// check lets through: it also takes a bare date or time of day
// (format_checkers.go), which JSON Schema draft-04 section 7.3.1 and
// config.md ("RFC 3339, section 5.6") do not. probs are the schema's
// problems already found, so a value is reported once.
func checkDateTimes(obj map[string]any, probs []schemaProblem) []schemaProblem {
	var out []schemaProblem
	check := func(v any, at ...string) {
		s, ok := v.(string)
		if !ok {
			return
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return
		}
		for _, p := range probs {
			if slices.Equal(p.at, at) {
				return
			}
		}
		out = append(out, schemaProblem{at: at, msg: dateTimeMsg(s)})
	}
	check(obj["created"], "created")
	if h, ok := obj["history"].([]any); ok {
		for i, e := range h {
			if e, ok := e.(map[string]any); ok {
				check(e["created"], "history", strconv.Itoa(i), "created")
			}
		}
	}
	return out
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

// numText prints a schema bound exactly ("18446744073709551615", "1").
func numText(v any) string {
	if f, ok := v.(*big.Float); ok {
		if f.IsInt() {
			return f.Text('f', 0)
		}
		return f.Text('g', -1)
	}
	return fmt.Sprint(v)
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
