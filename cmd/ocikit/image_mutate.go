package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ocikit/ocikit/layer"
	"github.com/ocikit/ocikit/layout"
	"github.com/ocikit/ocikit/mutate"
)

// Shared by the commands that derive a new image and move a tag to it:
// image new, add-layer, config and repack.

// openTag parses a DIR[:TAG] reference naming the tag to move (a digest
// reference is refused: there would be no tag to move) and opens the
// layout.
func openTag(ctx context.Context, arg string) (*layout.Layout, string, error) {
	ref, err := layout.ParseReference(arg)
	if err != nil {
		return nil, "", err
	}
	if ref.Digest != "" {
		return nil, "", fmt.Errorf("%s: name a tag (DIR:TAG) to move, not a digest: %w", arg, layout.ErrInvalidReference)
	}
	l, err := layout.Open(ctx, ref.Dir)
	if err != nil {
		return nil, "", err
	}
	return l, ref.Tag, nil
}

// sourceDateEpoch reads $SOURCE_DATE_EPOCH: when set, new images are dated
// with it and layer mtimes are clamped to it, for reproducible digests.
func sourceDateEpoch() (*time.Time, error) {
	t, ok, err := layer.SourceDateEpoch()
	if err != nil || !ok {
		return nil, err
	}
	return &t, nil
}

// createdOptions dates a change with $SOURCE_DATE_EPOCH when set.
func createdOptions(epoch *time.Time) []mutate.Option {
	if epoch == nil {
		return nil
	}
	return []mutate.Option{mutate.WithCreated(*epoch)}
}

// commandLine is the history created_by of a change: the command as run,
// with arguments quoted for a POSIX shell where needed.
func commandLine() string {
	parts := []string{"ocikit"}
	for _, a := range os.Args[1:] {
		if a == "" || strings.ContainsFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@,+%", r))
		}) {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

func addCompressFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "compress", "gzip", "layer compression: gzip (parallel), zstd or none")
}

func printDigest(cmd *cobra.Command, d fmt.Stringer) {
	fmt.Fprintln(cmd.OutOrStdout(), d.String())
}

func addRootlessFlag(cmd *cobra.Command, p *bool) {
	cmd.Flags().BoolVar(p, "rootless", false, "owners from user.rootlesscontainers xattrs, else root (default: true unless root)")
}

// rootlessDefault is --rootless, which defaults to true when not root (as
// for image unpack).
func rootlessDefault(cmd *cobra.Command, flag bool) bool {
	if !cmd.Flags().Changed("rootless") {
		return os.Geteuid() != 0
	}
	return flag
}

// resolveBase resolves the image a tag names, choosing from an image index
// by --platform (default: this host's).
func resolveBase(ctx context.Context, l *layout.Layout, tag, platform string) (*layout.Image, error) {
	var opts []layout.ResolveOption
	if platform != "" {
		p, err := layout.ParsePlatform(platform)
		if err != nil {
			return nil, err
		}
		opts = append(opts, layout.WithPlatform(p))
	}
	return l.Resolve(ctx, tag, opts...)
}

func addPlatformFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "platform", "", "when TAG names an image index, the platform to take from it: os/arch[/variant] (default: this host's); TAG then names the new manifest")
}
