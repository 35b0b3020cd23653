package layout

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

const killHelperEnv = "OCIKIT_LAYOUT_KILL_HELPER"

// TestKillHelper is the writer process TestSIGKILLLeavesOldOrNewIndex
// kills: it stores a blob and tags it t<N>, t<N+1>, ... until killed.
func TestKillHelper(t *testing.T) {
	dir := os.Getenv(killHelperEnv)
	if dir == "" {
		t.Skip("helper process only")
	}
	ctx := context.Background()
	l, err := Open(ctx, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for i := len(Tags(mustIndex(t, l))); ; i++ {
		d, err := l.PutBlob(ctx, strings.NewReader(strings.Repeat(strconv.Itoa(i), 4096)), v1.Descriptor{MediaType: "application/octet-stream"})
		if err == nil {
			err = l.Tag(ctx, "t"+strconv.Itoa(i), d)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
}

// TestSIGKILLLeavesOldOrNewIndex kills a writer process at random moments
// and checks after each kill that the layout opens, index.json is exactly
// one of the states the writer produced (tags t0..tK, in order), and every
// blob under its digest is complete. GC then removes the dead writers'
// temporary files.
func TestSIGKILLLeavesOldOrNewIndex(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	ctx := context.Background()
	l := newLayout(t)
	rounds := 30
	prev := 0
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), killHelperEnv+"="+l.Dir())
		var stderr strings.Builder
		cmd.Stderr = &stderr
		must(t, cmd.Start())
		time.Sleep(time.Duration(20+rand.IntN(80)) * time.Millisecond)
		must(t, cmd.Process.Signal(syscall.SIGKILL))
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: writer exited on its own (%v): %s", round, err, stderr.String())
		}
		l2, err := Open(ctx, l.Dir())
		if err != nil {
			t.Fatalf("round %d: layout broken after SIGKILL: %v", round, err)
		}
		idx := mustIndex(t, l2)
		for i, d := range idx.Manifests {
			if got := d.Annotations[v1.AnnotationRefName]; got != "t"+strconv.Itoa(i) {
				t.Fatalf("round %d: entry %d is %q: index.json is not a state the writer wrote", round, i, got)
			}
			if _, err := l2.ReadBlob(ctx, d); err != nil {
				t.Fatalf("round %d: tagged blob: %v", round, err)
			}
		}
		if len(idx.Manifests) < prev {
			t.Fatalf("round %d: %d tags, fewer than the %d before", round, len(idx.Manifests), prev)
		}
		prev = len(idx.Manifests)
		blobs, err := l2.Blobs(ctx)
		must(t, err)
		for _, b := range blobs {
			size, err := l2.StatBlob(ctx, b)
			must(t, err)
			if _, err := l2.ReadBlob(ctx, v1.Descriptor{Digest: b, Size: size}); err != nil {
				t.Fatalf("round %d: a visible blob is incomplete: %v", round, err)
			}
		}
	}
	if prev == 0 {
		t.Fatal("the writer never completed a tag; the test proves nothing")
	}
	t.Logf("%d rounds, %d tags written", rounds, prev)
	if _, err := l.GC(ctx); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{l.Dir(), filepath.Join(l.Dir(), "blobs")} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), tmpPrefix) {
				t.Errorf("GC left temporary file %s", e.Name())
			}
		}
	}
}
