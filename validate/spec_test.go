package validate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// The image-spec module's own test material runs through the validator:
// the table cases of its schema/*_test.go and the fenced JSON examples of
// its markdown files. Both are read from the module in the Go module cache
// (a dependency of this module, so present without network).

var (
	specDirOnce sync.Once
	specDir     string
	specDirErr  error
)

// imageSpecDir returns the directory of the image-spec module this module
// builds against, as `go list -m -json` reports it.
func imageSpecDir(t *testing.T) string {
	t.Helper()
	specDirOnce.Do(func() {
		cmd := exec.Command("go", "list", "-m", "-json", "github.com/opencontainers/image-spec")
		out, err := cmd.Output()
		if err != nil {
			specDirErr = err
			return
		}
		var m struct{ Dir string }
		if err := json.Unmarshal(out, &m); err != nil {
			specDirErr = err
			return
		}
		specDir = m.Dir
		if specDir == "" {
			specDirErr = os.ErrNotExist
		}
	})
	if specDirErr != nil {
		t.Fatalf("locate image-spec module: %v", specDirErr)
	}
	return specDir
}

type specCase struct {
	name      string
	mediaType string
	body      string
	fail      bool
}

// testFuncTypes maps image-spec's schema test functions to the media type
// their table cases are validated as.
var testFuncTypes = map[string]string{
	"TestConfig":                           v1.MediaTypeImageConfig,
	"TestDescriptor":                       v1.MediaTypeDescriptor,
	"TestImageIndex":                       v1.MediaTypeImageIndex,
	"TestImageLayout":                      v1.MediaTypeLayoutHeader,
	"TestManifest":                         v1.MediaTypeImageManifest,
	"TestBackwardsCompatibilityImageIndex": v1.MediaTypeImageIndex,
	"TestBackwardsCompatibilityManifest":   v1.MediaTypeImageManifest,
	"TestBackwardsCompatibilityConfig":     v1.MediaTypeImageConfig,
}

// dockerToOCI is the conversion image-spec's backwards-compatibility tests
// apply to Docker documents before validating them as OCI documents.
var dockerToOCI = strings.NewReplacer(
	dockerManifestList, v1.MediaTypeImageIndex,
	dockerManifest, v1.MediaTypeImageManifest,
	dockerLayerGzip, v1.MediaTypeImageLayerGzip,
	dockerConfig, v1.MediaTypeImageConfig,
)

// schemaTestCases extracts the table cases from image-spec's
// schema/*_test.go: every struct literal with a raw-string document field
// and an optional `fail` field, inside a Test function of testFuncTypes.
func schemaTestCases(t *testing.T) []specCase {
	dir := filepath.Join(imageSpecDir(t), "schema")
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []specCase
	fset := token.NewFileSet()
	for _, file := range files {
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok {
				continue
			}
			mt, ok := testFuncTypes[fn.Name.Name]
			if !ok {
				continue
			}
			compat := strings.HasPrefix(fn.Name.Name, "TestBackwardsCompatibility")
			n := 0
			ast.Inspect(fn, func(node ast.Node) bool {
				lit, ok := node.(*ast.CompositeLit)
				if !ok {
					return true
				}
				var body string
				var haveBody, fail bool
				for _, el := range lit.Elts {
					kv, ok := el.(*ast.KeyValueExpr)
					if !ok {
						return true
					}
					key, ok := kv.Key.(*ast.Ident)
					if !ok {
						return true
					}
					switch v := kv.Value.(type) {
					case *ast.BasicLit:
						if v.Kind == token.STRING && key.Name != "digest" {
							s, err := strconv.Unquote(v.Value)
							if err != nil {
								t.Fatalf("%s: %v", fset.Position(v.Pos()), err)
							}
							body, haveBody = s, true
						}
					case *ast.Ident:
						if key.Name == "fail" {
							fail = v.Name == "true"
						}
					}
				}
				if !haveBody {
					return true
				}
				name := fmt.Sprintf("%s/%d", fn.Name.Name, n)
				n++
				if compat {
					// As image-spec does: convert, then validate as OCI.
					cases = append(cases, specCase{name: name, mediaType: mt, body: dockerToOCI.Replace(body), fail: fail})
					// And as the Docker type itself, which this validator
					// accepts as compatible.
					cases = append(cases, specCase{name: name + "/docker", mediaType: dockerType(mt), body: body, fail: fail})
				} else {
					cases = append(cases, specCase{name: name, mediaType: mt, body: body, fail: fail})
				}
				return false
			})
		}
	}
	return cases
}

