package convert

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// loadRuntimeSchema compiles the runtime-spec config schema shipped in the
// runtime-spec module this module builds against (`go list -m` finds it in
// whatever module cache the build uses).
func loadRuntimeSchema(t *testing.T) *jsonschema.Schema {
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
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	c.UseLoader(fixingLoader{})
	sch, err := c.Compile(file)
	if err != nil {
		t.Fatalf("compile %s: %v", file, err)
	}
	return sch
}

// fixingLoader loads schema files, repairing the one malformed reference
// of runtime-spec v1.3.0 (defs.json: "#definitions/uint32" for
// "#/definitions/uint32") that lenient validators accept.
type fixingLoader struct{}

func (fixingLoader) Load(url string) (any, error) {
	file, err := jsonschema.FileLoader{}.ToFile(url)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	data = bytes.ReplaceAll(data, []byte(`"#definitions/`), []byte(`"#/definitions/`))
	return jsonschema.UnmarshalJSON(bytes.NewReader(data))
}

func validateRuntimeSchema(t *testing.T, sch *jsonschema.Schema, config []byte) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(config))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("config.json fails the runtime-spec schema: %v", err)
	}
}

// TestSchemaRejects makes sure the schema check can fail.
func TestSchemaRejects(t *testing.T) {
	sch := loadRuntimeSchema(t)
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(`{"ociVersion":"1.3.0","process":{"cwd":"/","user":{"uid":-1,"gid":0}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if sch.Validate(inst) == nil {
		t.Error("schema accepted a negative uid")
	}
}
