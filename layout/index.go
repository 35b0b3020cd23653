package layout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ocikit/ocikit/internal/fsutil"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Index reads and checks index.json (see ParseIndex). Errors name the file.
func (l *Layout) Index(ctx context.Context) (*v1.Index, error) {
	idx, _, err := l.readIndex(ctx)
	return idx, err
}

// readIndex is Index, and the file's bytes.
func (l *Layout) readIndex(ctx context.Context) (*v1.Index, []byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	path := filepath.Join(l.dir, indexFile)
	data, err := fsutil.ReadFileLimit(path, MaxJSONSize)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("%s: missing index.json: %w", l.dir, ErrInvalidLayout)
		}
		return nil, nil, fmt.Errorf("read index: %w", err)
	}
	idx, err := ParseIndex(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, withKind(err, ErrInvalidLayout))
	}
	return idx, data, nil
}

func marshalIndex(idx *v1.Index) ([]byte, error) {
	out := *idx
	out.SchemaVersion = 2
	out.MediaType = v1.MediaTypeImageIndex
	if out.Manifests == nil {
		out.Manifests = []v1.Descriptor{} // image-index.md: manifests MUST be present
	}
	data, err := json.MarshalIndent(&out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode index: %w", err)
	}
	return append(data, '\n'), nil
}

// UpdateIndex reads index.json, lets fn change it and writes the result.
// The read-modify-write holds the layout's exclusive lock (flock(2) on the
// layout directory), so concurrent updates from goroutines or processes
// are serialized and none is lost; the write is atomic (temporary file,
// fsync, rename, directory fsync), so a crash at any moment leaves the old
// or the new index.json. If fn returns an error nothing is written, nor
// when the result is byte for byte the file there.
func (l *Layout) UpdateIndex(ctx context.Context, fn func(*v1.Index) error) error {
	unlock, err := l.lock(ctx, true)
	if err != nil {
		return err
	}
	defer unlock()
	return l.updateIndexLocked(ctx, fn)
}

func (l *Layout) updateIndexLocked(ctx context.Context, fn func(*v1.Index) error) error {
	// Re-check the marker: the directory may have changed since Open, and
	// a write must not turn a broken or foreign directory into a layout.
	if err := l.checkMarker(); err != nil {
		return err
	}
	idx, old, err := l.readIndex(ctx)
	if err != nil {
		return err
	}
	if err := fn(idx); err != nil {
		return err
	}
	for i, d := range idx.Manifests {
		if err := checkDescriptor(d); err != nil {
			return fmt.Errorf("update index: manifests[%d]: %w", i, err)
		}
	}
	data, err := marshalIndex(idx)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if bytes.Equal(data, old) {
		// Nothing changed (a tag set again to what it names, as a second
		// copy of an image does): the file, already durable, is left as
		// it is, without a rewrite and its two fsyncs.
		return nil
	}
	if err := fsutil.WriteFile(filepath.Join(l.dir, indexFile), data, 0o644); err != nil {
		return fmt.Errorf("write index: %w", err)
	}
	return nil
}

// Tag points the tag name (the org.opencontainers.image.ref.name annotation
// of an index.json entry, annotations.md) at desc, replacing any entry
// already carrying that name. The name must match the ref grammar of
// annotations.md (ValidateTag), and desc must name a stored blob of its
// size; a manifest or index is read and checked, and so is a manifest's
// config, so no tag dangles or names a corrupt image.
func (l *Layout) Tag(ctx context.Context, name string, desc v1.Descriptor) error {
	if err := ValidateTag(name); err != nil {
		return err
	}
	if err := CheckDigest(desc.Digest); err != nil {
		return fmt.Errorf("tag %s: %w", name, err)
	}
	if desc.MediaType == "" {
		return fmt.Errorf("tag %s: descriptor %s has no mediaType: %w", name, desc.Digest, ErrInvalidDocument)
	}
	if err := l.checkTarget(ctx, desc); err != nil {
		return fmt.Errorf("tag %s: %w", name, err)
	}
	entry := desc
	entry.Annotations = make(map[string]string, len(desc.Annotations)+1)
	for k, v := range desc.Annotations {
		entry.Annotations[k] = v
	}
	entry.Annotations[v1.AnnotationRefName] = name
	return l.UpdateIndex(ctx, func(idx *v1.Index) error {
		out := idx.Manifests[:0]
		placed := false
		for _, d := range idx.Manifests {
			if d.Annotations[v1.AnnotationRefName] != name {
				out = append(out, d)
			} else if !placed {
				out = append(out, entry)
				placed = true
			}
		}
		if !placed {
			out = append(out, entry)
		}
		idx.Manifests = out
		return nil
	})
}