func dockerType(oci string) string {
	switch oci {
	case v1.MediaTypeImageIndex:
		return dockerManifestList
	case v1.MediaTypeImageManifest:
		return dockerManifest
	}
	return dockerConfig
}

// markdownExamples extracts the fenced examples of the image-spec markdown
// files: "```json,title=...&mediatype=..." up to the closing fence, with the
// fence's indentation removed. An example is expected valid unless its
// attributes say valid=false (none of v1.1.1's do).
func markdownExamples(t *testing.T) []specCase {
	dir := imageSpecDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []specCase
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		lineNo := 0
		var cur *specCase
		var indent string
		var body strings.Builder
		for sc.Scan() {
			line := sc.Text()
			lineNo++
			trimmed := strings.TrimLeft(line, " \t")
			if cur == nil {
				attrs, ok := strings.CutPrefix(trimmed, "```json,")
				if !ok {
					continue
				}
				q, err := url.ParseQuery(attrs)
				if err != nil {
					t.Fatalf("%s:%d: fence attributes: %v", file, lineNo, err)
				}
				cur = &specCase{
					name:      fmt.Sprintf("%s:%d/%s", filepath.Base(file), lineNo, q.Get("title")),
					mediaType: q.Get("mediatype"),
					fail:      q.Get("valid") == "false",
				}
				indent = line[:len(line)-len(trimmed)]
				body.Reset()
				continue
			}
			if trimmed == "```" {
				cur.body = body.String()
				if cur.mediaType != "" {
					cases = append(cases, *cur)
				}
				cur = nil
				continue
			}
			body.WriteString(strings.TrimPrefix(line, indent))
			body.WriteByte('\n')
		}
	}
	return cases
}

func runSpecCases(t *testing.T, cases []specCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Document(tc.mediaType, []byte(tc.body))
			if tc.fail && r.Valid {
				t.Errorf("%s: want invalid, validator found no error\n%s", tc.mediaType, tc.body)
			}
			if !tc.fail && !r.Valid {
				t.Errorf("%s: want valid, got:\n%v\n%s", tc.mediaType, r.Err(), tc.body)
			}
			for _, p := range r.Problems {
				t.Logf("%s: %v", p.Severity, p)
			}
		})
	}
}

func TestImageSpecSchemaCases(t *testing.T) {
	cases := schemaTestCases(t)
	// image-spec v1.1.1 has 61 table cases (plus the Docker variants of the
	// backwards-compatibility ones); fewer means the extraction broke.
	if len(cases) < 60 {
		t.Fatalf("extracted only %d cases from image-spec's schema tests", len(cases))
	}
	valid, invalid := 0, 0
	for _, c := range cases {
		if c.fail {
			invalid++
		} else {
			valid++
		}
	}
	t.Logf("%d cases: %d valid, %d invalid", len(cases), valid, invalid)
	runSpecCases(t, cases)
}

func TestImageSpecMarkdownExamples(t *testing.T) {
	cases := markdownExamples(t)
	if len(cases) < 13 {
		t.Fatalf("extracted only %d examples from image-spec's markdown", len(cases))
	}
	runSpecCases(t, cases)
}

// TestEmbeddedSchemasAreImageSpecs checks that the schemas this package
// embeds are byte for byte those of the image-spec module it builds
// against, and that none is missing.
func TestEmbeddedSchemasAreImageSpecs(t *testing.T) {
	dir := filepath.Join(imageSpecDir(t), "schema")
	want, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := schemaFS.ReadDir("schema")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(want) {
		t.Fatalf("embedded %d schema files, image-spec has %d", len(entries), len(want))
	}
	for _, file := range want {
		name := filepath.Base(file)
		orig, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		ours, err := schemaFS.ReadFile("schema/" + name)
		if err != nil {
			t.Fatalf("schema %s not embedded: %v", name, err)
		}
		if !bytes.Equal(orig, ours) {
			t.Errorf("schema/%s differs from image-spec's", name)
		}
	}
	if _, err := schemas(); err != nil {
		t.Fatal(err)
	}
}
