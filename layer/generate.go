package layer

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ocikit/ocikit/errdefs"
)

// Whiteout names (layer.md "Whiteouts" and "Opaque Whiteout").
const (
	WhiteoutPrefix = ".wh."
	WhiteoutOpaque = WhiteoutPrefix + WhiteoutPrefix + ".opq"
)

// ErrNotSupported is returned by layer generation on platforms other than
// Linux.
var ErrNotSupported = errdefs.New(errdefs.ErrUnsupported, "layer: not supported on this platform")

// ErrWhiteoutName is returned when a tree to be written as a layer holds a
// name starting with ".wh.": appliers would take it for a whiteout
// (layer.md: such files cannot exist in an image's filesystem).
var ErrWhiteoutName = errdefs.New(errdefs.ErrInvalid, "layer: name starting with .wh. cannot be stored in a layer")

// errFileChanged means a file shrank between its lstat and its read: the
// tree was modified while the layer was generated.
var errFileChanged = errors.New("layer: file changed while generating the layer")

// ChangeKind is what a Change records.
type ChangeKind uint8

const (
	// ChangeAdd is an addition or modification: the path is written from the
	// filesystem as it is now (layer.md: "Additions and Modifications are
	// represented the same in the changeset tar archive").
	ChangeAdd ChangeKind = iota
	// ChangeWhiteout is a removal: an empty `.wh.<name>` entry beside it.
	ChangeWhiteout
	// ChangeOpaque hides every lower entry under the directory Path: a
	// `<Path>/.wh..wh..opq` entry.
	ChangeOpaque
)

// Change is one entry of a layer changeset. Path is relative to the root,
// slash-separated and clean ("etc/passwd", never "./etc" or "/etc").
type Change struct {
	Path string
	Kind ChangeKind
}

// GenerateOption configures Generate and GenerateDir.
type GenerateOption func(*genConfig)

type genConfig struct {
	epoch    *time.Time
	rootless bool
}

// WithRootlessOwners generates from a tree unpacked rootless (WithRootless):
// an entry's owner is the one recorded in its "user.rootlesscontainers"
// xattr, else root (the unprivileged user who owns the files stands for
// root in the image), and that xattr is not written, as umoci does.
func WithRootlessOwners() GenerateOption {
	return func(c *genConfig) { c.rootless = true }
}

// WithSourceDateEpoch clamps every entry's mtime to t (and dates whiteouts
// at t), as https://reproducible-builds.org/specs/source-date-epoch/ asks:
// with it, the same tree gives the same layer whenever it was written.
func WithSourceDateEpoch(t time.Time) GenerateOption {
	return func(c *genConfig) { t := t.UTC(); c.epoch = &t }
}

// SourceDateEpoch reads $SOURCE_DATE_EPOCH (decimal seconds since the Unix
// epoch). ok is false when it is unset; a malformed value is an error.
func SourceDateEpoch() (t time.Time, ok bool, err error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Time{}, false, nil
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil || sec < 0 {
		return time.Time{}, false, fmt.Errorf("invalid SOURCE_DATE_EPOCH %q: want seconds since 1970", s)
	}
	return time.Unix(sec, 0).UTC(), true, nil
}

// Generate writes to w an uncompressed tar changeset holding changes, in the
// order given, reading added paths from the directory root. The tar is
// reproducible: entries carry no user or group names, no atime or ctime, and
// mtimes in whole seconds (clamped by WithSourceDateEpoch); hardlinked
// files are written once and then as tar hardlinks (layer.md "Hardlinks");
// xattrs are PAX SCHILY.xattr.* records. Sockets cannot be represented in
// tar and are skipped.
func Generate(ctx context.Context, w io.Writer, root string, changes []Change, opts ...GenerateOption) error {
	g := newGenerator(w, opts)
	for _, c := range changes {
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		switch c.Kind {
		case ChangeAdd:
			err = g.addPath(root, c.Path)
		case ChangeWhiteout:
			dir, base := path.Split(c.Path)
			err = g.marker(dir + WhiteoutPrefix + base)
		case ChangeOpaque:
			err = g.marker(path.Join(c.Path, WhiteoutOpaque))
		default:
			err = fmt.Errorf("layer: unknown change kind %d for %s", c.Kind, c.Path)
		}
		if err != nil {
			return err
		}
	}
	return g.close()
}

// GenerateDir writes to w an uncompressed tar of every file under root (not
// root itself), in lexical order of each directory, with the guarantees of
// Generate.
func GenerateDir(ctx context.Context, w io.Writer, root string, opts ...GenerateOption) error {
	g := newGenerator(w, opts)
	if err := g.walk(ctx, root, ""); err != nil {
		return err
	}
	return g.close()
}

func (g *generator) walk(ctx context.Context, root, dir string) error {
	names, err := genDirNames(filepath.Join(root, filepath.FromSlash(dir)))
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		rel := path.Join(dir, name)
		isDir, err := g.addPathDir(root, rel)
		if err != nil {
			return err
		}
		if isDir {
			if err := g.walk(ctx, root, rel); err != nil {
				return err
			}
		}
	}
	return nil
}

// genDirNames lists a directory sorted by name (byte order).
func genDirNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

