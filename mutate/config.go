package mutate

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/ocikit/ocikit/errdefs"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// ErrInvalidConfig is returned for a configuration change or image config
// that breaks config.md.
var ErrInvalidConfig = errdefs.New(errdefs.ErrInvalid, "mutate: invalid config")

// ConfigChange is an edit of an image config (config.md "config" object)
// and of the manifest annotations. Nil pointers and empty lists leave a
// field as it is; Clear* empty a field before the additions apply.
type ConfigChange struct {
	Entrypoint *[]string // set (an empty slice clears)
	Cmd        *[]string // set (an empty slice clears)
	WorkingDir *string
	User       *string
	StopSignal *string
	Author     *string

	ClearEnv bool
	Env      []string // KEY=VALUE: replaces KEY or appends

	ClearLabels bool
	Labels      map[string]string

	ClearAnnotations bool
	Annotations      map[string]string // manifest annotations

	ClearExposedPorts bool
	ExposedPorts      []string // "port", "port/tcp", "port/udp", "port/sctp"

	ClearVolumes bool
	Volumes      []string // absolute paths
}

// The patterns compile on first use, not at package initialization: every
// ocikit process (the container init too) links this package.
var (
	envKeyRE   = lazyRegexp(`^[^=\x00]+$`)
	portRE     = lazyRegexp(`^([0-9]{1,5})(?:/(tcp|udp|sctp))?$`)
	signalRE   = lazyRegexp(`^((SIG)?[A-Z][A-Z0-9]*([+-][0-9]+)?|[0-9]+)$`)
	annotKeyRE = lazyRegexp(`^[^\x00]+$`)
)

func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

// Apply edits m and img in place after checking every value; on error
// neither is modified.
func (c *ConfigChange) Apply(m *v1.Manifest, img *v1.Image) error {
	for _, e := range c.Env {
		k, _, ok := strings.Cut(e, "=")
		if !ok || !envKeyRE().MatchString(k) {
			return fmt.Errorf("%w: env %q: want KEY=VALUE", ErrInvalidConfig, e)
		}
	}
	for k := range c.Labels {
		if !annotKeyRE().MatchString(k) {
			return fmt.Errorf("%w: empty label key", ErrInvalidConfig)
		}
	}
	for k := range c.Annotations {
		if !annotKeyRE().MatchString(k) {
			return fmt.Errorf("%w: empty annotation key", ErrInvalidConfig)
		}
	}
	ports := make([]string, 0, len(c.ExposedPorts))
	for _, p := range c.ExposedPorts {
		sm := portRE().FindStringSubmatch(p)
		if sm == nil {
			return fmt.Errorf("%w: exposed port %q: want PORT[/tcp|udp|sctp]", ErrInvalidConfig, p)
		}
		if n, _ := strconv.Atoi(sm[1]); n < 1 || n > 65535 {
			return fmt.Errorf("%w: exposed port %q: port out of range 1-65535", ErrInvalidConfig, p)
		}
		proto := sm[2]
		if proto == "" {
			proto = "tcp" // config.md: "the default protocol being tcp"
		}
		ports = append(ports, sm[1]+"/"+proto)
	}
	for _, v := range c.Volumes {
		if !path.IsAbs(v) {
			return fmt.Errorf("%w: volume %q: want an absolute path", ErrInvalidConfig, v)
		}
	}
	if c.StopSignal != nil && *c.StopSignal != "" && !signalRE().MatchString(*c.StopSignal) {
		return fmt.Errorf("%w: stop signal %q: want a name like SIGTERM or SIGRTMIN+3", ErrInvalidConfig, *c.StopSignal)
	}

	cfg := &img.Config
	if c.Entrypoint != nil {
		cfg.Entrypoint = nilIfEmpty(*c.Entrypoint)
	}
	if c.Cmd != nil {
		cfg.Cmd = nilIfEmpty(*c.Cmd)
	}
	if c.WorkingDir != nil {
		cfg.WorkingDir = *c.WorkingDir
	}
	if c.User != nil {
		cfg.User = *c.User
	}
	if c.StopSignal != nil {
		cfg.StopSignal = *c.StopSignal
	}
	if c.Author != nil {
		img.Author = *c.Author
	}
	if c.ClearEnv {
		cfg.Env = nil
	}
	for _, e := range c.Env {
		cfg.Env = setEnv(cfg.Env, e)
	}
	cfg.Labels = editMap(cfg.Labels, c.ClearLabels, c.Labels)
	m.Annotations = editMap(m.Annotations, c.ClearAnnotations, c.Annotations)
	cfg.ExposedPorts = editSet(cfg.ExposedPorts, c.ClearExposedPorts, ports)
	cfg.Volumes = editSet(cfg.Volumes, c.ClearVolumes, c.Volumes)
	return nil
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return append([]string(nil), s...)
}

// setEnv replaces the entry for kv's key, or appends kv.
func setEnv(env []string, kv string) []string {
	k, _, _ := strings.Cut(kv, "=")
	out := append([]string(nil), env...)
	for i, e := range out {
		if ek, _, _ := strings.Cut(e, "="); ek == k {
			out[i] = kv
			return out
		}
	}
	return append(out, kv)
}

func editMap(m map[string]string, clear bool, add map[string]string) map[string]string {
	out := map[string]string{}
	if !clear {
		maps.Copy(out, m)
	}
	maps.Copy(out, add)
	if len(out) == 0 {
		return nil
	}
	return out
}

func editSet(m map[string]struct{}, clear bool, add []string) map[string]struct{} {
	out := map[string]struct{}{}
	if !clear {
		maps.Copy(out, m)
	}
	for _, k := range add {
		out[k] = struct{}{}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// EditConfig applies change to base and config and commits the result under
// tag, with an empty_layer history entry per WithHistory (config.md
// "history": the change made no filesystem diff).
func EditConfig(ctx context.Context, s Store, tag string, base v1.Manifest, config v1.Image, change ConfigChange, opts ...Option) (v1.Descriptor, error) {
	o := newOptions(opts)
	if err := change.Apply(&base, &config); err != nil {
		return v1.Descriptor{}, err
	}
	config.History = append(append([]v1.History{}, config.History...), o.historyEntry(true))
	config.Created = o.created
	return Commit(ctx, s, tag, base, config)
}

// ParseArgList turns the values of a repeated list flag (--entrypoint,
// --cmd) into a list: a single value that is a JSON array of strings is
// that array (`--cmd '["sh","-c","echo hi"]'`); otherwise each value is one
// element (`--cmd sh --cmd -c --cmd 'echo hi'`), as umoci's --config.cmd.
func ParseArgList(values []string) ([]string, error) {
	if len(values) == 1 && strings.HasPrefix(strings.TrimSpace(values[0]), "[") {
		var out []string
		if err := json.Unmarshal([]byte(values[0]), &out); err != nil {
			return nil, fmt.Errorf("%w: %q is not a JSON array of strings", ErrInvalidConfig, values[0])
		}
		return out, nil
	}
	return append([]string{}, values...), nil
}

// ParseKeyValues parses repeated KEY=VALUE flag values (labels,
// annotations) into a map. The key must not be empty; the value may be.
func ParseKeyValues(what string, values []string) (map[string]string, error) {
	out := make(map[string]string, len(values))
	for _, kv := range values {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%w: %s %q: want KEY=VALUE", ErrInvalidConfig, what, kv)
		}
		out[k] = v
	}
	return out, nil
}
