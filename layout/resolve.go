package layout

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Image is a resolved image: the manifest's descriptor (carrying the
// platform of the index entry it was chosen from, if any), the manifest
// (whose Config field is the config descriptor) and the decoded config. For
// an artifact whose config is not an image config, Config is zero.
type Image struct {
	Descriptor v1.Descriptor
	Manifest   v1.Manifest
	Config     v1.Image
}

// ResolveOption adjusts Resolve.
type ResolveOption func(*resolveOptions)

type resolveOptions struct {
	platform *v1.Platform
}

// WithPlatform makes Resolve choose the manifest for p from image indexes
// (os and architecture must match; the variant too when p names one), and
// refuse a single-manifest image whose config names another platform.
func WithPlatform(p v1.Platform) ResolveOption {
	return func(o *resolveOptions) { o.platform = &p }
}

// maxDepth bounds index nesting; it also stops an index that lists itself.
const maxDepth = 8

// Resolve finds the image a tag or digest names (see Lookup) and descends
// through nested image indexes to one manifest. In each index it takes the
// first entry matching the platform (image-index.md: "the first matching
// entry SHOULD be used"): by default the host's (runtime.GOOS/GOARCH, with
// variant v7 on arm and v8 on arm64). An index with no match, or with no
// platform information and several entries, is an error (ErrNotFound,
// ErrAmbiguous) listing the platforms it has. The manifest and config blobs
// are read verified.
func (l *Layout) Resolve(ctx context.Context, name string, opts ...ResolveOption) (*Image, error) {
	var o resolveOptions
	for _, opt := range opts {
		opt(&o)
	}
	desc, err := l.Lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	want, explicit := HostPlatform(), false
	if o.platform != nil {
		want, explicit = *o.platform, true
	}
	for depth := 0; ; depth++ {
		if depth > maxDepth {
			return nil, fmt.Errorf("%s: image indexes nested deeper than %d: %w", name, maxDepth, ErrInvalidDocument)
		}
		switch {
		case IsIndex(desc.MediaType):
			data, err := l.ReadBlob(ctx, desc)
			if err != nil {
				return nil, err
			}
			idx, err := ParseIndex(data)
			if err != nil {
				return nil, fmt.Errorf("index %s: %w", desc.Digest, err)
			}
			child, err := choosePlatform(idx, want, explicit)
			if err != nil {
				return nil, fmt.Errorf("%s: index %s: %w", name, desc.Digest, err)
			}
			desc = child
		case IsManifest(desc.MediaType):
			return l.readImage(ctx, desc, want, explicit)
		default:
			return nil, fmt.Errorf("%s: %s has media type %q, not an image manifest or index: %w", name, desc.Digest, clip(desc.MediaType), ErrInvalidDocument)
		}
	}
}

