package layout

// End-to-end tests of the `ocikit image` commands built on this package
// (init, ls, inspect, tag, rm, gc), run as separate processes.

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocikit/ocikit/internal/testutil"
)

type cliResult struct {
	stdout, stderr string
	code           int
}

func ocikit(t *testing.T, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(testutil.Binary(t), args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return cliResult{out.String(), errb.String(), code}
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	r := ocikit(t, args...)
	if r.code != 0 {
		t.Fatalf("ocikit %s: exit %d: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

func TestCLILifecycle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "oci")
	mustRun(t, "image", "init", dir)
	if r := ocikit(t, "image", "init", dir); r.code == 0 {
		t.Fatal("second init succeeded")
	}
	if out := mustRun(t, "image", "ls", "--json", dir); strings.TrimSpace(out) != "[]" {
		t.Fatalf("ls of empty layout: %q", out)
	}
	// Fill it through the library, as repack would.
	ctx := context.Background()
	l, err := Open(ctx, dir)
	must(t, err)
	single := putImage(t, l, amd64, "single")
	mustTag(t, l, "v1", single)
	multi := putIndex(t, l,
		withPlatform(putImage(t, l, amd64, "m-amd64"), amd64),
		withPlatform(putImage(t, l, arm64, "m-arm64"), arm64))
	mustTag(t, l, "multi", multi)

	out := mustRun(t, "image", "ls", dir)
	for _, want := range []string{"TAG", "v1", "multi", string(single.Digest), v1.MediaTypeImageIndex, "linux/amd64,linux/arm64/v8"} {
		if !strings.Contains(out, want) {
			t.Errorf("ls output lacks %q:\n%s", want, out)
		}
	}
	var rows []struct {
		Tag, Digest, MediaType string
		Size                   int64
		Platforms              []string
	}
	must(t, json.Unmarshal([]byte(mustRun(t, "image", "ls", "--json", dir)), &rows))
	if len(rows) != 2 || rows[0].Tag != "v1" || rows[0].Digest != string(single.Digest) ||
		strings.Join(rows[0].Platforms, ",") != "linux/amd64" || strings.Join(rows[1].Platforms, ",") != "linux/amd64,linux/arm64/v8" {
		t.Fatalf("ls --json = %+v", rows)
	}

	var insp struct {
		Descriptor v1.Descriptor
		Manifest   v1.Manifest
		Config     *v1.Image
	}
	must(t, json.Unmarshal([]byte(mustRun(t, "image", "inspect", "--platform", "linux/arm64", dir+":multi")), &insp))
	if insp.Config == nil || insp.Config.Architecture != "arm64" || insp.Descriptor.Platform == nil || len(insp.Manifest.Layers) != 1 {
		t.Fatalf("inspect = %+v", insp)
	}
	must(t, json.Unmarshal([]byte(mustRun(t, "image", "inspect", dir+"@"+string(single.Digest))), &insp))
	if insp.Descriptor.Digest != single.Digest {
		t.Fatalf("inspect by digest = %s", insp.Descriptor.Digest)
	}
	if r := ocikit(t, "image", "inspect", "--platform", "linux/s390x", dir+":multi"); r.code == 0 || !strings.Contains(r.stderr, "linux/arm64/v8") {
		t.Fatalf("inspect for a missing platform: %+v", r)
	}

	mustRun(t, "image", "tag", dir+":v1", "copy", "again")
	mustRun(t, "image", "tag", dir+"@"+string(multi.Digest), dir+":multi2") // DST may repeat DIR
	if tags := Tags(mustIndex(t, l)); strings.Join(tags, ",") != "again,copy,multi,multi2,v1" {
		t.Fatalf("tags = %v", tags)
	}
	mustRun(t, "image", "rm", dir+":copy", dir+":again", dir+":multi2", dir+":multi")
	if r := ocikit(t, "image", "rm", dir+":multi"); r.code == 0 || !strings.Contains(r.stderr, "tags: v1") {
		t.Fatalf("rm of a missing tag: %+v", r)
	}

	// The multi-platform image is now garbage: index + 2 manifests + 2
	// configs + 2 layers, all just written, so a grace period keeps them.
	if out := mustRun(t, "image", "gc", "--grace-period", "1h", dir); !strings.Contains(out, "removed 0 blobs") {
		t.Fatalf("gc --grace-period: %s", out)
	}
	dry := mustRun(t, "image", "gc", "--dry-run", dir)
	if !strings.Contains(dry, "would remove 7 blobs") || strings.Count(dry, "would remove blob") != 7 {
		t.Fatalf("gc --dry-run:\n%s", dry)
	}
	if out := mustRun(t, "image", "gc", dir); !strings.Contains(out, "removed 7 blobs") || !strings.Contains(out, "kept 3 blobs") {
		t.Fatalf("gc: %s", out)
	}
	if out := mustRun(t, "image", "gc", dir); !strings.Contains(out, "removed 0 blobs") {
		t.Fatalf("second gc: %s", out)
	}
	mustRun(t, "image", "inspect", dir+":v1")
}

// TestCLIConcurrentTagProcesses runs 20 `ocikit image tag` processes at
// once on one layout; every tag must land (skopeo's layout writer, with no
// lock around its read-modify-write of index.json, loses some here).
func TestCLIConcurrentTagProcesses(t *testing.T) {
	bin := testutil.Binary(t)
	ctx := context.Background()
	for round := range 3 {
		l := newLayout(t)
		mustTag(t, l, "base", putImage(t, l, amd64, "base"))
		const n = 20
		var wg sync.WaitGroup
		errs := make([]string, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmd := exec.Command(bin, "image", "tag", l.Dir()+":base", fmt.Sprintf("tag%02d", i))
				<-start
				if out, err := cmd.CombinedOutput(); err != nil {
					errs[i] = fmt.Sprintf("%v: %s", err, out)
				}
			}()
		}
		close(start)
		wg.Wait()
		for i, e := range errs {
			if e != "" {
				t.Fatalf("round %d: tag%02d: %s", round, i, e)
			}
		}
		idx, err := l.Index(ctx)
		must(t, err)
		if got := len(Tags(idx)); got != n+1 {
			t.Fatalf("round %d: %d tags after %d concurrent tag processes, want %d: %v", round, got, n, n+1, Tags(idx))
		}
	}
}

// TestCLIBadInput: every broken fixture makes every command fail with one
// line naming the problem, exit status 1, and the layout unchanged.
func TestCLIBadInput(t *testing.T) {
	tests := []struct {
		fixture string
		mention string
	}{
		{"no-oci-layout", "missing oci-layout"},
		{"bad-version", "imageLayoutVersion \"2.0.0\""},
		{"bad-oci-layout-json", "oci-layout: malformed JSON"},
		{"bad-index-json", "index.json: malformed JSON"},
		{"index-schema-1", "index.json: schemaVersion 1"},
		{"altered-manifest", "digest mismatch"},
		{"truncated-config", "size mismatch"},
		{"dangling-manifest", "blob missing"},
		{"unknown-digest", "unsupported digest algorithm"},
		{"wrong-size", "size mismatch"},
		{"invalid-digest", "invalid digest"},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			dir := copyTree(t, fixture(tt.fixture))
			before := treeHash(t, dir)
			cmds := [][]string{
				{"image", "ls", dir},
				{"image", "inspect", dir + ":latest"},
				{"image", "tag", dir + ":latest", "other"},
			}
			if tt.fixture != "truncated-config" { // gc never reads configs
				cmds = append(cmds, []string{"image", "gc", dir})
			}
			for _, args := range cmds {
				r := ocikit(t, args...)
				if r.code != 1 {
					t.Errorf("%v: exit %d, want 1 (stderr %q)", args[1], r.code, r.stderr)
				}
				msg := strings.TrimSuffix(r.stderr, "\n")
				if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "ocikit: ") || !strings.Contains(msg, tt.mention) {
					t.Errorf("%v: stderr %q: want one line mentioning %q", args[1], r.stderr, tt.mention)
				}
				if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine ") {
					t.Errorf("%v panicked: %s", args[1], r.stderr)
				}
			}
			if after := treeHash(t, dir); after != before {
				t.Fatalf("layout changed")
			}
		})
	}
}