// Untag removes every index.json entry named name (ErrNotFound if none).
// The blobs stay until GC.
func (l *Layout) Untag(ctx context.Context, name string) error {
	if err := ValidateTag(name); err != nil {
		return err
	}
	return l.UpdateIndex(ctx, func(idx *v1.Index) error {
		out := idx.Manifests[:0]
		for _, d := range idx.Manifests {
			if d.Annotations[v1.AnnotationRefName] != name {
				out = append(out, d)
			}
		}
		if len(out) == len(idx.Manifests) {
			return l.tagNotFound(name, idx)
		}
		idx.Manifests = out
		return nil
	})
}

// Tags returns the tag names in index.json, sorted, without duplicates.
func Tags(idx *v1.Index) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range idx.Manifests {
		if n, ok := d.Annotations[v1.AnnotationRefName]; ok && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func (l *Layout) tagNotFound(name string, idx *v1.Index) error {
	tags := Tags(idx)
	list := "none"
	if len(tags) > 0 {
		if len(tags) > 20 {
			tags = append(tags[:20:20], fmt.Sprintf("... %d more", len(tags)-20))
		}
		list = strings.Join(tags, ", ")
	}
	return fmt.Errorf("%s: tag %q: %w (tags: %s)", l.dir, name, ErrNotFound, list)
}

// Lookup finds the index.json descriptor a name refers to: a digest (one
// passing CheckDigest) or a tag. A tag carried by several entries with
// different digests is ErrAmbiguous. A digest not listed in index.json is
// still found if its blob is stored and is a JSON manifest or index; its
// descriptor's mediaType then comes from the blob.
func (l *Layout) Lookup(ctx context.Context, name string) (v1.Descriptor, error) {
	idx, err := l.Index(ctx)
	if err != nil {
		return v1.Descriptor{}, err
	}
	if CheckDigest(digest.Digest(name)) == nil {
		d := digest.Digest(name)
		for _, m := range idx.Manifests {
			if m.Digest == d {
				return m, nil
			}
		}
		size, err := l.StatBlob(ctx, d)
		if err != nil {
			return v1.Descriptor{}, err
		}
		desc := v1.Descriptor{Digest: d, Size: size}
		if size <= MaxJSONSize {
			data, err := l.ReadBlob(ctx, desc)
			if err != nil {
				return v1.Descriptor{}, err
			}
			desc.MediaType = sniff(data)
		}
		if desc.MediaType == "" {
			return v1.Descriptor{}, fmt.Errorf("blob %s is not an image manifest or index: %w", d, ErrInvalidDocument)
		}
		return desc, nil
	}
	if strings.HasPrefix(name, "sha256:") || strings.HasPrefix(name, "sha512:") {
		if err := CheckDigest(digest.Digest(name)); err != nil && ValidateTag(name) != nil {
			return v1.Descriptor{}, err
		}
	}
	var found []v1.Descriptor
	for _, m := range idx.Manifests {
		if m.Annotations[v1.AnnotationRefName] == name {
			found = append(found, m)
		}
	}
	switch {
	case len(found) == 0:
		return v1.Descriptor{}, l.tagNotFound(name, idx)
	case len(found) > 1:
		var ds []string
		for _, f := range found {
			if f.Digest != found[0].Digest {
				for _, g := range found {
					ds = append(ds, string(g.Digest))
				}
				return v1.Descriptor{}, fmt.Errorf("%s: tag %q: %w: index.json has %d entries with that name (%s)",
					l.dir, name, ErrAmbiguous, len(found), strings.Join(ds, ", "))
			}
		}
	}
	if err := CheckDigest(found[0].Digest); err != nil {
		return v1.Descriptor{}, fmt.Errorf("%s: tag %q: %w", filepath.Join(l.dir, indexFile), name, err)
	}
	return found[0], nil
}

// checkTarget verifies what a new tag will point at: the blob exists with
// the descriptor's size; a manifest or index is intact and parses; a
// manifest's config is intact. Layers are not read (PutBlob verified them
// and reading them all would make tagging cost as much as copying).
func (l *Layout) checkTarget(ctx context.Context, desc v1.Descriptor) error {
	size, err := l.StatBlob(ctx, desc.Digest)
	if err != nil {
		return err
	}
	if size != desc.Size {
		return fmt.Errorf("blob %s is %d bytes, descriptor says %d: %w", desc.Digest, size, desc.Size, ErrSizeMismatch)
	}
	switch {
	case IsIndex(desc.MediaType):
		data, err := l.ReadBlob(ctx, desc)
		if err != nil {
			return err
		}
		if _, err := ParseIndex(data); err != nil {
			return fmt.Errorf("index %s: %w", desc.Digest, err)
		}
	case IsManifest(desc.MediaType):
		data, err := l.ReadBlob(ctx, desc)
		if err != nil {
			return err
		}
		m, err := ParseManifest(data)
		if err != nil {
			return fmt.Errorf("manifest %s: %w", desc.Digest, err)
		}
		if m.Config.Size <= MaxJSONSize {
			if _, err := l.ReadBlob(ctx, m.Config); err != nil {
				return fmt.Errorf("config of manifest %s: %w", desc.Digest, err)
			}
		}
	}
	return nil
}
