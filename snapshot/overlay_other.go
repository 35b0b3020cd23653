//go:build !linux

package snapshot

import (
	"context"
	"os"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/layer"
)

// ErrOverlay: overlayfs is Linux's.
var ErrOverlay = errdefs.New(errdefs.ErrUnsupported, "snapshot: overlay mounts are not supported on this platform")

// Mount is a detached overlay mount (Linux only).
type Mount struct{}

func (m *Mount) Path() string { return "" }
func (m *Mount) Close() error { return nil }

func (s *Store) OverlayOptions(lowers []string, upper, work string) string { return "" }

func (s *Store) MountOverlay(lowers []string, upper, work string) (*Mount, error) {
	return nil, ErrOverlay
}

func checkUserXattr(dir string) error { return ErrOverlay }

func MountOverlay(lowers []string, upper, work string) (*Mount, error) { return nil, ErrOverlay }

func View(lowers []string) (string, func() error, error) { return "", nil, ErrOverlay }

func CopyRootAttrs(src, dir string) error { return ErrOverlay }

func (s *Store) applyLayer(context.Context, layer.BlobOpener, v1.Descriptor, digest.Digest, string, string, []string, string) error {
	return ErrOverlay
}

func commitDir(dir, final string) error { return os.Rename(dir, final) }

func removeAll(p string) error { return os.RemoveAll(p) }

func ApplySnapshots(lowers []string, dst string) error { return ErrOverlay }
