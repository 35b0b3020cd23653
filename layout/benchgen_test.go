package layout

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestGenerateBenchLayout builds the layout bench/layout.sh measures:
// $OCIKIT_BENCH_LAYOUT gets $OCIKIT_BENCH_IMAGES (default 1000) tagged
// single-layer images and as many unreferenced blobs for gc to remove.
// Skipped unless OCIKIT_BENCH_LAYOUT is set.
func TestGenerateBenchLayout(t *testing.T) {
	dir := os.Getenv("OCIKIT_BENCH_LAYOUT")
	if dir == "" {
		t.Skip("set OCIKIT_BENCH_LAYOUT to generate the benchmark layout")
	}
	n := 1000
	if s := os.Getenv("OCIKIT_BENCH_IMAGES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	l, err := Init(ctx, dir)
	must(t, err)
	entries := make([]v1.Descriptor, 0, n)
	plats := []v1.Platform{amd64, arm64, armv7}
	for i := range n {
		p := plats[i%len(plats)]
		d := withPlatform(putImage(t, l, p, fmt.Sprintf("bench-%d-%s", i, strings.Repeat("x", 512))), p)
		d.Annotations = map[string]string{v1.AnnotationRefName: fmt.Sprintf("img-%04d", i)}
		entries = append(entries, d)
		if _, err := l.PutBlob(ctx, strings.NewReader(fmt.Sprintf("garbage %d", i)), v1.Descriptor{}); err != nil {
			t.Fatal(err)
		}
	}
	must(t, l.UpdateIndex(ctx, func(idx *v1.Index) error {
		idx.Manifests = append(idx.Manifests, entries...)
		return nil
	}))
}

func BenchmarkParseIndex1000(b *testing.B) {
	l, err := Init(context.Background(), b.TempDir()+"/l")
	must(b, err)
	d := putImage(b, l, amd64, "x")
	var idx v1.Index
	for i := range 1000 {
		e := withPlatform(d, amd64)
		e.Annotations = map[string]string{v1.AnnotationRefName: fmt.Sprintf("img-%04d", i)}
		idx.Manifests = append(idx.Manifests, e)
	}
	data, err := marshalIndex(&idx)
	must(b, err)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseIndex(data); err != nil {
			b.Fatal(err)
		}
	}
}
