package layout

import (
	"encoding/json"
	"fmt"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Docker's media types, which predate and parallel the OCI ones
// (media-types.md#compatibility-matrix). Layouts written by skopeo or
// buildah from a Docker source carry them; they are read like the OCI
// types.
const (
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerConfig       = "application/vnd.docker.container.image.v1+json"
)

// IsIndex reports whether mediaType names an image index (OCI or Docker).
func IsIndex(mediaType string) bool {
	return mediaType == v1.MediaTypeImageIndex || mediaType == MediaTypeDockerManifestList
}

// IsManifest reports whether mediaType names an image manifest (OCI or
// Docker).
func IsManifest(mediaType string) bool {
	return mediaType == v1.MediaTypeImageManifest || mediaType == MediaTypeDockerManifest
}

// ParseIndex decodes an image index (index.json or an index blob) and checks
// what the rest of this package relies on: schemaVersion 2, a mediaType (if
// any) of an index, a present manifests array, and descriptors with a
// mediaType, a digest in the digest grammar and a non-negative size. Digests
// of unregistered algorithms pass (descriptor.md: implementations SHOULD
// allow them); reading their blobs fails with ErrUnsupportedDigest.
func ParseIndex(data []byte) (*v1.Index, error) {
	var idx v1.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("malformed JSON (%s): %w", jsonErrorDetail(data, err), ErrInvalidDocument)
	}
	if idx.SchemaVersion != 2 {
		return nil, fmt.Errorf("schemaVersion %d, want 2: %w", idx.SchemaVersion, ErrInvalidDocument)
	}
	if idx.MediaType != "" && !IsIndex(idx.MediaType) {
		return nil, fmt.Errorf("mediaType %q is not an image index: %w", clip(idx.MediaType), ErrInvalidDocument)
	}
	// encoding/json leaves the slice nil only for a missing or null
	// manifests; [] decodes to an empty, non-nil slice.
	if idx.Manifests == nil {
		return nil, fmt.Errorf("no manifests array: %w", ErrInvalidDocument)
	}
	for i, d := range idx.Manifests {
		if err := checkDescriptor(d); err != nil {
			return nil, fmt.Errorf("manifests[%d]: %w", i, err)
		}
	}
	if idx.Subject != nil {
		if err := checkDescriptor(*idx.Subject); err != nil {
			return nil, fmt.Errorf("subject: %w", err)
		}
	}
	return &idx, nil
}

// ParseManifest decodes an image manifest and checks schemaVersion 2, the
// mediaType (if any), and the config, layers and subject descriptors as
// ParseIndex does.
func ParseManifest(data []byte) (*v1.Manifest, error) {
	var m v1.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("malformed JSON (%s): %w", jsonErrorDetail(data, err), ErrInvalidDocument)
	}
	if m.SchemaVersion != 2 {
		return nil, fmt.Errorf("schemaVersion %d, want 2: %w", m.SchemaVersion, ErrInvalidDocument)
	}
	if m.MediaType != "" && !IsManifest(m.MediaType) {
		return nil, fmt.Errorf("mediaType %q is not an image manifest: %w", clip(m.MediaType), ErrInvalidDocument)
	}
	if err := checkDescriptor(m.Config); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	for i, d := range m.Layers {
		if err := checkDescriptor(d); err != nil {
			return nil, fmt.Errorf("layers[%d]: %w", i, err)
		}
	}
	if m.Subject != nil {
		if err := checkDescriptor(*m.Subject); err != nil {
			return nil, fmt.Errorf("subject: %w", err)
		}
	}
	return &m, nil
}

// checkDescriptor checks the REQUIRED descriptor properties
// (descriptor.md#properties) enough to use the descriptor safely.
func checkDescriptor(d v1.Descriptor) error {
	if d.MediaType == "" {
		return fmt.Errorf("descriptor has no mediaType: %w", ErrInvalidDocument)
	}
	if !validDigestSyntax(string(d.Digest)) {
		return fmt.Errorf("descriptor digest %q: %w", clip(string(d.Digest)), ErrInvalidDigest)
	}
	if d.Size < 0 {
		return fmt.Errorf("descriptor %s: negative size %d: %w", d.Digest, d.Size, ErrInvalidDocument)
	}
	return nil
}

// sniff reads the mediaType of a JSON document that has no descriptor yet
// (a blob named only by digest): its own mediaType field, else manifests[]
// for an index or config for a manifest (the fields image-spec requires).
func sniff(data []byte) string {
	var probe struct {
		MediaType string          `json:"mediaType"`
		Manifests json.RawMessage `json:"manifests"`
		Config    json.RawMessage `json:"config"`
	}
	if json.Unmarshal(data, &probe) != nil {
		return ""
	}
	switch {
	case probe.MediaType != "":
		return probe.MediaType
	case probe.Manifests != nil:
		return v1.MediaTypeImageIndex
	case probe.Config != nil:
		return v1.MediaTypeImageManifest
	}
	return ""
}
