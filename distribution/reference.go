package distribution

import (
	"fmt"
	"strings"

	"github.com/ocikit/ocikit/dockerarchive"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/layout"
	digest "github.com/opencontainers/go-digest"
)

// Transports a Reference can name.
const (
	// TransportOCI is an OCI image layout directory: "oci:DIR[:TAG]", or
	// plain "DIR[:TAG]".
	TransportOCI = "oci"
	// TransportOCIArchive is a tar of an OCI image layout:
	// "oci-archive:FILE[:TAG]".
	TransportOCIArchive = "oci-archive"
	// TransportDockerArchive is a docker save archive:
	// "docker-archive:FILE[:NAME[:TAG]]", or "docker-archive:FILE:@N" for
	// the N-th image of a source.
	TransportDockerArchive = "docker-archive"
	// TransportDocker is a repository of a registry (distribution-spec):
	// "docker://HOST[:PORT]/REPO[:TAG|@DIGEST]".
	TransportDocker = "docker"
)

// supportedTransports lists the transports for error messages.
const supportedTransports = "docker://, oci:, oci-archive:, docker-archive:"

// unsupported are skopeo's other transport names: a reference starting with
// one is refused as not supported yet, rather than taken for a directory.
var unsupported = []string{"docker-daemon", "containers-storage", "dir", "sif", "tarball", "ostree"}

// Reference names an image in one of the transports, in skopeo's syntax.
type Reference struct {
	Transport string
	// Path is the layout directory or the archive file; for a registry,
	// HOST[:PORT]/REPO (Host and Repository split it).
	Path string
	// Tag is the tag named, empty if none (see Name); Digest the digest
	// named instead (oci layouts and registries). At most one is set. For
	// a docker archive Tag is the image's name "NAME:TAG"
	// (dockerarchive.ParseName) or "@N".
	Tag    string
	Digest digest.Digest
}

// Name is what the source is asked for: the digest, else the tag, else ""
// (no name: the only image there, else the tag "latest").
func (r Reference) Name() string {
	if r.Digest != "" {
		return string(r.Digest)
	}
	return r.Tag
}

// String formats r as ParseReference reads it.
func (r Reference) String() string {
	s := r.Transport + ":" + r.Path
	if r.Transport == TransportDocker {
		s = "docker://" + r.Path
	}
	switch {
	case r.Digest != "":
		s += "@" + string(r.Digest)
	case r.Tag != "":
		s += ":" + r.Tag
	}
	return s
}

// ParseReference parses a transport reference: "docker://HOST[:PORT]/REPO[:TAG|@DIGEST]"
// (parseDocker), "oci:DIR[:TAG]",
// "oci:DIR@DIGEST", plain "DIR[:TAG]" or "DIR@DIGEST" (layout.ParseReference,
// as every other ocikit image command takes), "oci-archive:FILE[:TAG]" and
// "docker-archive:FILE[:NAME[:TAG]]" or "docker-archive:FILE:@N".
// As in skopeo, DIR and FILE end at the first ':' (a path containing ':'
// cannot be named), and a transport name comes first: a directory named
// like a transport ("dir", "docker") is written "./dir:TAG" or "oci:dir:TAG". skopeo's other transports ("docker://",
// "containers-storage:" ...) are errdefs.ErrUnsupported; malformed references errdefs.ErrInvalid.
func ParseReference(s string) (Reference, error) {
	if s == "" {
		return Reference{}, fmt.Errorf("empty image reference: %w", errdefs.ErrInvalid)
	}
	transport, rest, found := strings.Cut(s, ":")
	if found {
		for _, u := range unsupported {
			if transport == u {
				return Reference{}, fmt.Errorf("image reference %q: transport %q is not supported yet (supported: %s): %w", clip(s), u, supportedTransports, errdefs.ErrUnsupported)
			}
		}
	}
	if found && strings.HasPrefix(rest, "//") && !knownTransport(transport) {
		// "https://h/r", "bogus://x": a URL-like name whose scheme is no
		// transport (as a layout DIR:TAG its tag would start with "//",
		// which no tag does). "oci:///abs/dir" is a path.
		return Reference{}, fmt.Errorf("image reference %q: unknown transport %q (supported: %s): %w", clip(s), transport, supportedTransports, errdefs.ErrInvalid)
	}
	switch {
	case found && transport == TransportDocker:
		return parseDocker(s, rest)
	case found && transport == TransportOCIArchive:
		file, tag, hasTag := strings.Cut(rest, ":")
		if file == "" {
			return Reference{}, fmt.Errorf("image reference %q: no archive file: %w", clip(s), errdefs.ErrInvalid)
		}
		r := Reference{Transport: TransportOCIArchive, Path: file}
		if hasTag {
			if err := layout.ValidateTag(tag); err != nil {
				return Reference{}, fmt.Errorf("image reference %q: %w", clip(s), err)
			}
			r.Tag = tag
		}
		return r, nil
	case found && transport == TransportDockerArchive:
		return parseDockerArchive(s, rest)
	case found && transport == TransportOCI:
		s = rest
	}
	lr, err := layout.ParseReference(s)
	if err != nil {
		return Reference{}, err
	}
	r := Reference{Transport: TransportOCI, Path: lr.Dir, Digest: lr.Digest}
	if lr.Digest == "" && strings.Contains(s, ":") {
		r.Tag = lr.Tag // layout.ParseReference fills in "latest" when none is named
	}
	return r, nil
}

// parseDockerArchive parses what follows "docker-archive:": FILE, then
// optionally ":NAME[:TAG]" (a docker reference, tag "latest" by default)
// or ":@N" (skopeo's source index).
func parseDockerArchive(s, rest string) (Reference, error) {
	file, name, hasName := strings.Cut(rest, ":")
	if file == "" {
		return Reference{}, fmt.Errorf("image reference %q: no archive file: %w", clip(s), errdefs.ErrInvalid)
	}
	r := Reference{Transport: TransportDockerArchive, Path: file}
	if !hasName {
		return r, nil
	}
	if _, ok, err := dockerarchive.ParseSourceIndex(name); ok {
		if err != nil {
			return Reference{}, fmt.Errorf("image reference %q: %w", clip(s), err)
		}
		r.Tag = name
		return r, nil
	}
	n, err := dockerarchive.ParseName(name)
	if err != nil {
		return Reference{}, fmt.Errorf("image reference %q: %w", clip(s), err)
	}
	r.Tag = n
	return r, nil
}

// clip shortens attacker-sized strings quoted in error messages.
func clip(s string) string {
	if len(s) > 140 {
		return s[:140] + "..."
	}
	return s
}

// knownTransport reports whether t is a transport ParseReference takes.
func knownTransport(t string) bool {
	switch t {
	case TransportDocker, TransportOCI, TransportOCIArchive, TransportDockerArchive:
		return true
	}
	return false
}
