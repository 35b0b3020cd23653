//go:build !linux

package repack

import (
	"context"

	"github.com/ocikit/ocikit/layer"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Record snapshots a bundle's rootfs; not supported on this platform.
func Record(context.Context, string, string, v1.Descriptor) error { return layer.ErrNotSupported }

// Take snapshots a rootfs; not supported on this platform.
func Take(context.Context, string) ([]Entry, error) { return nil, layer.ErrNotSupported }

// Diff compares a rootfs with a snapshot; not supported on this platform.
func Diff(context.Context, string, []Entry) ([]layer.Change, []Entry, error) {
	return nil, nil, layer.ErrNotSupported
}

func record(string, *Snapshot) error { return layer.ErrNotSupported }
