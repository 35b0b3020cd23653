package validate

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/internal/fsutil"
	"github.com/ocikit/ocikit/internal/jsonschema"
	"github.com/ocikit/ocikit/runtime/rules"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runtimeSchemaFS holds the JSON schemas of runtime-spec v1.3.0, byte for
// byte the files of the module's schema/ directory (a test compares them).
//
//go:embed runtime-schema/*.json
var runtimeSchemaFS embed.FS

var runtimeSchemas = sync.OnceValues(func() (map[string]*jsonschema.Schema, error) {
	return compileFS(runtimeSchemaFS, "runtime-schema", map[string]string{"config": "config-schema.json"})
})

// Runtime-spec clauses (file and the spec's own anchors).
const (
	clauseRtVersion    = "config.md#configSpecificationVersion"
	clauseRtRoot       = "config.md#configRoot"
	clauseRtMounts     = "config.md#configMounts"
	clauseRtPOSIXMount = "config.md#configPOSIXMounts"
	clauseRtProcess    = "config.md#configProcess"
	clauseRtRlimits    = "config.md#configPOSIXProcess"
	clauseRtCaps       = "config.md#configLinuxProcess"
	clauseRtHooks      = "config.md#configHooks"
	clauseRtAnnots     = "config.md#configAnnotations"
	clauseRtNamespaces = "config-linux.md#configLinuxNamespaces"
	clauseRtDevices    = "config-linux.md#configLinuxDevices"
	clauseRtMasked     = "config-linux.md#configLinuxMaskedPaths"
	clauseRtReadonly   = "config-linux.md#configLinuxReadonlyPaths"
	clauseRtSchema     = "runtime-spec schema/config-schema.json"
)

// RuntimeConfig validates a runtime-spec v1.3.0 config.json on its own:
// JSON well-formedness, the runtime-spec schema, and the semantic rules of
// config.md and config-linux.md the schema cannot express (SemVer
// ociVersion, absolute paths, at least one process argument, duplicate
// rlimits and namespaces, paired mount idmappings, hook timeouts, known
// rlimit and capability names, the org.opencontainers.image annotations).
func RuntimeConfig(data []byte) *Report {
	r := newReport("config.json")
	c := &checker{r: r}
	c.runtimeConfig(rootLoc("config.json"), "config.json", data)
	return r
}

// Bundle validates the runtime bundle in dir: its config.json as
// RuntimeConfig does, and that root.path names a directory (config.md:
// "A directory MUST exist at the path declared by the field"). The error is
// nil unless dir is not a directory (ErrNotBundle) or ctx ends.
func Bundle(ctx context.Context, dir string) (*Report, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("bundle %s: directory does not exist: %w", dir, ErrNotBundle)
		}
		return nil, fmt.Errorf("%w: %w", ErrNotBundle, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("bundle %s: not a directory: %w", dir, ErrNotBundle)
	}
	r := newReport(dir)
	c := &checker{r: r}
	l := rootLoc("config.json")
	data, err := fsutil.ReadFileLimit(filepath.Join(dir, "config.json"), maxDocumentSize)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			c.errorf(l, "config.json", "bundle.md", "config.json is missing")
		} else {
			c.errorf(l, "config.json", "bundle.md", "cannot read config.json: %v", err)
		}
		return r, nil
	}
	spec := c.runtimeConfig(l, "config.json", data)
	if spec != nil && spec.Root != nil && spec.Root.Path != "" && spec.Windows == nil {
		p := spec.Root.Path
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		st, err := os.Stat(p)
		switch {
		case err != nil:
			c.errorf(l.field("root").field("path"), "config.json", clauseRtRoot, "root.path %s: %v", spec.Root.Path, errors.Unwrap(err))
		case !st.IsDir():
			c.errorf(l.field("root").field("path"), "config.json", clauseRtRoot, "root.path %s is not a directory", spec.Root.Path)
		}
	}
	return r, ctx.Err()
}

// ErrNotBundle is returned (wrapped) by Bundle when dir is not a directory.
var ErrNotBundle = errdefs.New(errdefs.ErrInvalid, "validate: not a bundle directory")

