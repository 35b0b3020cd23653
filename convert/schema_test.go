package convert

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/xeipuuv/gojsonreference"
	"github.com/xeipuuv/gojsonschema"
)

// loadRuntimeSchema compiles the runtime-spec config schema shipped in the
// runtime-spec module this module builds against (`go list -m` finds it in
// whatever module cache the build uses), with gojsonschema, the validator
// runtime-spec's own schema/validate.go uses.
func loadRuntimeSchema(t *testing.T) *gojsonschema.Schema {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/opencontainers/runtime-spec").Output()
	if err != nil {
		t.Fatalf("locate the runtime-spec module: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	if !strings.HasSuffix(dir, "@v"+specs.Version) {
		t.Fatalf("runtime-spec module at %s, want version %s", dir, specs.Version)
	}
	file := filepath.Join(dir, "schema", "config-schema.json")
	// Some of the schema files have no "$schema"; they are all draft-04.
	sl := gojsonschema.NewSchemaLoader()
	sl.AutoDetect = false
	sl.Draft = gojsonschema.Draft4
	sch, err := sl.Compile(fileLoader("file://" + filepath.ToSlash(file)))
	if err != nil {
		t.Fatalf("compile %s: %v", file, err)
	}
	return sch
}

// fileLoader loads the schema file at a file:// URL and, as its own
// factory, the files it refers to. (runtime-spec v1.3.0's defs.json has
// "#definitions/uint32" for "#/definitions/uint32"; gojsonschema reads it
// as meant.)
type fileLoader string

func (l fileLoader) JsonSource() any { return string(l) }

func (l fileLoader) JsonReference() (gojsonreference.JsonReference, error) {
	return gojsonreference.NewJsonReference(string(l))
}

func (l fileLoader) LoaderFactory() gojsonschema.JSONLoaderFactory { return l }

func (fileLoader) New(source string) gojsonschema.JSONLoader { return fileLoader(source) }

func (l fileLoader) LoadJSON() (any, error) {
	u, err := url.Parse(string(l))
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(u.Path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	return v, dec.Decode(&v)
}

// schemaErrors validates config against sch and returns its violations.
func schemaErrors(t *testing.T, sch *gojsonschema.Schema, config []byte) []gojsonschema.ResultError {
	t.Helper()
	res, err := sch.Validate(gojsonschema.NewBytesLoader(config))
	if err != nil {
		t.Fatal(err)
	}
	return res.Errors()
}

func validateRuntimeSchema(t *testing.T, sch *gojsonschema.Schema, config []byte) {
	t.Helper()
	for _, e := range schemaErrors(t, sch, config) {
		t.Errorf("config.json fails the runtime-spec schema: %s", e)
	}
}

// TestSchemaRejects makes sure the schema check can fail.
func TestSchemaRejects(t *testing.T) {
	sch := loadRuntimeSchema(t)
	if len(schemaErrors(t, sch, []byte(`{"ociVersion":"1.3.0","process":{"cwd":"/","user":{"uid":-1,"gid":0}}}`))) == 0 {
		t.Error("schema accepted a negative uid")
	}
}