// genMeta is what the generator needs from genLstat(2).
type genMeta struct {
	mode   uint32 // st_mode: type and permission bits
	uid    uint32
	gid    uint32
	size   int64
	mtime  time.Time
	nlink  uint64
	dev    uint64
	ino    uint64
	rdevMj uint32
	rdevMn uint32
}

// POSIX st_mode type bits (the same values on every Unix).
const (
	genIFMT   = 0o170000
	genIFSOCK = 0o140000
	genIFLNK  = 0o120000
	genIFREG  = 0o100000
	genIFBLK  = 0o060000
	genIFDIR  = 0o040000
	genIFCHR  = 0o020000
	genIFIFO  = 0o010000
)

type genInode struct{ dev, ino uint64 }

type generator struct {
	cfg   genConfig
	bw    *bufio.Writer
	tw    *tar.Writer
	links map[genInode]string
}

func newGenerator(w io.Writer, opts []GenerateOption) *generator {
	g := &generator{links: map[genInode]string{}}
	for _, o := range opts {
		o(&g.cfg)
	}
	g.bw = bufio.NewWriterSize(w, 1<<20)
	g.tw = tar.NewWriter(g.bw)
	return g
}

func (g *generator) close() error {
	if err := g.tw.Close(); err != nil {
		return fmt.Errorf("write tar: %w", err)
	}
	if err := g.bw.Flush(); err != nil {
		return fmt.Errorf("write tar: %w", err)
	}
	return nil
}

func (g *generator) mtime(t time.Time) time.Time {
	if g.cfg.epoch != nil && t.After(*g.cfg.epoch) {
		t = *g.cfg.epoch
	}
	return t.Truncate(time.Second).UTC()
}

// marker writes an empty regular file: a whiteout or an opaque whiteout.
func (g *generator) marker(name string) error {
	t := time.Unix(0, 0)
	if g.cfg.epoch != nil {
		t = *g.cfg.epoch
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, ModTime: t.UTC()}
	if err := g.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

func (g *generator) addPath(root, rel string) error {
	_, err := g.addPathDir(root, rel)
	return err
}

// addPathDir writes the entry for root/rel and reports whether it is a
// directory.
func (g *generator) addPathDir(root, rel string) (bool, error) {
	if rel == "" || rel == "." || !filepath.IsLocal(rel) {
		return false, fmt.Errorf("layer: invalid changeset path %q", rel)
	}
	if strings.HasPrefix(path.Base(rel), WhiteoutPrefix) {
		return false, fmt.Errorf("%s: %w", rel, ErrWhiteoutName)
	}
	full := filepath.Join(root, filepath.FromSlash(rel))
	m, err := genLstat(full)
	if err != nil {
		return false, err
	}
	hdr := &tar.Header{
		Name:    rel,
		Mode:    int64(m.mode & 0o7777),
		Uid:     int(m.uid),
		Gid:     int(m.gid),
		ModTime: g.mtime(m.mtime),
	}
	isDir := false
	switch m.mode & genIFMT {
	case genIFREG:
		hdr.Typeflag = tar.TypeReg
		hdr.Size = m.size
	case genIFDIR:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
		isDir = true
	case genIFLNK:
		hdr.Typeflag = tar.TypeSymlink
		if hdr.Linkname, err = os.Readlink(full); err != nil {
			return false, err
		}
	case genIFCHR, genIFBLK:
		hdr.Typeflag = tar.TypeChar
		if m.mode&genIFMT == genIFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(m.rdevMj), int64(m.rdevMn)
	case genIFIFO:
		hdr.Typeflag = tar.TypeFifo
	case genIFSOCK: // no tar representation; recreated by whoever listens
		return false, nil
	default:
		return false, fmt.Errorf("layer: %s: unsupported file type %#o", rel, m.mode&genIFMT)
	}
	if !isDir && m.nlink > 1 {
		key := genInode{m.dev, m.ino}
		if first, ok := g.links[key]; ok {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
		} else {
			g.links[key] = rel
		}
	}
	xattrs, err := Xattrs(full)
	if err != nil {
		return false, err
	}
	if g.cfg.rootless {
		hdr.Uid, hdr.Gid = 0, 0
		if v, ok := xattrs[rootlessXattr]; ok {
			if uid, gid, ok := parseRootlessPayload([]byte(v)); ok {
				if uid != rootlessNoopID {
					hdr.Uid = int(uid)
				}
				if gid != rootlessNoopID {
					hdr.Gid = int(gid)
				}
			}
			delete(xattrs, rootlessXattr)
		}
	}
	for k, v := range xattrs {
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+k] = v
	}
	if err := g.tw.WriteHeader(hdr); err != nil {
		return false, fmt.Errorf("write %s: %w", rel, err)
	}
	if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
		if err := g.copyFile(full, hdr.Size); err != nil {
			return false, err
		}
	}
	return isDir, nil
}

func (g *generator) copyFile(full string, size int64) error {
	f, err := genOpen(full)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.CopyN(g.tw, f, size); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: %w", full, errFileChanged)
		}
		return fmt.Errorf("write %s: %w", full, err)
	}
	return nil
}
