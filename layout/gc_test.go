package layout

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// reachable lists every blob Resolve and the subject chain can reach from
// the valid fixture's tags, independently of GC's own walk.
func reachable(t *testing.T, l *Layout) map[digest.Digest]bool {
	ctx := context.Background()
	out := map[digest.Digest]bool{}
	idx := mustIndex(t, l)
	var walk func(d v1.Descriptor)
	walk = func(d v1.Descriptor) {
		out[d.Digest] = true
		data, err := l.ReadBlob(ctx, d)
		if err != nil {
			return // leaves (layers) need not be JSON
		}
		switch {
		case IsIndex(d.MediaType):
			ix, err := ParseIndex(data)
			must(t, err)
			for _, c := range ix.Manifests {
				walk(c)
			}
		case IsManifest(d.MediaType):
			m, err := ParseManifest(data)
			must(t, err)
			out[m.Config.Digest] = true
			for _, c := range m.Layers {
				out[c.Digest] = true
			}
			if m.Subject != nil {
				walk(*m.Subject)
			}
		}
	}
	for _, d := range idx.Manifests {
		walk(d)
	}
	return out
}

func TestGC(t *testing.T) {
	ctx := context.Background()
	dir := copyTree(t, fixture("valid"))
	l, err := Open(ctx, dir)
	must(t, err)
	want := reachable(t, l)

	// Garbage: unreferenced blobs (sha256, sha512), a stale temporary blob,
	// a stale temporary index.json, and a temporary blob a live writer
	// holds, which GC must leave.
	junk1, err := l.PutBlob(ctx, strings.NewReader("junk one"), v1.Descriptor{})
	must(t, err)
	junk2, err := l.PutBlob(ctx, strings.NewReader("junk two"), v1.Descriptor{Digest: digest.SHA512.FromString("junk two")})
	must(t, err)
	orphan := putImage(t, l, amd64, "orphan") // manifest+config+layer, never tagged
	writeFile(t, filepath.Join(dir, "blobs", tmpPrefix+"dead"), "partial")
	writeFile(t, filepath.Join(dir, tmpPrefix+"index.json-dead"), "{")
	live, err := l.createTemp(ctx)
	must(t, err)
	defer live.Close()
	writeFile(t, filepath.Join(dir, "blobs", "unknown-file"), "kept")

	before := treeHash(t, dir)
	dry, err := l.GC(ctx, GCDryRun())
	must(t, err)
	if treeHash(t, dir) != before {
		t.Fatal("dry run changed the layout")
	}
	if len(dry.Removed) != 5 || len(dry.TempFiles) != 2 || !dry.DryRun {
		t.Fatalf("dry run report %+v", dry)
	}

	rep, err := l.GC(ctx)
	must(t, err)
	if !slices.Equal(sortedDigests(rep.Removed), sortedDigests(dry.Removed)) {
		t.Fatalf("removed %v, dry run said %v", rep.Removed, dry.Removed)
	}
	for _, d := range []digest.Digest{junk1.Digest, junk2.Digest, orphan.Digest} {
		if !slices.Contains(rep.Removed, d) {
			t.Errorf("%s not removed", d)
		}
	}
	if rep.RemovedBytes <= int64(len("junk onejunk two")) || rep.TempBytes != int64(len("partial{")) {
		t.Errorf("bytes: %+v", rep)
	}
	left, err := l.Blobs(ctx)
	must(t, err)
	if len(left) != len(want) || rep.Kept != len(want) {
		t.Fatalf("%d blobs left (kept %d), want the %d reachable", len(left), rep.Kept, len(want))
	}
	for _, d := range left {
		if !want[d] {
			t.Errorf("unreachable %s survived", d)
		}
	}
	if _, err := os.Stat(live.Name()); err != nil {
		t.Errorf("live temporary file removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs", "unknown-file")); err != nil {
		t.Errorf("unknown file removed: %v", err)
	}
	// Every image still resolves.
	for _, tag := range []string{"v1", "multi", "nested", "sig"} {
		if _, err := l.Resolve(ctx, tag, WithPlatform(amd64)); err != nil {
			t.Errorf("resolve %s after GC: %v", tag, err)
		}
	}

	// The signature's subject keeps v1's manifest alive after untagging v1.
	v1img, err := l.Resolve(ctx, "v1")
	must(t, err)
	must(t, l.Untag(ctx, "v1"))
	rep, err = l.GC(ctx)
	must(t, err)
	if len(rep.Removed) != 0 {
		t.Fatalf("GC removed %v though sig's subject references v1", rep.Removed)
	}
	must(t, l.Untag(ctx, "sig"))
	rep, err = l.GC(ctx)
	must(t, err)
	for _, d := range []digest.Digest{v1img.Descriptor.Digest, v1img.Manifest.Config.Digest, v1img.Manifest.Layers[0].Digest} {
		if !slices.Contains(rep.Removed, d) {
			t.Errorf("v1 blob %s not removed after untagging v1 and sig", d)
		}
	}
}