func (c *checker) runtimeConfig(l loc, file string, data []byte) *specs.Spec {
	c.r.Checked.Documents++
	if !c.wellFormed(l, file, data) {
		return nil
	}
	doc, err := decodeJSON(data)
	if err != nil {
		c.errorf(l, file, clauseJSON, "malformed JSON: %v", err)
		return nil
	}
	if _, ok := doc.(map[string]any); !ok {
		c.errorf(l, file, clauseRtSchema, "config must be a JSON object, got %s", jsonType(doc))
		return nil
	}
	all, err := runtimeSchemas()
	if err != nil {
		c.errorf(l, file, "", "%v", err)
		return nil
	}
	before := c.r.Errors
	for _, p := range validateSchema(all["config"], doc) {
		c.schemaError(pointerLoc(l, doc, p.at), file, clauseRtSchema, p.msg)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		if c.r.Errors == before {
			c.errorf(l, file, clauseRtSchema, "does not decode as a runtime config: %s", jsonErrorText(data, err))
		}
		return nil
	}
	c.checkRuntimeSpec(l, file, &spec)
	return &spec
}

func (c *checker) checkRuntimeSpec(l loc, file string, s *specs.Spec) {
	if s.Version != "" {
		if major, ok := rules.SemVer(s.Version); !ok {
			c.errorf(l.field("ociVersion"), file, clauseRtVersion, "ociVersion %q is not SemVer 2.0.0", s.Version)
		} else if major != 1 {
			c.warnf(l.field("ociVersion"), file, clauseRtVersion, "ociVersion %q: this validator knows runtime-spec 1.x", s.Version)
		}
	}
	posix := s.Windows == nil
	linux := s.Linux != nil || posix && s.Solaris == nil && s.ZOS == nil && s.FreeBSD == nil && s.VM == nil
	if s.Root != nil && posix && s.Root.Path == "" {
		c.errorf(l.field("root").field("path"), file, clauseRtRoot, "root.path is empty")
	}
	for i, m := range s.Mounts {
		ml := l.field("mounts").index(i)
		switch {
		case m.Destination == "":
			c.errorf(ml.field("destination"), file, clauseRtMounts, "mount destination is empty")
		case !strings.HasPrefix(m.Destination, "/") && linux:
			c.warnf(ml.field("destination"), file, clauseRtMounts, "mount destination %q is relative (deprecated on Linux; SHOULD be absolute)", m.Destination)
		case !strings.HasPrefix(m.Destination, "/") && posix:
			c.errorf(ml.field("destination"), file, clauseRtMounts, "mount destination %q MUST be an absolute path", m.Destination)
		}
		if (len(m.UIDMappings) > 0) != (len(m.GIDMappings) > 0) {
			c.errorf(ml, file, clauseRtPOSIXMount, "uidMappings and gidMappings MUST be specified together")
		}
	}
	if p := s.Process; p != nil {
		pl := l.field("process")
		if posix {
			if p.Cwd != "" && !strings.HasPrefix(p.Cwd, "/") {
				c.errorf(pl.field("cwd"), file, clauseRtProcess, "cwd %q MUST be an absolute path", p.Cwd)
			}
			if len(p.Args) == 0 {
				c.errorf(pl.field("args"), file, clauseRtProcess, "args MUST have at least one entry")
			}
		}
		for i, e := range p.Env {
			if !envRE().MatchString(e) {
				c.errorf(pl.field("env").index(i), file, clauseRtProcess, "env entry %q is not NAME=VALUE (environ)", e)
			}
		}
		seen := map[string]int{}
		for i, rl := range p.Rlimits {
			rll := pl.field("rlimits").index(i)
			if j, dup := seen[rl.Type]; dup {
				c.errorf(rll.field("type"), file, clauseRtRlimits, "rlimit %s duplicates rlimits[%d]", rl.Type, j)
			}
			seen[rl.Type] = i
			if _, known := rules.Rlimit(rl.Type); linux && !known {
				c.errorf(rll.field("type"), file, clauseRtRlimits, "rlimit %s is not a Linux resource (getrlimit(2))", rl.Type)
			}
			if rl.Soft > rl.Hard {
				c.errorf(rll, file, clauseRtRlimits, "soft limit %d exceeds hard limit %d", rl.Soft, rl.Hard)
			}
		}
		if caps := p.Capabilities; caps != nil && linux {
			for _, set := range []struct {
				name string
				caps []string
			}{{"bounding", caps.Bounding}, {"effective", caps.Effective}, {"inheritable", caps.Inheritable}, {"permitted", caps.Permitted}, {"ambient", caps.Ambient}} {
				for i, cp := range set.caps {
					if !rules.IsCapability(cp) {
						c.warnf(pl.field("capabilities").field(set.name).index(i), file, clauseRtCaps, "unknown capability %q (capabilities(7)); runtimes warn and ignore it", cp)
					}
				}
			}
		}
	}
	if h := s.Hooks; h != nil {
		for _, set := range []struct {
			name  string
			hooks []specs.Hook
		}{{"prestart", h.Prestart}, {"createRuntime", h.CreateRuntime}, {"createContainer", h.CreateContainer}, {"startContainer", h.StartContainer}, {"poststart", h.Poststart}, {"poststop", h.Poststop}} { //nolint:staticcheck // prestart is deprecated but valid
			for i, hk := range set.hooks {
				hl := l.field("hooks").field(set.name).index(i)
				if !strings.HasPrefix(hk.Path, "/") {
					c.errorf(hl.field("path"), file, clauseRtHooks, "hook path %q MUST be absolute", hk.Path)
				}
				if hk.Timeout != nil && *hk.Timeout <= 0 {
					c.errorf(hl.field("timeout"), file, clauseRtHooks, "timeout %d MUST be greater than zero", *hk.Timeout)
				}
			}
		}
	}
	for _, k := range sortedKeys(s.Annotations) {
		v := s.Annotations[k]
		al := l.field("annotations").field(k)
		switch k {
		case "":
			c.errorf(al, file, clauseRtAnnots, "annotation key MUST NOT be empty")
		case "org.opencontainers.image.created":
			if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
				c.errorf(al, file, clauseRtAnnots, "created %q is not an RFC 3339 date-time (image-spec config.md created)", v)
			}
		case "org.opencontainers.image.stopSignal":
			if !signalRE().MatchString(v) {
				c.errorf(al, file, clauseRtAnnots, "stopSignal %q is not a signal name or number", v)
			}
		}
	}
	if lx := s.Linux; lx != nil {
		ll := l.field("linux")
		seen := map[specs.LinuxNamespaceType]int{}
		for i, ns := range lx.Namespaces {
			nl := ll.field("namespaces").index(i)
			if j, dup := seen[ns.Type]; dup {
				c.errorf(nl.field("type"), file, clauseRtNamespaces, "namespace %s duplicates namespaces[%d]", ns.Type, j)
			}
			seen[ns.Type] = i
			if ns.Path != "" && !strings.HasPrefix(ns.Path, "/") {
				c.errorf(nl.field("path"), file, clauseRtNamespaces, "namespace path %q MUST be absolute", ns.Path)
			}
		}
		for i, d := range lx.Devices {
			if !strings.HasPrefix(d.Path, "/") {
				c.errorf(ll.field("devices").index(i).field("path"), file, clauseRtDevices, "device path %q is not a full path", d.Path)
			}
		}
		for i, p := range lx.MaskedPaths {
			if !strings.HasPrefix(p, "/") {
				c.errorf(ll.field("maskedPaths").index(i), file, clauseRtMasked, "masked path %q MUST be absolute", p)
			}
		}
		for i, p := range lx.ReadonlyPaths {
			if !strings.HasPrefix(p, "/") {
				c.errorf(ll.field("readonlyPaths").index(i), file, clauseRtReadonly, "readonly path %q MUST be absolute", p)
			}
		}
	}
}
