package layout

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/platform"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Image is a resolved image (content.Image).
type Image = content.Image

// ResolveOption adjusts Resolve (content.ResolveOption).
type ResolveOption = content.ResolveOption

// WithPlatform makes Resolve choose the manifest for p from image indexes
// (os and architecture must match; the variant too when p names one), and
// refuse a single-manifest image whose config names another platform.
func WithPlatform(p v1.Platform) ResolveOption { return content.WithPlatform(p) }

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
	return ResolveFrom(ctx, l, name, opts...)
}

// Source is what ResolveFrom reads: blobs, and names looked up to
// descriptors (content.ImageSource without Resolve).
type Source interface {
	content.Provider
	Lookup(ctx context.Context, name string) (v1.Descriptor, error)
}

// ResolveFrom is Resolve over any Source (a registry, an archive), so every
// content.Resolver chooses the same manifest by the same rules.
// Manifests, indexes and configs are read whole, capped at MaxJSONSize.
func ResolveFrom(ctx context.Context, src Source, name string, opts ...ResolveOption) (*Image, error) {
	o := content.NewResolveOptions(opts...)
	desc, err := src.Lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	want, explicit := HostPlatform(), false
	if o.Platform != nil {
		want, explicit = *o.Platform, true
	}
	for depth := 0; ; depth++ {
		if depth > maxDepth {
			return nil, fmt.Errorf("%s: image indexes nested deeper than %d: %w", name, maxDepth, ErrInvalidDocument)
		}
		switch {
		case IsIndex(desc.MediaType):
			data, err := readJSON(ctx, src, desc)
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
			return readImage(ctx, src, desc, want, explicit)
		default:
			return nil, fmt.Errorf("%s: %s has media type %q, not an image manifest or index: %w", name, desc.Digest, clip(desc.MediaType), ErrInvalidDocument)
		}
	}
}

// readJSON reads a manifest, index or config whole: a layout's ReadBlob
// (ErrTooLarge over MaxJSONSize), else content.ReadAll with that limit.
func readJSON(ctx context.Context, src content.Provider, desc v1.Descriptor) ([]byte, error) {
	if l, ok := src.(*Layout); ok {
		return l.ReadBlob(ctx, desc)
	}
	return content.ReadAll(ctx, src, desc, MaxJSONSize)
}

func readImage(ctx context.Context, src content.Provider, desc v1.Descriptor, want v1.Platform, explicit bool) (*Image, error) {
	data, err := readJSON(ctx, src, desc)
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
		cfg, err := readJSON(ctx, src, m.Config)
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
			if !platform.Match(got, want) {
				return nil, fmt.Errorf("manifest %s is for %s, not %s: %w", desc.Digest, FormatPlatform(got), FormatPlatform(want), ErrNotFound)
			}
		}
	}
	return img, nil
}

// choosePlatform picks the index entry for want: the best-ranked match
// (platform.Rank), the first of equals (image-index.md: "If multiple
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
		if r := platform.Rank(*d.Platform, want); r >= 0 && (best < 0 || r < bestRank) {
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

// HostPlatform is the platform Resolve chooses by default (platform.Host).
func HostPlatform() v1.Platform { return platform.Host() }

// ParsePlatform parses "os/arch" or "os/arch/variant" (platform.Parse); its
// errors also wrap ErrInvalidReference.
func ParsePlatform(s string) (v1.Platform, error) {
	p, err := platform.Parse(s)
	if err != nil {
		return v1.Platform{}, withKind(err, ErrInvalidReference)
	}
	return p, nil
}

// FormatPlatform writes p as ParsePlatform reads it (platform.Format).
func FormatPlatform(p v1.Platform) string { return platform.Format(p) }