func TestCLIBadArguments(t *testing.T) {
	dir := copyTree(t, fixture("valid"))
	before := treeHash(t, dir)
	for _, tt := range []struct {
		args    []string
		mention string
	}{
		{[]string{"image", "inspect", dir + "@md5:d41d8cd98f00b204e9800998ecf8427e"}, "unsupported digest algorithm"},
		{[]string{"image", "inspect", dir + "@sha256:abc"}, "invalid digest"},
		{[]string{"image", "inspect", dir + ":nope"}, "tags: multi, nested, sig, v1"},
		{[]string{"image", "inspect", "--platform", "linux", dir + ":multi"}, "os/arch"},
		{[]string{"image", "inspect", "--platform", "plan9/mips", dir + ":multi"}, "has: linux/amd64, linux/arm64/v8, linux/arm/v7"},
		{[]string{"image", "tag", dir + ":v1", "bad tag"}, "not a valid reference name"},
		{[]string{"image", "tag", dir + ":missing", "x"}, "tag \"missing\""},
		{[]string{"image", "rm", dir + "@sha256:" + strings.Repeat("a", 64)}, "removes tags"},
		{[]string{"image", "ls", filepath.Join(dir, "nonexistent")}, "does not exist"},
		{[]string{"image", "gc", filepath.Join(dir, "blobs")}, "missing oci-layout"},
	} {
		t.Run(strings.Join(tt.args[1:], " "), func(t *testing.T) {
			r := ocikit(t, tt.args...)
			msg := strings.TrimSuffix(r.stderr, "\n")
			if r.code != 1 || strings.Contains(msg, "\n") || !strings.Contains(msg, tt.mention) {
				t.Fatalf("exit %d, stderr %q: want 1 and one line mentioning %q", r.code, r.stderr, tt.mention)
			}
		})
	}
	if treeHash(t, dir) != before {
		t.Fatal("layout changed")
	}
}
