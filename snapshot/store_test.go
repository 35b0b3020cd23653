package snapshot

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/internal/testutil"
	"github.com/ocikit/ocikit/layer"
	"github.com/ocikit/ocikit/layout"
)

func TestChainIDs(t *testing.T) {
	a, b, c := digest.FromString("a"), digest.FromString("b"), digest.FromString("c")
	ab := digest.FromString(string(a) + " " + string(b))
	abc := digest.FromString(string(ab) + " " + string(c))
	tests := []struct {
		name string
		in   []digest.Digest
		want []digest.Digest
	}{
		{"none", nil, []digest.Digest{}},
		{"one layer is its diff_id", []digest.Digest{a}, []digest.Digest{a}},
		{"three layers", []digest.Digest{a, b, c}, []digest.Digest{a, ab, abc}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ChainIDs(tt.in)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("[%d] = %s, want %s", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// twoLayers stores an image of two uncompressed layers; breakDiffID makes
// the second layer's diff_id wrong.
func twoLayers(t *testing.T, breakDiffID bool) (*layout.Layout, *content.Image) {
	t.Helper()
	ctx := context.Background()
	l, err := layout.Init(ctx, filepath.Join(t.TempDir(), "layout"))
	if err != nil {
		t.Fatal(err)
	}
	var descs []v1.Descriptor
	var diffIDs []digest.Digest
	for i, files := range []map[string]string{{"etc/passwd": "root:x:0:0::/root:/bin/sh\n", "a": "1"}, {"b": "2"}} {
		src := t.TempDir()
		for name, data := range files {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(src, name)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(src, name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		var buf bytes.Buffer
		if err := layer.GenerateDir(ctx, &buf, src, layer.WithSourceDateEpoch(time.Unix(0, 0))); err != nil {
			t.Fatal(err)
		}
		d, err := l.PutBlob(ctx, bytes.NewReader(buf.Bytes()), v1.Descriptor{MediaType: v1.MediaTypeImageLayer})
		if err != nil {
			t.Fatal(err)
		}
		descs = append(descs, d)
		diff := d.Digest
		if breakDiffID && i == 1 {
			diff = digest.FromString("not this layer")
		}
		diffIDs = append(diffIDs, diff)
	}
	img := &content.Image{
		Manifest: v1.Manifest{Layers: descs},
		Config:   v1.Image{RootFS: v1.RootFS{Type: "layers", DiffIDs: diffIDs}},
	}
	return l, img
}

// TestPrepareAllOrNothing: a layer that fails its diff_id leaves no
// snapshot under its chain ID (and no temporary directory); the layers
// below it stay, and a second Prepare makes nothing again.
func TestPrepareAllOrNothing(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l, bad := twoLayers(t, true)
	_, made, err := s.Prepare(ctx, l, bad, nil)
	if !errors.Is(err, errdefs.ErrDigestMismatch) {
		t.Fatalf("err = %v, want a digest mismatch", err)
	}
	chains := ChainIDs(bad.Config.RootFS.DiffIDs)
	if made != 1 {
		t.Errorf("made %d snapshots, want 1 (the first layer)", made)
	}
	if _, err := os.Lstat(s.SnapshotDir(chains[1])); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("snapshot of the bad layer: %v", err)
	}
	if left, _ := os.ReadDir(filepath.Join(s.Dir(), tmpDir)); len(left) != 0 {
		t.Errorf("temporary directories left: %v", left)
	}

	l, good := twoLayers(t, false)
	dirs, made, err := s.Prepare(ctx, l, good, nil)
	if err != nil {
		t.Fatal(err)
	}
	if made != 1 {
		t.Errorf("made %d, want 1 (the first layer's snapshot is shared)", made)
	}
	if _, err := os.Stat(filepath.Join(dirs[1], "b")); err != nil {
		t.Errorf("second snapshot: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dirs[1], "a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("second snapshot holds the first layer's file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(UsersDir(dirs[1]), "etc", "passwd")); err != nil {
		t.Errorf("merged users of the chain: %v", err)
	}
	if _, made, err = s.Prepare(ctx, l, good, nil); err != nil || made != 0 {
		t.Errorf("second Prepare: made %d, %v", made, err)
	}
}

func TestGCReportPrint(t *testing.T) {
	snap := digest.FromString("chain")
	for _, tc := range []struct {
		name   string
		dryRun bool
		want   string
	}{
		{name: "removed", want: "removed container directory c1\nremoved snapshot " + string(snap) + "\nremoved 1 container directories, 1 snapshots and 0 blobs (0 bytes); kept 2 snapshots\n"},
		{name: "dry run", dryRun: true, want: "would remove container directory c1\nwould remove snapshot " + string(snap) + "\nwould remove 1 container directories, 1 snapshots and 0 blobs (0 bytes); kept 2 snapshots\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := GCReport{Containers: []string{"c1"}, Snapshots: []digest.Digest{snap}, Kept: 2, Images: &layout.GCReport{DryRun: tc.dryRun}, DryRun: tc.dryRun}
			var b strings.Builder
			if err := r.Print(&b); err != nil || b.String() != tc.want {
				t.Fatalf("Print = %q, %v; want %q", b.String(), err, tc.want)
			}
		})
	}
}
