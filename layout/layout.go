package layout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ocikit/ocikit/content"
	"github.com/ocikit/ocikit/internal/fsutil"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

const (
	layoutFile = v1.ImageLayoutFile // "oci-layout"
	indexFile  = "index.json"
	blobsDir   = v1.ImageBlobsDir // "blobs"

	// tmpPrefix starts the names of the temporary files this package writes
	// (in blobs/ for blobs, in the layout root for index.json). GC removes
	// the ones no live writer holds locked.
	tmpPrefix = fsutil.TempPrefix

	// MaxJSONSize caps documents read whole: index.json, oci-layout and
	// ReadBlob. Registries cap manifests at 4 MiB; 64 MiB leaves room for
	// an index.json with hundreds of thousands of tags.
	MaxJSONSize = 64 << 20
)

// validVersion accepts the imageLayoutVersion values of image-spec's
// layout format 1.0 (image-layout.md: "will pin a given version until
// changes to the image layout are required"): 1.0.N.
func validVersion(v string) bool {
	n, ok := strings.CutPrefix(v, "1.0.")
	if !ok || n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		if n[i] < '0' || n[i] > '9' {
			return false
		}
	}
	return true
}

// Layout is an OCI image layout directory. It holds no open files and no
// cached state: every method reads the directory afresh, so a Layout is
// safe for concurrent use by goroutines and by other processes working on
// the same directory.
type Layout struct {
	dir string
}

// Dir returns the layout's directory as given to Init or Open.
func (l *Layout) Dir() string { return l.dir }

// Init creates an empty image layout in dir (created if missing): blobs/,
// an index.json with no manifests and the oci-layout marker, written last so
// that a crash leaves no half-made layout that Open accepts. It fails,
// wrapping fs.ErrExist, if dir already holds an oci-layout or index.json.
func Init(ctx context.Context, dir string) (*Layout, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if dir == "" {
		return nil, fmt.Errorf("init layout: empty directory name")
	}
	for _, name := range []string{layoutFile, indexFile} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			return nil, fmt.Errorf("init layout %s: %s already exists: %w", dir, name, fs.ErrExist)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, blobsDir), 0o755); err != nil {
		return nil, fmt.Errorf("init layout: %w", err)
	}
	l := &Layout{dir: dir}
	index, err := marshalIndex(&v1.Index{})
	if err != nil {
		return nil, err
	}
	if err := fsutil.WriteFile(filepath.Join(l.dir, indexFile), index, 0o644); err != nil {
		return nil, fmt.Errorf("init layout: %w", err)
	}
	marker, err := json.Marshal(v1.ImageLayout{Version: v1.ImageLayoutVersion})
	if err != nil {
		return nil, err
	}
	if err := fsutil.WriteFile(filepath.Join(l.dir, layoutFile), marker, 0o644); err != nil {
		return nil, fmt.Errorf("init layout: %w", err)
	}
	return l, nil
}

// Open opens the image layout in dir after checking it: oci-layout must
// exist, be a JSON object and name a supported imageLayoutVersion; blobs/
// must be a directory; index.json must be a valid image index. Problems are
// reported here rather than on first use.
func Open(ctx context.Context, dir string) (*Layout, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("open layout %s: directory does not exist: %w", dir, ErrNotFound)
		}
		return nil, fmt.Errorf("open layout: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("open layout %s: not a directory: %w", dir, ErrInvalidLayout)
	}
	l := &Layout{dir: dir}
	if err := l.checkMarker(); err != nil {
		return nil, err
	}
	bst, err := os.Stat(filepath.Join(dir, blobsDir))
	if err != nil || !bst.IsDir() {
		return nil, fmt.Errorf("%s: missing blobs directory: %w", filepath.Join(dir, blobsDir), ErrInvalidLayout)
	}
	if _, err := l.Index(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Layout) checkMarker() error {
	path := filepath.Join(l.dir, layoutFile)
	data, err := fsutil.ReadFileLimit(path, 1<<20)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: missing oci-layout file, not an OCI image layout: %w", l.dir, ErrInvalidLayout)
		}
		return fmt.Errorf("read oci-layout: %w", err)
	}
	var marker map[string]json.RawMessage
	if err := json.Unmarshal(data, &marker); err != nil {
		return fmt.Errorf("%s: malformed JSON (%s): %w", path, jsonErrorDetail(data, err), ErrInvalidLayout)
	}
	raw, ok := marker["imageLayoutVersion"]
	if !ok {
		return fmt.Errorf("%s: no imageLayoutVersion field: %w", path, ErrInvalidLayout)
	}
	var version string
	if err := json.Unmarshal(raw, &version); err != nil {
		return fmt.Errorf("%s: imageLayoutVersion is not a string: %w", path, ErrInvalidLayout)
	}
	if !validVersion(version) {
		return fmt.Errorf("%s: imageLayoutVersion %q (want %s): %w", path, version, v1.ImageLayoutVersion, ErrUnsupportedVersion)
	}
	return nil
}

// jsonErrorDetail turns a decoding error into a short text with the byte
// offset, which encoding/json's syntax errors carry but do not print.
func jsonErrorDetail(data []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v at byte %d", se, se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("field %s: want %s, got JSON %s", te.Field, te.Type, te.Value)
		}
		return fmt.Sprintf("want %s, got JSON %s", te.Type, te.Value)
	}
	if len(data) == 0 {
		return "empty file"
	}
	return err.Error()
}

// lock takes the layout's lock: flock(2) on the layout directory itself, so
// no extra file appears in the layout. Exclusive for index.json updates and
// GC; shared while a blob writer creates its temporary file (so GC never
// mistakes a just-created temporary file for a stale one). The returned
// function releases it.
func (l *Layout) lock(ctx context.Context, exclusive bool) (func(), error) {
	return lockDir(ctx, l.dir, exclusive)
}

// LockShared takes, on the layout directory dir, the shared lock this
// package's readers take (index.json updates and GC take it exclusive), for
// code that reads a layout's files without Open, such as a validator that
// must also report on layouts Open refuses. It waits until the lock is free
// or ctx ends; unlock releases it. Where flock(2) does not exist the error
// wraps ErrNotSupported.
func LockShared(ctx context.Context, dir string) (unlock func(), err error) {
	return lockDir(ctx, dir, false)
}

func lockDir(ctx context.Context, dir string, exclusive bool) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("lock layout: %w", err)
	}
	if err := fsutil.Lock(ctx, d, exclusive); err != nil {
		d.Close()
		return nil, fmt.Errorf("lock layout: %w", err)
	}
	return func() { d.Close() }, nil
}

// A Layout is each of package content's interfaces (checked by
// content/contenttest in conformance_test.go).
var (
	_ content.ImageSource = (*Layout)(nil)
	_ content.Stater      = (*Layout)(nil)
	_ content.Ingester    = (*Layout)(nil)
	_ content.Tagger      = (*Layout)(nil)
	_ content.LocalStore  = (*Layout)(nil)
)