func (l *Layout) readImage(ctx context.Context, desc v1.Descriptor, want v1.Platform, explicit bool) (*Image, error) {
	data, err := l.ReadBlob(ctx, desc)
	if err != nil {
		return nil, err
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	img := &Image{Descriptor: desc, Manifest: *m}
	switch m.Config.MediaType {
	case v1.MediaTypeImageConfig, MediaTypeDockerConfig:
		cfg, err := l.ReadBlob(ctx, m.Config)
		if err != nil {
			return nil, fmt.Errorf("config of manifest %s: %w", desc.Digest, err)
		}
		if err := json.Unmarshal(cfg, &img.Config); err != nil {
			return nil, fmt.Errorf("config %s: malformed JSON (%s): %w", m.Config.Digest, jsonErrorDetail(cfg, err), ErrInvalidDocument)
		}
		if explicit {
			// An explicit --platform must match a manifest named directly by
			// a tag too: by its descriptor's platform where index.json gives
			// one, else by its config's os/architecture/variant.
			got := v1.Platform{OS: img.Config.OS, Architecture: img.Config.Architecture, Variant: img.Config.Variant}
			if desc.Platform != nil {
				got = *desc.Platform
			}
			if !platformMatches(got, want) {
				return nil, fmt.Errorf("manifest %s is for %s, not %s: %w", desc.Digest, FormatPlatform(got), FormatPlatform(want), ErrNotFound)
			}
		}
	}
	return img, nil
}

// choosePlatform picks the index entry for want: the best-ranked match
// (platformRank), the first of equals (image-index.md: "If multiple
// manifests match a client or runtime's requirements, the first matching
// entry SHOULD be used").
func choosePlatform(idx *v1.Index, want v1.Platform, explicit bool) (v1.Descriptor, error) {
	var unplatformed []v1.Descriptor
	var have []string
	best, bestRank := -1, 0
	for i, d := range idx.Manifests {
		if !IsIndex(d.MediaType) && !IsManifest(d.MediaType) {
			continue // image-index.md: unknown media types MUST NOT be an error
		}
		if d.Platform == nil {
			unplatformed = append(unplatformed, d)
			have = append(have, "(no platform) "+string(d.Digest))
			continue
		}
		have = append(have, FormatPlatform(*d.Platform))
		if r := platformRank(*d.Platform, want); r >= 0 && (best < 0 || r < bestRank) {
			best, bestRank = i, r
		}
	}
	if best >= 0 {
		return idx.Manifests[best], nil
	}
	// An entry without platform information applies to any platform; if it
	// is the only candidate it is the answer (unless it is a nested index,
	// which is then searched).
	if len(unplatformed) == 1 {
		return unplatformed[0], nil
	}
	list := "none"
	if len(have) > 0 {
		list = strings.Join(have, ", ")
	}
	if len(unplatformed) > 1 {
		return v1.Descriptor{}, fmt.Errorf("no manifest for %s and %d without platform: %w (has: %s)", FormatPlatform(want), len(unplatformed), ErrAmbiguous, list)
	}
	hint := ""
	if !explicit {
		hint = "; choose one with --platform"
	}
	return v1.Descriptor{}, fmt.Errorf("no manifest for %s: %w (has: %s%s)", FormatPlatform(want), ErrNotFound, list, hint)
}

// platformMatches reports whether an image for have runs on want.
func platformMatches(have, want v1.Platform) bool { return platformRank(have, want) >= 0 }

// platformRank says how well an image for have suits want: -1 not at
// all, 0 exactly, n > 0 as a fallback (lower is better). OS and
// architecture must match (after mapping the common aliases x86_64,
// aarch64, armhf). A want without variant takes any variant. Variants are
// ordered where the CPUs are backward compatible
// (image-index.md#platform-variants): an arm v7 host runs v6 and v5
// images, an amd64 v3 host runs v2 and v1 ones. An absent variant means
// v8 on arm64, v7 on arm and v1 on amd64, as containerd reads them.
func platformRank(have, want v1.Platform) int {
	if have.OS != want.OS {
		return -1
	}
	arch := normArch(want.Architecture)
	if normArch(have.Architecture) != arch {
		return -1
	}
	if want.Variant == "" {
		return 0
	}
	hv, wv := normVariant(arch, have.Variant), normVariant(arch, want.Variant)
	if hv == wv {
		return 0
	}
	if arch == "arm" || arch == "amd64" {
		h, okh := variantLevel(hv)
		w, okw := variantLevel(wv)
		if okh && okw && h < w {
			return w - h
		}
	}
	return -1
}

func normArch(a string) string {
	switch a {
	case "x86_64", "x86-64":
		return "amd64"
	case "aarch64":
		return "arm64"
	case "armhf", "armel":
		return "arm"
	}
	return a
}

func normVariant(arch, v string) string {
	if v != "" {
		return v
	}
	switch arch {
	case "arm64":
		return "v8"
	case "arm":
		return "v7"
	case "amd64":
		return "v1"
	}
	return ""
}

// variantLevel reads "v7" as 7.
func variantLevel(v string) (int, bool) {
	if len(v) < 2 || len(v) > 3 || v[0] != 'v' {
		return 0, false
	}
	n := 0
	for _, c := range v[1:] {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// HostPlatform is the platform Resolve chooses by default: runtime.GOOS and
// runtime.GOARCH; on arm the variant is the CPU's (from /proc/cpuinfo on
// Linux, else v7), on arm64 it is v8.
func HostPlatform() v1.Platform {
	p := v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	switch runtime.GOARCH {
	case "arm":
		p.Variant = armVariant()
	case "arm64":
		p.Variant = "v8"
	}
	return p
}

var platformPartRE = lazyRegexp(`^[A-Za-z0-9._-]+$`)

// ParsePlatform parses "os/arch" or "os/arch/variant".
func ParsePlatform(s string) (v1.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return v1.Platform{}, fmt.Errorf("platform %q: want os/arch[/variant]: %w", clip(s), ErrInvalidReference)
	}
	for _, p := range parts {
		if !platformPartRE().MatchString(p) {
			return v1.Platform{}, fmt.Errorf("platform %q: want os/arch[/variant] of letters, digits, '.', '_' and '-': %w", clip(s), ErrInvalidReference)
		}
	}
	p := v1.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// FormatPlatform writes p as ParsePlatform reads it.
func FormatPlatform(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}
