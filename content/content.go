package content

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/ocikit/ocikit/errdefs"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Provider opens blobs by descriptor.
type Provider interface {
	// OpenBlob opens the blob desc names. The reader is verified: it
	// returns io.EOF only after exactly desc.Size bytes whose digest is
	// desc.Digest, and an error of kind errdefs.ErrDigestMismatch instead
	// (at open when the size is known wrong, else at the end of the
	// content) if they differ; it never returns more than desc.Size bytes.
	// A blob that is not there is errdefs.ErrNotFound (at open); a
	// malformed digest errdefs.ErrInvalid; an algorithm the source cannot
	// verify errdefs.ErrUnsupported.
	OpenBlob(ctx context.Context, desc v1.Descriptor) (io.ReadCloser, error)
}

// Stater reports whether a blob is there without reading it (a registry's
// HEAD), so a copy can skip what its destination holds.
type Stater interface {
	// StatBlob returns the size of blob d: errdefs.ErrNotFound if it is
	// not there, errdefs.ErrInvalid or errdefs.ErrUnsupported for a digest
	// as OpenBlob.
	StatBlob(ctx context.Context, d digest.Digest) (int64, error)
}

// Ingester stores blobs.
type Ingester interface {
	// PutBlob stores what r yields and returns expect with Digest and Size
	// set (its other fields kept). expect.Digest is optional: when set,
	// its algorithm is used and the content must match it; without it the
	// digest is sha256. expect.Size is checked when non-zero. A mismatch
	// is errdefs.ErrDigestMismatch; an algorithm the store does not
	// support errdefs.ErrUnsupported, a malformed digest
	// errdefs.ErrInvalid. The blob becomes visible (to OpenBlob, StatBlob)
	// only once complete and verified: after any error, including one
	// from r or ctx, nothing new is visible. Storing a blob that is
	// already there succeeds.
	PutBlob(ctx context.Context, r io.Reader, expect v1.Descriptor) (v1.Descriptor, error)
}

// VerifiedReader is a reader that checks what it yields, as the readers of
// Provider.OpenBlob do: it ends with io.EOF only after exactly Verifies().Size
// bytes hashing to Verifies().Digest, and with an error instead if they
// differ. An Ingester given one for the digest and size it expects may
// skip hashing the content again (it still counts it, and stores nothing
// unless the reader ended with io.EOF): a copy then hashes each byte once.
type VerifiedReader interface {
	io.Reader
	Verifies() v1.Descriptor
}

// Verified reports whether r is a VerifiedReader for expect's digest and
// (non-zero) size.
func Verified(r io.Reader, expect v1.Descriptor) bool {
	vr, ok := r.(VerifiedReader)
	if !ok || expect.Digest == "" || expect.Size <= 0 {
		return false
	}
	d := vr.Verifies()
	return d.Digest == expect.Digest && d.Size == expect.Size
}

// Tagger names a stored manifest or index.
type Tagger interface {
	// Tag points name at desc, whose blob (and, for a manifest, its
	// config) must be stored: errdefs.ErrNotFound if it is not,
	// errdefs.ErrInvalid for a malformed name or document.
	Tag(ctx context.Context, name string, desc v1.Descriptor) error
}

// ImageSource is where images come from: references resolve to manifests,
// whose blobs it provides.
type ImageSource interface {
	Provider
	Resolver
	// Lookup returns the descriptor of the manifest or index ref names (a
	// tag or a digest), before any platform choice: errdefs.ErrNotFound if
	// there is none, errdefs.ErrInvalid for a malformed or ambiguous ref.
	Lookup(ctx context.Context, ref string) (v1.Descriptor, error)
}

