//go:build !linux

package imagerun

import (
	"context"
	"io"

	digest "github.com/opencontainers/go-digest"

	"github.com/ocikit/ocikit/errdefs"
)

func runHelper(context.Context, []string, string, digest.Digest, io.Writer) error {
	return errdefs.ErrUnsupported
}
