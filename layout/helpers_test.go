package layout

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// putImage stores a one-layer image for platform p (layer content derived
// from seed) and returns its manifest descriptor (without platform).
func putImage(t testing.TB, l *Layout, p v1.Platform, seed string) v1.Descriptor {
	t.Helper()
	ctx := context.Background()
	layer, err := l.PutBlob(ctx, strings.NewReader("layer "+seed), v1.Descriptor{MediaType: v1.MediaTypeImageLayer})
	if err != nil {
		t.Fatal(err)
	}
	cfg := v1.Image{
		Platform: p,
		Config:   v1.ImageConfig{Cmd: []string{"/bin/sh"}, Env: []string{"SEED=" + seed}},
		RootFS:   v1.RootFS{Type: "layers", DiffIDs: []digest.Digest{layer.Digest}},
	}
	cdesc, err := l.PutJSON(ctx, v1.MediaTypeImageConfig, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := v1.Manifest{
		Versioned: specsVersioned(),
		MediaType: v1.MediaTypeImageManifest,
		Config:    cdesc,
		Layers:    []v1.Descriptor{layer},
	}
	mdesc, err := l.PutJSON(ctx, v1.MediaTypeImageManifest, m)
	if err != nil {
		t.Fatal(err)
	}
	return mdesc
}

// putIndex stores an image index listing descs.
func putIndex(t testing.TB, l *Layout, descs ...v1.Descriptor) v1.Descriptor {
	t.Helper()
	idx := v1.Index{Versioned: specsVersioned(), MediaType: v1.MediaTypeImageIndex, Manifests: descs}
	d, err := l.PutJSON(context.Background(), v1.MediaTypeImageIndex, idx)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func withPlatform(d v1.Descriptor, p v1.Platform) v1.Descriptor {
	d.Platform = &p
	return d
}

func mustTag(t testing.TB, l *Layout, name string, d v1.Descriptor) {
	t.Helper()
	if err := l.Tag(context.Background(), name, d); err != nil {
		t.Fatal(err)
	}
}

// treeHash summarizes every file (path, mode, content) under dir, to show
// that a failed operation left a layout unchanged.
func treeHash(t testing.TB, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		info, err := d.Info()
		if err != nil {
			return err
		}
		line := rel + " " + info.Mode().Type().String()
		if d.Type().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			line += " " + hex.EncodeToString(sum[:])
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// copyTree copies a fixture layout to a fresh temporary directory.
func copyTree(t testing.TB, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func readAllVerified(t testing.TB, l *Layout, d v1.Descriptor) ([]byte, error) {
	t.Helper()
	rc, err := l.OpenBlob(context.Background(), d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	_, err = io.Copy(&buf, rc)
	return buf.Bytes(), err
}

func specsVersioned() specs.Versioned { return specs.Versioned{SchemaVersion: 2} }
