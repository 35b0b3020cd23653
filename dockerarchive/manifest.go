package dockerarchive

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/ocikit/ocikit/errdefs"
)

// ManifestFile is the name of the archive's list of images.
const ManifestFile = "manifest.json"

// MaxManifestSize caps manifest.json (as registries cap manifests).
const MaxManifestSize = 4 << 20

// Caps on what one manifest.json may list: a hostile archive must not make
// the reader allocate or look up without bound.
const (
	maxItems  = 10000
	maxLayers = 4096
	maxTags   = 1000
)

// Errors of this package, each of an errdefs kind.
var (
	// ErrInvalidArchive: the tar is malformed or truncated, holds an entry
	// that escapes or does not belong, or its manifest.json is wrong.
	ErrInvalidArchive = errdefs.New(errdefs.ErrInvalid, "dockerarchive: invalid archive")
	// ErrInvalidName: not a docker reference NAME[:TAG].
	ErrInvalidName = errdefs.New(errdefs.ErrInvalid, "dockerarchive: invalid image name")
)

// ManifestItem is one image of manifest.json: paths inside the archive of
// its config and of its layer tars (bottom first), and its names.
type ManifestItem struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// ParseManifest parses manifest.json: a JSON array of items, each with a
// Config and Layers (other fields, such as Parent and LayerSources, are
// ignored). More than MaxManifestSize bytes, or items without a config,
// empty paths, or lists over the caps are ErrInvalidArchive.
func ParseManifest(data []byte) ([]ManifestItem, error) {
	if len(data) > MaxManifestSize {
		return nil, fmt.Errorf("%s: %d bytes, more than %d: %w", ManifestFile, len(data), MaxManifestSize, ErrInvalidArchive)
	}
	var items []ManifestItem
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&items); err != nil {
		return nil, fmt.Errorf("%s: %v: %w", ManifestFile, err, ErrInvalidArchive)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: data after the list: %w", ManifestFile, ErrInvalidArchive)
	}
	if items == nil {
		return nil, fmt.Errorf("%s: not a list of images: %w", ManifestFile, ErrInvalidArchive)
	}
	if len(items) > maxItems {
		return nil, fmt.Errorf("%s: %d images, more than %d: %w", ManifestFile, len(items), maxItems, ErrInvalidArchive)
	}
	for i, it := range items {
		switch {
		case it.Config == "":
			return nil, fmt.Errorf("%s: image %d: no Config: %w", ManifestFile, i, ErrInvalidArchive)
		case len(it.Layers) > maxLayers:
			return nil, fmt.Errorf("%s: image %d: %d layers, more than %d: %w", ManifestFile, i, len(it.Layers), maxLayers, ErrInvalidArchive)
		case len(it.RepoTags) > maxTags:
			return nil, fmt.Errorf("%s: image %d: %d RepoTags, more than %d: %w", ManifestFile, i, len(it.RepoTags), maxTags, ErrInvalidArchive)
		}
		for j, l := range it.Layers {
			if l == "" {
				return nil, fmt.Errorf("%s: image %d: layer %d: empty path: %w", ManifestFile, i, j, ErrInvalidArchive)
			}
		}
	}
	return items, nil
}

// Docker reference grammar (the distribution project's reference
// package): a name of lowercase path components, optionally after a
// domain (a host with an optional port), and a tag.
var (
	nameComponentRE = lazyRegexp(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	domainRE        = lazyRegexp(`^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?$`)
	tagRE           = lazyRegexp(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
)

func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

// maxNameLen is the docker reference's limit on a name.
const maxNameLen = 255

// ParseName checks a docker reference NAME[:TAG] as skopeo's
// docker-archive: transport takes it and returns it with the tag "latest"
// added when none is given. A digest (NAME@DIGEST) is refused, as skopeo
// does: an archive names images by tag. The name is kept as written (no
// default domain is added), and RepoTags are compared as written.
func ParseName(s string) (string, error) {
	if strings.Contains(s, "@") {
		return "", fmt.Errorf("%q: a docker archive names images by tag, not digest: %w", clip(s), ErrInvalidName)
	}
	name, tag := s, "latest"
	if i := strings.LastIndexByte(s, ':'); i > strings.LastIndexByte(s, '/') {
		name, tag = s[:i], s[i+1:]
		if !tagRE().MatchString(tag) {
			return "", fmt.Errorf("%q: tag %q: %w", clip(s), clip(tag), ErrInvalidName)
		}
	}
	if name == "" || len(name) > maxNameLen {
		return "", fmt.Errorf("%q: name empty or longer than %d: %w", clip(s), maxNameLen, ErrInvalidName)
	}
	comps := strings.Split(name, "/")
	if len(comps) > 1 && (strings.ContainsAny(comps[0], ".:") || comps[0] == "localhost" || comps[0] != strings.ToLower(comps[0])) {
		if !domainRE().MatchString(comps[0]) {
			return "", fmt.Errorf("%q: domain %q: %w", clip(s), clip(comps[0]), ErrInvalidName)
		}
		comps = comps[1:]
	}
	for _, c := range comps {
		if !nameComponentRE().MatchString(c) {
			return "", fmt.Errorf("%q: path component %q (lowercase letters and digits, separated by ., _, __ or -): %w", clip(s), clip(c), ErrInvalidName)
		}
	}
	return name + ":" + tag, nil
}

// IsName reports whether s is a docker reference with a tag, as ParseName
// returns them: what Writer records as a RepoTag.
func IsName(s string) bool {
	n, err := ParseName(s)
	return err == nil && n == s
}

// ParseSourceIndex parses skopeo's "@N" (the N-th image of manifest.json,
// from 0); ok is false when s does not start with "@".
func ParseSourceIndex(s string) (n int, ok bool, err error) {
	rest, ok := strings.CutPrefix(s, "@")
	if !ok {
		return 0, false, nil
	}
	n, err = strconv.Atoi(rest)
	if err != nil || n < 0 || strconv.Itoa(n) != rest {
		return 0, true, fmt.Errorf("source index %q: not a number from 0: %w", clip(s), ErrInvalidName)
	}
	return n, true, nil
}

func clip(s string) string {
	if len(s) > 140 {
		return s[:140] + "..."
	}
	return s
}
