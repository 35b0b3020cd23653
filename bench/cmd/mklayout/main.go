// Command mklayout makes an OCI image layout holding one image whose
// layers are the given gzip-compressed tars, stored byte for byte (so the
// unpack benchmark reads the very blob `tar -xzf` reads). Usage:
//
//	mklayout LAYOUT TAG LAYER.tar.gz...
package main

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocikit/ocikit/layout"
)

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: mklayout LAYOUT TAG LAYER.tar.gz...")
		os.Exit(2)
	}
	if err := run(context.Background(), os.Args[1], os.Args[2], os.Args[3:]); err != nil {
		fmt.Fprintln(os.Stderr, "mklayout:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dir, tag string, layerPaths []string) error {
	l, err := layout.Init(ctx, dir)
	if err != nil {
		return err
	}
	cfg := v1.Image{
		Platform: v1.Platform{OS: "linux", Architecture: "amd64"},
		RootFS:   v1.RootFS{Type: "layers"},
	}
	var layers []v1.Descriptor
	for _, p := range layerPaths {
		diffID, err := uncompressedDigest(p)
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		d, err := l.PutBlob(ctx, f, v1.Descriptor{MediaType: v1.MediaTypeImageLayerGzip})
		f.Close()
		if err != nil {
			return err
		}
		layers = append(layers, d)
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, diffID)
	}
	cfgDesc, err := l.PutJSON(ctx, v1.MediaTypeImageConfig, cfg)
	if err != nil {
		return err
	}
	m := v1.Manifest{MediaType: v1.MediaTypeImageManifest, Config: cfgDesc, Layers: layers}
	m.SchemaVersion = 2
	mDesc, err := l.PutJSON(ctx, v1.MediaTypeImageManifest, m)
	if err != nil {
		return err
	}
	return l.Tag(ctx, tag, mDesc)
}

func uncompressedDigest(p string) (digest.Digest, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return "", err
	}
	d := digest.Canonical.Digester()
	if _, err := io.Copy(d.Hash(), z); err != nil {
		return "", err
	}
	return d.Digest(), nil
}
