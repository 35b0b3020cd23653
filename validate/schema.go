package validate

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// schemaFS holds the JSON schemas of image-spec v1.1.1, byte for byte the
// files of github.com/opencontainers/image-spec/schema (a test compares
// them with the module's). They are carried here rather than taken from
// that package's embed.FS because importing it links jsonschema/v5 and its
// start-up work into every ocikit command.
//
//go:embed schema/*.json
var schemaFS embed.FS

// schemaAliases are the URLs by which the schemas refer to each other (their
// "id" values and relative $refs resolved against them), as listed in
// image-spec's schema/schema.go.
var schemaAliases = map[string][]string{
	"config-schema.json": {
		"https://opencontainers.org/schema/image/config",
	},
	"content-descriptor.json": {
		"https://opencontainers.org/schema/descriptor",
		"https://opencontainers.org/schema/image/content-descriptor.json",
	},
	"defs-descriptor.json": {
		"https://opencontainers.org/schema/image/descriptor/mediaType",
		"https://opencontainers.org/schema/defs-descriptor.json",
		"https://opencontainers.org/schema/image/defs-descriptor.json",
	},
	"defs.json": {
		"https://opencontainers.org/schema/defs.json",
		"https://opencontainers.org/schema/image/defs.json",
		"https://opencontainers.org/schema/image/descriptor/defs.json",
	},
	"image-index-schema.json": {
		"https://opencontainers.org/schema/image/index",
	},
	"image-layout-schema.json": {
		"https://opencontainers.org/schema/image/layout",
	},
	"image-manifest-schema.json": {
		"https://opencontainers.org/schema/image/manifest",
	},
}

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
	return compileFS(schemaFS, "schema", schemaAliases, schemaFiles)
})

// compileFS compiles the schema files in dir of fsys, each registered under
// its file name and its aliases, and returns the schemas named by roots
// (key -> file).
func compileFS(fsys embed.FS, dir string, aliases map[string][]string, roots map[string]string) (map[string]*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	// The schemas are draft-04, whose "format" keyword asserts (the
	// descriptor "urls" must be URIs, "created" a date-time); say so
	// explicitly rather than rely on the draft default.
	c.AssertFormat()
	// Files without $schema (defs.json, config-vm.json, ...) are draft-04
	// like the files that include them, not v6's default 2020-12.
	c.DefaultDraft(jsonschema.Draft4)
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		data, err := fsys.ReadFile(dir + "/" + e.Name())
		if err != nil {
			return nil, err
		}
		// runtime-spec v1.3.0's defs.json has `"$ref": "#definitions/uint32"`
		// (no slash), a fragment draft-04 validators such as gojsonschema
		// read as the JSON pointer it means; read it so too.
		data = bytes.ReplaceAll(data, []byte(`"#definitions/`), []byte(`"#/definitions/`))
		for _, url := range append([]string{e.Name()}, aliases[e.Name()]...) {
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
			if err != nil {
				return nil, fmt.Errorf("validate: schema %s: %w", e.Name(), err)
			}
			if err := c.AddResource(url, doc); err != nil {
				return nil, fmt.Errorf("validate: schema %s: %w", e.Name(), err)
			}
		}
	}
	out := make(map[string]*jsonschema.Schema, len(roots))
	for key, file := range roots {
		s, err := c.Compile(file)
		if err != nil {
			return nil, fmt.Errorf("validate: compile schema %s: %w", file, err)
		}
		out[key] = s
	}
	return out, nil
}

var printer = message.NewPrinter(language.English)

// schemaProblem is one schema violation: where in the document, and what.
type schemaProblem struct {
	at  []string // JSON pointer tokens
	msg string
}

// checkSchema validates doc (as decoded by jsonschema.UnmarshalJSON) against
// the schema for mediaType and returns the violations, leaves first-class:
// "missing property 'digest'" at /manifests/0 rather than the tree of
// "$ref failed" wrappers.
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

// validateSchema runs one compiled schema over doc.
func validateSchema(s *jsonschema.Schema, doc any) []schemaProblem {
	err := s.Validate(doc)
	if err == nil {
		return nil
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return []schemaProblem{{msg: err.Error()}}
	}
	var out []schemaProblem
	flatten(ve, &out)
	sort.SliceStable(out, func(i, j int) bool {
		return strings.Join(out[i].at, "/") < strings.Join(out[j].at, "/")
	})
	return dedupe(out)
}

func flatten(e *jsonschema.ValidationError, out *[]schemaProblem) {
	switch e.ErrorKind.(type) {
	case *kind.OneOf, *kind.AnyOf:
		// "got string, want array" and "got string, want null" from the
		// branches of a nullable field read better as one line.
		if wants, got, ok := typeAlternatives(e); ok {
			*out = append(*out, schemaProblem{at: e.InstanceLocation, msg: fmt.Sprintf("got %s, want %s", got, strings.Join(wants, " or "))})
			return
		}
	}
	if len(e.Causes) == 0 {
		*out = append(*out, schemaProblem{at: e.InstanceLocation, msg: describeKind(e)})
		return
	}
	for _, c := range e.Causes {
		flatten(c, out)
	}
}

// typeAlternatives reports whether every leaf under e is a type mismatch at
// e's own location, and if so the wanted types.
func typeAlternatives(e *jsonschema.ValidationError) (wants []string, got string, ok bool) {
	var walk func(*jsonschema.ValidationError) bool
	walk = func(c *jsonschema.ValidationError) bool {
		if len(c.Causes) == 0 {
			t, isType := c.ErrorKind.(*kind.Type)
			if !isType || strings.Join(c.InstanceLocation, "/") != strings.Join(e.InstanceLocation, "/") {
				return false
			}
			got = t.Got
			wants = append(wants, t.Want...)
			return true
		}
		for _, cc := range c.Causes {
			if !walk(cc) {
				return false
			}
		}
		return true
	}
	if len(e.Causes) == 0 || !walk(e) {
		return nil, "", false
	}
	return wants, got, true
}

// describeKind phrases a leaf violation. Pattern failures on the fields the
// schemas constrain with long regular expressions get a plain statement of
// what was expected instead of the expression.
func describeKind(e *jsonschema.ValidationError) string {
	if p, ok := e.ErrorKind.(*kind.Pattern); ok && len(e.InstanceLocation) > 0 {
		switch e.InstanceLocation[len(e.InstanceLocation)-1] {
		case "mediaType", "artifactType":
			return fmt.Sprintf("%s is not a valid media type (RFC 6838 type/subtype, each 1-127 characters)", strconv.Quote(p.Got))
		case "digest":
			return fmt.Sprintf("%s is not a valid digest (algorithm:encoded)", strconv.Quote(p.Got))
		}
	}
	if _, ok := e.ErrorKind.(*kind.MinItems); ok && len(e.InstanceLocation) == 1 && e.InstanceLocation[0] == "layers" {
		// manifest.md says only "layers SHOULD have at least one entry";
		// the schema (and so this validator) requires one.
		return "layers is empty; image-spec's manifest schema requires at least one entry (the prose: SHOULD, for portability)"
	}
	if en, ok := e.ErrorKind.(*kind.Enum); ok {
		want := make([]string, len(en.Want))
		for i, w := range en.Want {
			want[i] = jsonText(w)
		}
		if len(want) == 1 {
			return fmt.Sprintf("got %s, want %s", jsonText(en.Got), want[0])
		}
		return fmt.Sprintf("got %s, want one of %s", jsonText(en.Got), strings.Join(want, ", "))
	}
	return e.ErrorKind.LocalizedString(printer)
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
