package jsonschema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xeipuuv/gojsonschema"
)

func decode(t testing.TB, s string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

// files is a Loader over in-memory schema files.
func files(t testing.TB, m map[string]string) Loader {
	return func(name string) (any, error) {
		s, ok := m[name]
		if !ok {
			return nil, fmt.Errorf("no file %s", name)
		}
		return decode(t, s), nil
	}
}

func TestKeywords(t *testing.T) {
	tests := []struct {
		name   string
		schema string
		doc    string
		want   []Kind // nil: valid
		at     string // the first error's location, "/"-joined
	}{
		{"type ok", `{"type":"string"}`, `"a"`, nil, ""},
		{"type", `{"type":"string"}`, `1`, []Kind{Type}, ""},
		{"integer is a number", `{"type":"number"}`, `1`, nil, ""},
		{"fraction is no integer", `{"type":"integer"}`, `1.5`, []Kind{Type}, ""},
		{"integer with exponent", `{"type":"integer"}`, `1e3`, nil, ""},
		{"type list", `{"type":["string","null"]}`, `null`, nil, ""},
		{"enum", `{"enum":["a",1]}`, `1.0`, nil, ""},
		{"enum miss", `{"enum":["a",1]}`, `"b"`, []Kind{Enum}, ""},
		{"enum object", `{"enum":[{"a":[1,2]}]}`, `{"a":[1,2]}`, nil, ""},
		{"required", `{"required":["a","b"]}`, `{"a":1}`, []Kind{Required}, ""},
		{"properties", `{"properties":{"a":{"type":"string"}}}`, `{"a":1}`, []Kind{Type}, "a"},
		{"additionalProperties false", `{"properties":{"a":{}},"additionalProperties":false}`, `{"a":1,"b":2}`, []Kind{AdditionalProperties}, ""},
		{"additionalProperties schema", `{"additionalProperties":{"type":"string"}}`, `{"b":2}`, []Kind{Type}, "b"},
		{"patternProperties", `{"patternProperties":{"^x-":{"type":"string"}},"additionalProperties":false}`, `{"x-a":"s","y":1}`, []Kind{AdditionalProperties}, ""},
		{"dependencies", `{"dependencies":{"a":["b"]}}`, `{"a":1}`, []Kind{Dependencies}, ""},
		{"dependency schema", `{"dependencies":{"a":{"required":["c"]}}}`, `{"a":1}`, []Kind{Required}, ""},
		{"minProperties", `{"minProperties":1}`, `{}`, []Kind{MinProperties}, ""},
		{"maxProperties", `{"maxProperties":0}`, `{"a":1}`, []Kind{MaxProperties}, ""},
		{"items", `{"items":{"type":"integer"}}`, `[1,"x"]`, []Kind{Type}, "1"},
		{"item list", `{"items":[{"type":"integer"}],"additionalItems":false}`, `[1,2]`, []Kind{AdditionalItems}, ""},
		{"additionalItems schema", `{"items":[{}],"additionalItems":{"type":"string"}}`, `[1,2]`, []Kind{Type}, "1"},
		{"minItems", `{"minItems":1}`, `[]`, []Kind{MinItems}, ""},
		{"maxItems", `{"maxItems":1}`, `[1,2]`, []Kind{MaxItems}, ""},
		{"uniqueItems", `{"uniqueItems":true}`, `[1,{"a":1},1.0]`, []Kind{UniqueItems}, ""},
		{"uniqueItems ok", `{"uniqueItems":true}`, `[1,"1",[1]]`, nil, ""},
		{"minimum", `{"minimum":0}`, `-1`, []Kind{Minimum}, ""},
		{"exclusiveMinimum", `{"minimum":0,"exclusiveMinimum":true}`, `0`, []Kind{ExclusiveMinimum}, ""},
		{"maximum 64 bits", `{"maximum":18446744073709551615}`, `18446744073709551616`, []Kind{Maximum}, ""},
		{"maximum 64 bits ok", `{"maximum":18446744073709551615}`, `18446744073709551615`, nil, ""},
		{"exclusiveMaximum", `{"maximum":1,"exclusiveMaximum":true}`, `1`, []Kind{ExclusiveMaximum}, ""},
		{"multipleOf", `{"multipleOf":0.1}`, `0.3`, nil, ""},
		{"multipleOf miss", `{"multipleOf":2}`, `3`, []Kind{MultipleOf}, ""},
		{"minLength runes", `{"minLength":2}`, `"é"`, []Kind{MinLength}, ""},
		{"maxLength", `{"maxLength":1}`, `"ab"`, []Kind{MaxLength}, ""},
		{"pattern", `{"pattern":"^a+$"}`, `"ab"`, []Kind{Pattern}, ""},
		{"pattern ignores numbers", `{"pattern":"^a+$"}`, `1`, nil, ""},
		{"date-time", `{"format":"date-time"}`, `"2015-10-31T22:22:56.015925234Z"`, nil, ""},
		{"date-time offset", `{"format":"date-time"}`, `"2015-10-31T22:22:56+02:00"`, nil, ""},
		{"bare date", `{"format":"date-time"}`, `"2015-10-31"`, []Kind{Format}, ""},
		{"bare time", `{"format":"date-time"}`, `"15:04:05"`, []Kind{Format}, ""},
		{"uri", `{"format":"uri"}`, `"https://example.com/a"`, nil, ""},
		{"relative uri", `{"format":"uri"}`, `"a/b"`, []Kind{Format}, ""},
		{"ipv4", `{"format":"ipv4"}`, `"::1"`, []Kind{Format}, ""},
		{"ipv6", `{"format":"ipv6"}`, `"::1"`, nil, ""},
		{"unknown format", `{"format":"color"}`, `"blue"`, nil, ""},
		{"allOf", `{"allOf":[{"type":"string"},{"maxLength":1}]}`, `"ab"`, []Kind{MaxLength, AllOf}, ""},
		{"anyOf", `{"anyOf":[{"type":"string"},{"type":"null"}]}`, `null`, nil, ""},
		// The closest alternative's errors come along: the object
		// alternative matched more of the document.
		{"anyOf closest", `{"anyOf":[{"type":"string"},{"type":"object","properties":{"a":{"type":"string"}}}]}`, `{"a":1}`, []Kind{AnyOf, Type}, ""},
		{"oneOf none", `{"oneOf":[{"type":"string"},{"type":"integer"}]}`, `null`, []Kind{OneOf, Type}, ""},
		{"oneOf two", `{"oneOf":[{"type":"number"},{"type":"integer"}]}`, `1`, []Kind{OneOf}, ""},
		{"not", `{"not":{"type":"string"}}`, `"a"`, []Kind{Not}, ""},
		{"ref", `{"definitions":{"s":{"type":"string"}},"properties":{"a":{"$ref":"#/definitions/s"}}}`, `{"a":1}`, []Kind{Type}, "a"},
		{"ref without slash", `{"definitions":{"s":{"type":"string"}},"$ref":"#definitions/s"}`, `1`, []Kind{Type}, ""},
		{"ref ignores siblings", `{"definitions":{"s":{}},"$ref":"#/definitions/s","type":"string"}`, `1`, nil, ""},
		{"ref to other file", `{"$ref":"https://example.com/schema/defs.json#/definitions/u8"}`, `256`, []Kind{Maximum}, ""},
		{"recursive ref", `{"properties":{"next":{"$ref":"#"}},"required":["v"]}`, `{"v":1,"next":{"next":{"v":2}}}`, []Kind{Required}, "next"},
		{"escaped pointer", `{"definitions":{"a/b":{"type":"string"}},"$ref":"#/definitions/a~1b"}`, `1`, []Kind{Type}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Compile(files(t, map[string]string{
				"root.json": tt.schema,
				"defs.json": `{"definitions":{"u8":{"type":"integer","minimum":0,"maximum":255}}}`,
			}), "root.json")
			if err != nil {
				t.Fatal(err)
			}
			errs := s.Validate(decode(t, tt.doc))
			var kinds []Kind
			for _, e := range errs {
				kinds = append(kinds, e.Kind)
			}
			slices.Sort(kinds)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(kinds, want) {
				t.Fatalf("got %v, want kinds %v", errs, tt.want)
			}
			if len(errs) > 0 && strings.Join(errs[0].At, "/") != tt.at {
				t.Errorf("first error at %q, want %q (%v)", strings.Join(errs[0].At, "/"), tt.at, errs)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	for name, schema := range map[string]string{
		"missing file":    `{"$ref":"nothere.json"}`,
		"missing pointer": `{"$ref":"#/definitions/none"}`,
		"bad type":        `{"type":"text"}`,
		"bad pattern":     `{"pattern":"("}`,
		"bad minItems":    `{"minItems":-1}`,
		"bad multipleOf":  `{"multipleOf":0}`,
		"not an object":   `{"not":1}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Compile(files(t, map[string]string{"root.json": schema}), "root.json"); err == nil {
				t.Error("compiled")
			}
		})
	}
}

// TestRuntimeSpecFixtures runs runtime-spec's own good and bad config
// fixtures through its schema and compares every verdict with
// gojsonschema's, the validator runtime-spec's schema/validate.go uses.
func TestRuntimeSpecFixtures(t *testing.T) {
	ours, theirs, dir := runtimeSchemas(t)
	load := dirLoader(dir)
	fixtures, _ := filepath.Glob(filepath.Join(dir, "test", "config", "*", "*.json"))
	if len(fixtures) < 10 {
		t.Fatalf("only %d fixtures", len(fixtures))
	}
	for _, f := range fixtures {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		good := filepath.Base(filepath.Dir(f)) == "good"
		doc, err := load(filepath.Join("test", "config", filepath.Base(filepath.Dir(f)), filepath.Base(f)))
		if err != nil {
			if good {
				t.Errorf("%s: %v", f, err)
			}
			continue // a bad fixture that is not JSON at all
		}
		errs := ours.Validate(doc)
		res, err := theirs.Validate(gojsonschema.NewBytesLoader(data))
		if err != nil {
			t.Fatal(err)
		}
		if (len(errs) == 0) != good || res.Valid() != good {
			t.Errorf("%s: ours %v, gojsonschema %v", f, errs, res.Errors())
		}
	}
}

// FuzzRuntimeConfig compares the verdict on arbitrary JSON with
// gojsonschema's, runtime-spec's own validator, over runtime-spec's config
// schema (no date-time there, the one format the two read differently).
func FuzzRuntimeConfig(f *testing.F) {
	ours, theirs, dir := runtimeSchemas(f)
	fixtures, _ := filepath.Glob(filepath.Join(dir, "test", "config", "*", "*.json"))
	for _, p := range fixtures {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var doc any
		if dec.Decode(&doc) != nil || dec.More() {
			return
		}
		res, err := theirs.Validate(gojsonschema.NewGoLoader(doc))
		if err != nil {
			return
		}
		errs := ours.Validate(doc)
		if (len(errs) == 0) != res.Valid() {
			t.Fatalf("ours: %v; gojsonschema: %v", errs, res.Errors())
		}
	})
}

// dirLoader loads the JSON documents named relative to dir, numbers as
// json.Number.
func dirLoader(dir string) func(name string) (any, error) {
	return func(name string) (any, error) {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		return v, dec.Decode(&v)
	}
}

func runtimeSchemas(tb testing.TB) (*Schema, *gojsonschema.Schema, string) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/opencontainers/runtime-spec").Output()
	if err != nil {
		tb.Fatalf("locate the runtime-spec module: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "schema")
	ours, err := Compile(dirLoader(dir), "config-schema.json")
	if err != nil {
		tb.Fatal(err)
	}
	sl := gojsonschema.NewSchemaLoader()
	sl.AutoDetect = false
	sl.Draft = gojsonschema.Draft4
	theirs, err := sl.Compile(gojsonschema.NewReferenceLoader("file://" + filepath.Join(dir, "config-schema.json")))
	if err != nil {
		tb.Fatal(err)
	}
	return ours, theirs, dir
}