func sortedDigests(ds []digest.Digest) []digest.Digest {
	out := slices.Clone(ds)
	slices.Sort(out)
	return out
}

func TestGCGracePeriod(t *testing.T) {
	ctx := context.Background()
	l := newLayout(t)
	fresh, err := l.PutBlob(ctx, strings.NewReader("fresh"), v1.Descriptor{})
	must(t, err)
	old, err := l.PutBlob(ctx, strings.NewReader("old"), v1.Descriptor{})
	must(t, err)
	past := time.Now().Add(-2 * time.Hour)
	must(t, os.Chtimes(l.blobPath(old.Digest), past, past))
	rep, err := l.GC(ctx, GCGracePeriod(time.Hour))
	must(t, err)
	if !slices.Equal(rep.Removed, []digest.Digest{old.Digest}) {
		t.Fatalf("removed %v, want only %s", rep.Removed, old.Digest)
	}
	if _, err := l.StatBlob(ctx, fresh.Digest); err != nil {
		t.Fatal(err)
	}
	// Storing an old blob again (the no-copy path) restarts its grace.
	must(t, os.Chtimes(l.blobPath(fresh.Digest), past, past))
	_, err = l.PutBlob(ctx, strings.NewReader("fresh"), fresh)
	must(t, err)
	rep, err = l.GC(ctx, GCGracePeriod(time.Hour))
	must(t, err)
	if len(rep.Removed) != 0 {
		t.Fatalf("removed %v, a blob just stored again", rep.Removed)
	}
}

func TestGCFollowsUnknownMediaTypes(t *testing.T) {
	// An index.json entry with a media type GC does not know, whose blob is
	// a JSON manifest, keeps what that manifest references.
	ctx := context.Background()
	l := newLayout(t)
	m := putImage(t, l, amd64, "x")
	m.MediaType = "application/vnd.example.manifest.v9+json"
	must(t, l.UpdateIndex(ctx, func(idx *v1.Index) error {
		idx.Manifests = append(idx.Manifests, m)
		return nil
	}))
	rep, err := l.GC(ctx)
	must(t, err)
	if len(rep.Removed) != 0 || rep.Kept != 3 {
		t.Fatalf("report %+v", rep)
	}
}

func TestGCRefusesUnreadableManifest(t *testing.T) {
	ctx := context.Background()
	l := newLayout(t)
	a := putImage(t, l, amd64, "a")
	b := putImage(t, l, amd64, "b")
	mustTag(t, l, "a", a)
	mustTag(t, l, "b", b)
	// Corrupt b's manifest: GC can no longer know what b references, so
	// it removes nothing, not even real garbage.
	_, err := l.PutBlob(ctx, strings.NewReader("garbage"), v1.Descriptor{})
	must(t, err)
	writeFile(t, l.blobPath(b.Digest), strings.Repeat("x", int(b.Size)))
	before := treeHash(t, l.Dir())
	_, err = l.GC(ctx)
	if !errors.Is(err, ErrDigestMismatch) || !strings.Contains(err.Error(), string(b.Digest)) {
		t.Fatalf("err = %v", err)
	}
	if treeHash(t, l.Dir()) != before {
		t.Fatal("GC changed the layout after failing")
	}
}

func TestGCReportPrint(t *testing.T) {
	rep := GCReport{Kept: 3, Removed: []digest.Digest{digest.FromString("a")}, RemovedBytes: 10, TempFiles: []string{"blobs/.ocikit-tmp-x"}, TempBytes: 2}
	for _, tc := range []struct {
		name   string
		dryRun bool
		want   string
	}{
		{name: "removed", want: "removed 1 blobs (10 bytes) and 1 temporary files (2 bytes); kept 3 blobs\n"},
		{name: "dry run", dryRun: true, want: "would remove blob " + string(digest.FromString("a")) + "\n" +
			"would remove temporary file blobs/.ocikit-tmp-x\n" +
			"would remove 1 blobs (10 bytes) and 1 temporary files (2 bytes); kept 3 blobs\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rep
			r.DryRun = tc.dryRun
			var b strings.Builder
			if err := r.Print(&b); err != nil || b.String() != tc.want {
				t.Fatalf("Print = %q, %v; want %q", b.String(), err, tc.want)
			}
		})
	}
}
