package distribution

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/dockerarchive"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/layout"
	"github.com/ocikit/ocikit/ociarchive"
	"github.com/ocikit/ocikit/registry"
)

// OpenSource opens the image source ref names; close releases it (an
// archive's temporary layout). ropts configure a registry's client.
func OpenSource(ctx context.Context, ref Reference, ropts ...registry.Option) (src content.ImageSource, close func() error, err error) {
	switch ref.Transport {
	case TransportDocker:
		r, err := registry.New(ref.Host(), ref.Repository(), ropts...)
		if err != nil {
			return nil, nil, err
		}
		return r, func() error { return nil }, nil
	case TransportOCI:
		l, err := layout.Open(ctx, ref.Path)
		if err != nil {
			return nil, nil, err
		}
		return l, func() error { return nil }, nil
	case TransportOCIArchive:
		a, err := ociarchive.Open(ctx, ref.Path)
		if err != nil {
			return nil, nil, err
		}
		return a, a.Close, nil
	case TransportDockerArchive:
		a, err := dockerarchive.Open(ctx, ref.Path)
		if err != nil {
			return nil, nil, err
		}
		return a, a.Close, nil
	}
	return nil, nil, fmt.Errorf("transport %q: %w", ref.Transport, errdefs.ErrUnsupported)
}

// Target is an open destination: Commit makes what was written visible
// (an archive is written then; a layout has nothing left to do), Close
// releases it, discarding what was not committed.
type Target interface {
	Destination
	Commit(ctx context.Context) error
	Close() error
}

// OpenTarget opens the destination ref names: a layout, made if the
// directory is missing or empty (as skopeo does), or a new archive that
// replaces the file on Commit, or a registry's repository (ropts
// configure its client; a registry's tag is set last, by Copy). A digest
// cannot name a destination (errdefs.ErrInvalid).
func OpenTarget(ctx context.Context, ref Reference, ropts ...registry.Option) (Target, error) {
	if ref.Digest != "" {
		return nil, fmt.Errorf("destination %s: a digest cannot be tagged, name a tag: %w", ref, errdefs.ErrInvalid)
	}
	switch ref.Transport {
	case TransportOCI:
		return openOrInit(ctx, ref.Path)
	case TransportOCIArchive:
		return ociarchive.Create(ctx, ref.Path)
	case TransportDockerArchive:
		if strings.HasPrefix(ref.Tag, "@") {
			return nil, fmt.Errorf("destination %s: @N names an image of a source archive, name the image NAME[:TAG]: %w", ref, errdefs.ErrInvalid)
		}
		return dockerarchive.Create(ctx, ref.Path)
	case TransportDocker:
		r, err := registry.New(ref.Host(), ref.Repository(), append([]registry.Option{registry.WithPush()}, ropts...)...)
		if err != nil {
			return nil, err
		}
		return registryTarget{r}, nil
	}
	return nil, fmt.Errorf("transport %q: %w", ref.Transport, errdefs.ErrUnsupported)
}

// openOrInit opens the layout in dir, or makes one where there is no
// directory or an empty one; a layout made here is removed again by Close
// unless committed (or keeping a partial download), so a failed copy to a
// new directory leaves none.
func openOrInit(ctx context.Context, dir string) (*layoutTarget, error) {
	entries, err := os.ReadDir(dir)
	missing := errors.Is(err, fs.ErrNotExist)
	if missing || err == nil && len(entries) == 0 {
		l, err := layout.Init(ctx, dir)
		if err != nil {
			return nil, err
		}
		t := &layoutTarget{Layout: l}
		if missing {
			t.cleanup = func() error { return os.RemoveAll(dir) }
		} else {
			t.cleanup = func() error { return removeEntries(dir) }
		}
		return t, nil
	}
	l, err := layout.Open(ctx, dir)
	if err != nil {
		return nil, err
	}
	return &layoutTarget{Layout: l}, nil
}

func removeEntries(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		errs = append(errs, os.RemoveAll(filepath.Join(dir, e.Name())))
	}
	return errors.Join(errs...)
}

type layoutTarget struct {
	*layout.Layout
	cleanup func() error // for a layout made by OpenTarget, until Commit
}

func (t *layoutTarget) Commit(context.Context) error { t.cleanup = nil; return nil }

// Close removes a layout OpenTarget made, unless a download cut short
// left a partial blob in it: that layout is kept (its index.json still
// empty) so the next copy into it resumes the download.
func (t *layoutTarget) Close() error {
	if t.cleanup != nil && !t.HasPartial() {
		return t.cleanup()
	}
	return nil
}

// CopyReference copies the image srcRef names to dstRef (transport
// references, ParseReference), as Copy does; an archive destination is
// written only once the copy succeeded.
func CopyReference(ctx context.Context, srcRef, dstRef string, opts ...Option) (*Report, error) {
	sr, err := ParseReference(srcRef)
	if err != nil {
		return nil, err
	}
	dr, err := ParseReference(dstRef)
	if err != nil {
		return nil, err
	}
	return CopyReferences(ctx, sr, dr, opts...)
}

// CopyReferences is CopyReference of parsed references.
func CopyReferences(ctx context.Context, sr, dr Reference, opts ...Option) (*Report, error) {
	srcRef := sr.String()
	ro := registryOptions(sr, dr, opts)
	src, closeSrc, err := OpenSource(ctx, sr, ro.src...)
	if err != nil {
		return nil, err
	}
	defer closeSrc()
	dst, err := OpenTarget(ctx, dr, ro.dst...)
	if err != nil {
		return nil, err
	}
	defer dst.Close()
	rep, err := Copy(ctx, src, sr.Name(), dst, dr.Tag, opts...)
	if err != nil {
		return nil, fmt.Errorf("copy %s: %w", clip(srcRef), err)
	}
	if err := dst.Commit(ctx); err != nil {
		return nil, err
	}
	return rep, nil
}
