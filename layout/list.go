package layout

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Entry is one index.json entry as `image ls` shows it.
type Entry struct {
	Tag        string // org.opencontainers.image.ref.name, "" if untagged
	Descriptor v1.Descriptor
	// Platforms the entry offers: its own platform field, else those of
	// the manifests of an index (nested indexes included), else the
	// os/architecture/variant of a manifest's image config.
	Platforms []v1.Platform
	// Err is why the entry's documents could not be read (dangling,
	// corrupt, malformed); the other fields are still filled from
	// index.json.
	Err error
}

// Entries lists index.json's entries in order with their platforms. An
// entry whose descriptor names its platform costs one stat (the blob must
// exist with its size); otherwise its manifest and config, or its index,
// are read and verified. A broken entry sets its Err instead of failing
// the listing; only an unreadable index.json fails it.
func (l *Layout) Entries(ctx context.Context) ([]Entry, error) {
	idx, err := l.Index(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, len(idx.Manifests))
	// Entries are independent: read them with a few workers (the work is
	// mostly open/read/close syscalls), keeping index.json's order.
	workers := min(runtime.GOMAXPROCS(0)*2, len(idx.Manifests), 16)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				d := idx.Manifests[i]
				e := Entry{Tag: d.Annotations[v1.AnnotationRefName], Descriptor: d}
				e.Platforms, e.Err = l.platforms(ctx, d, 0)
				out[i] = e
			}
		}()
	}
	for i := range idx.Manifests {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func (l *Layout) platforms(ctx context.Context, d v1.Descriptor, depth int) ([]v1.Platform, error) {
	if d.Platform != nil {
		// The descriptor says it all; only check that the blob is there
		// with its size (a stat, not a read: Resolve and validation
		// verify content).
		ps := []v1.Platform{*d.Platform}
		if !IsIndex(d.MediaType) && !IsManifest(d.MediaType) {
			return ps, nil
		}
		size, err := l.StatBlob(ctx, d.Digest)
		if err != nil {
			return ps, err
		}
		if size != d.Size {
			return ps, fmt.Errorf("%s: %d bytes, descriptor says %d: %w", l.blobPath(d.Digest), size, d.Size, ErrSizeMismatch)
		}
		return ps, nil
	}
	if depth > maxDepth {
		return nil, fmt.Errorf("index %s: nested deeper than %d: %w", d.Digest, maxDepth, ErrInvalidDocument)
	}
	switch {
	case IsIndex(d.MediaType):
		data, err := l.ReadBlob(ctx, d)
		if err != nil {
			return nil, err
		}
		idx, err := ParseIndex(data)
		if err != nil {
			return nil, fmt.Errorf("index %s: %w", d.Digest, err)
		}
		var out []v1.Platform
		for _, c := range idx.Manifests {
			if !IsIndex(c.MediaType) && !IsManifest(c.MediaType) {
				continue
			}
			ps, err := l.platforms(ctx, c, depth+1)
			if err != nil {
				return out, err
			}
			out = append(out, ps...)
		}
		return out, nil
	case IsManifest(d.MediaType):
		data, err := l.ReadBlob(ctx, d)
		if err != nil {
			return nil, err
		}
		m, err := ParseManifest(data)
		if err != nil {
			return nil, fmt.Errorf("manifest %s: %w", d.Digest, err)
		}
		if m.Config.MediaType != v1.MediaTypeImageConfig && m.Config.MediaType != MediaTypeDockerConfig {
			return nil, nil
		}
		cfg, err := l.ReadBlob(ctx, m.Config)
		if err != nil {
			return nil, fmt.Errorf("config of manifest %s: %w", d.Digest, err)
		}
		var p struct {
			OS           string `json:"os"`
			Architecture string `json:"architecture"`
			Variant      string `json:"variant"`
		}
		if err := json.Unmarshal(cfg, &p); err != nil {
			return nil, fmt.Errorf("config %s: malformed JSON (%s): %w", m.Config.Digest, jsonErrorDetail(cfg, err), ErrInvalidDocument)
		}
		if p.OS == "" && p.Architecture == "" {
			return nil, nil
		}
		return []v1.Platform{{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}}, nil
	}
	return nil, nil
}
