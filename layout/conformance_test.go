package layout_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/content/contenttest"
	"github.com/ocikit/ocikit/layout"
)

// seeded makes a layout holding exactly f: blobs written straight to
// blobs/<alg>/<encoded> (so the fixture's corrupt ones stay corrupt, as on
// a damaged disk), then the tags.
func seeded(t *testing.T, f contenttest.Fixture) *layout.Layout {
	t.Helper()
	ctx := context.Background()
	l, err := layout.Init(ctx, filepath.Join(t.TempDir(), "layout"))
	if err != nil {
		t.Fatal(err)
	}
	for d, data := range f.Blobs {
		dir := filepath.Join(l.Dir(), "blobs", string(d.Algorithm()))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, d.Encoded()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, d := range f.Refs {
		if err := l.Tag(ctx, name, d); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

func TestContentProvider(t *testing.T) {
	contenttest.TestProvider(t, func(t *testing.T, f contenttest.Fixture) content.Provider { return seeded(t, f) })
}

func TestContentIngester(t *testing.T) {
	contenttest.TestIngester(t, func(t *testing.T) contenttest.Store {
		l, err := layout.Init(context.Background(), filepath.Join(t.TempDir(), "layout"))
		if err != nil {
			t.Fatal(err)
		}
		return l
	})
}

func TestContentImageSource(t *testing.T) {
	contenttest.TestImageSource(t, func(t *testing.T, f contenttest.Fixture) content.ImageSource { return seeded(t, f) })
}

func TestContentTagger(t *testing.T) {
	contenttest.TestTagger(t, func(t *testing.T, f contenttest.Fixture) contenttest.TagStore { return seeded(t, f) })
}