// Resolver turns a reference into one image.
type Resolver interface {
	// Resolve finds what ref (a tag or a digest) names, as
	// ImageSource.Lookup, and descends image indexes to one manifest:
	// in each index the best match of the platform (WithPlatform, default
	// platform.Host) by platform.Rank, the first of equals
	// (image-index.md). With WithPlatform, a manifest named directly must
	// be for that platform too. The manifest and config are read verified.
	// An unknown ref or no match is errdefs.ErrNotFound; several entries without platform
	// and no match errdefs.ErrInvalid; a malformed manifest, index or
	// config errdefs.ErrInvalid.
	Resolve(ctx context.Context, ref string, opts ...ResolveOption) (*Image, error)
}

// LocalStore is a store in a local directory (an OCI image layout), which
// code that must find the store again later records: a bundle's repack
// snapshot names the layout it was unpacked from. It is optional; helpers
// probe for it.
type LocalStore interface {
	Dir() string
}

// Image is a resolved image: the manifest's descriptor (carrying the
// platform of the index entry it was chosen from, if any), the manifest
// (whose Config field is the config descriptor) and the decoded config. For
// an artifact whose config is not an image config, Config is zero.
type Image struct {
	Descriptor v1.Descriptor
	Manifest   v1.Manifest
	Config     v1.Image
}

// ResolveOption adjusts ImageSource.Resolve.
type ResolveOption func(*ResolveOptions)

// ResolveOptions is what the options ask, for implementations of Resolve.
type ResolveOptions struct {
	// Platform to choose; nil means this host's (platform.Host), and a
	// single manifest is then not checked against it.
	Platform *v1.Platform
}

// WithPlatform makes Resolve choose the manifest for p.
func WithPlatform(p v1.Platform) ResolveOption {
	return func(o *ResolveOptions) { o.Platform = &p }
}

// NewResolveOptions applies opts.
func NewResolveOptions(opts ...ResolveOption) ResolveOptions {
	var o ResolveOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// ReadAll reads the whole blob desc names from p, refusing one larger than
// limit (errdefs.ErrInvalid) before opening it: it is for manifests,
// indexes and configs. It never reads more than desc.Size bytes, and
// content longer than desc.Size is errdefs.ErrDigestMismatch even from a
// Provider that does not verify.
func ReadAll(ctx context.Context, p Provider, desc v1.Descriptor, limit int64) ([]byte, error) {
	if desc.Size < 0 {
		return nil, fmt.Errorf("blob %s: negative size %d: %w", clip(string(desc.Digest)), desc.Size, errdefs.ErrInvalid)
	}
	if desc.Size > limit {
		return nil, fmt.Errorf("blob %s: %d bytes, more than %d: %w", clip(string(desc.Digest)), desc.Size, limit, errdefs.ErrInvalid)
	}
	rc, err := p.OpenBlob(ctx, desc)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	buf := make([]byte, desc.Size+1)
	n, err := io.ReadFull(rc, buf)
	switch {
	case err == nil:
		return nil, fmt.Errorf("blob %s: longer than %d bytes: %w", clip(string(desc.Digest)), desc.Size, errdefs.ErrDigestMismatch)
	case err == io.ErrUnexpectedEOF || err == io.EOF:
		if int64(n) != desc.Size {
			return nil, fmt.Errorf("blob %s: %d bytes, descriptor says %d: %w", clip(string(desc.Digest)), n, desc.Size, errdefs.ErrDigestMismatch)
		}
		return buf[:n], nil
	default:
		return nil, err
	}
}

// PutJSON marshals v and stores it through i as a blob of mediaType.
func PutJSON(ctx context.Context, i Ingester, mediaType string, v any) (v1.Descriptor, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("put %s: %w", mediaType, err)
	}
	return i.PutBlob(ctx, strings.NewReader(string(data)), v1.Descriptor{
		MediaType: mediaType,
		Digest:    digest.FromBytes(data),
		Size:      int64(len(data)),
	})
}

// clip shortens attacker-sized strings quoted in error messages.
func clip(s string) string {
	if len(s) > 140 {
		return s[:140] + "..."
	}
	return s
}
