package ociarchive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/internal/tarx"
	"github.com/ocikit/ocikit/layout"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// DefaultMaxBlobSize caps one blob of an archive read by Open.
const DefaultMaxBlobSize = tarx.DefaultMaxBlobSize

// Errors of this package, each of an errdefs kind.
var (
	// ErrInvalidArchive: the tar is malformed, truncated, or holds an
	// entry that escapes or does not belong in an image layout.
	ErrInvalidArchive = errdefs.New(errdefs.ErrInvalid, "ociarchive: invalid archive")
)

// Option adjusts Open and Create: WithTempDir, WithMaxBlobSize.
type Option = tarx.Option

type options = tarx.Options

// WithTempDir puts the temporary layout in dir instead of os.TempDir().
func WithTempDir(dir string) Option { return tarx.WithTempDir(dir) }

// WithMaxBlobSize caps one file of the archive Open reads (default
// DefaultMaxBlobSize).
func WithMaxBlobSize(n int64) Option { return tarx.WithMaxBlobSize(n) }

func newOptions(opts []Option) options { return tarx.NewOptions(opts) }

// Archive is an OCI archive opened for reading: a content.ImageSource
// (and content.Stater). Close removes its temporary layout.
type Archive struct {
	file string
	tmp  string
	l    *layout.Layout
}

var (
	_ content.ImageSource = (*Archive)(nil)
	_ content.Stater      = (*Archive)(nil)
)

// Open reads the archive file into a temporary layout and checks its
// oci-layout and index.json (see the package doc for what is refused). A
// missing file is errdefs.ErrNotFound.
func Open(ctx context.Context, file string, opts ...Option) (*Archive, error) {
	o := newOptions(opts)
	f, size, err := tarx.OpenFile(file, ErrInvalidArchive)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tmp, err := os.MkdirTemp(o.TempDir, "ocikit-archive-")
	if err != nil {
		return nil, fmt.Errorf("open archive: %w", err)
	}
	a := &Archive{file: file, tmp: tmp}
	if err := extract(ctx, f, size, tmp, o); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("archive %s: %w", file, err)
	}
	a.l, err = layout.Open(ctx, tmp)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("archive %s: %w", file, err)
	}
	return a, nil
}

// extract writes the entries of an image layout from r into dir.
func extract(ctx context.Context, r io.Reader, fileSize int64, dir string, o options) error {
	if err := os.Mkdir(filepath.Join(dir, v1.ImageBlobsDir), 0o755); err != nil {
		return err
	}
	tr := tarx.NewReader(r, fileSize, 0, ErrInvalidArchive)
	seen := map[string]bool{}
	for {
		hdr, name, err := tr.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			continue // directories are made as blobs need them
		case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // old writers' regular files
		default:
			return fmt.Errorf("entry %q: type %q is not a regular file or directory: %w", clip(hdr.Name), hdr.Typeflag, ErrInvalidArchive)
		}
		if err := tr.CheckSize(hdr); err != nil {
			return err
		}
		if seen[name] {
			return fmt.Errorf("entry %q: appears twice: %w", clip(name), ErrInvalidArchive)
		}
		seen[name] = true
		var dst string
		switch {
		case name == v1.ImageLayoutFile || name == v1.ImageIndexFile:
			if hdr.Size > layout.MaxJSONSize {
				return fmt.Errorf("%s: %d bytes, more than %d: %w", name, hdr.Size, layout.MaxJSONSize, ErrInvalidArchive)
			}
			dst = filepath.Join(dir, name)
		case strings.HasPrefix(name, v1.ImageBlobsDir+"/"):
			alg, enc, ok := strings.Cut(strings.TrimPrefix(name, v1.ImageBlobsDir+"/"), "/")
			if !ok {
				return fmt.Errorf("entry %q: not blobs/ALG/ENCODED: %w", clip(name), ErrInvalidArchive)
			}
			d := digest.Digest(alg + ":" + enc)
			if err := layout.CheckDigest(d); err != nil {
				if errors.Is(err, errdefs.ErrUnsupported) {
					continue // a digest we cannot verify is never served: OpenBlob refuses it
				}
				return fmt.Errorf("entry %q: %v: %w", clip(name), err, ErrInvalidArchive)
			}
			if hdr.Size > o.MaxBlobSize {
				return fmt.Errorf("blob %s: %d bytes, more than %d: %w", d, hdr.Size, o.MaxBlobSize, ErrInvalidArchive)
			}
			if err := os.MkdirAll(filepath.Join(dir, v1.ImageBlobsDir, alg), 0o755); err != nil {
				return err
			}
			dst = filepath.Join(dir, v1.ImageBlobsDir, alg, enc)
		default:
			continue // not part of an image layout: not extracted
		}
		if err := writeEntry(ctx, dst, tr, hdr.Size); err != nil {
			return fmt.Errorf("entry %q: %w", clip(name), err)
		}
	}
	for _, name := range []string{v1.ImageLayoutFile, v1.ImageIndexFile} {
		if !seen[name] {
			return fmt.Errorf("no %s: not an OCI archive: %w", name, ErrInvalidArchive)
		}
	}
	return nil
}

// writeEntry copies the current entry of tr, size bytes, to a new file
// dst (never following or replacing anything there).
func writeEntry(ctx context.Context, dst string, tr *tarx.Reader, size int64) error {
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = tr.Copy(ctx, f, size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// OpenBlob opens a blob of the archive, verified as it is read
// (content.Provider).
func (a *Archive) OpenBlob(ctx context.Context, desc v1.Descriptor) (io.ReadCloser, error) {
	return a.l.OpenBlob(ctx, desc)
}

// StatBlob reports a blob's size (content.Stater).
func (a *Archive) StatBlob(ctx context.Context, d digest.Digest) (int64, error) {
	return a.l.StatBlob(ctx, d)
}

// Lookup finds what a tag or digest names in the archive's index.json
// (content.ImageSource).
func (a *Archive) Lookup(ctx context.Context, ref string) (v1.Descriptor, error) {
	return a.l.Lookup(ctx, ref)
}

// Resolve resolves ref to one image (content.Resolver).
func (a *Archive) Resolve(ctx context.Context, ref string, opts ...content.ResolveOption) (*content.Image, error) {
	return a.l.Resolve(ctx, ref, opts...)
}

// Index returns the archive's index.json.
func (a *Archive) Index(ctx context.Context) (*v1.Index, error) { return a.l.Index(ctx) }

// Referrers lists the referrers of d in the archive (layout.Referrers).
func (a *Archive) Referrers(ctx context.Context, d digest.Digest) ([]v1.Descriptor, error) {
	return a.l.Referrers(ctx, d)
}

// Close removes the temporary layout.
func (a *Archive) Close() error { return os.RemoveAll(a.tmp) }

func clip(s string) string {
	if len(s) > 140 {
		return s[:140] + "..."
	}
	return s
}
