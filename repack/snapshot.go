package repack

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"path"
	"slices"

	"github.com/ocikit/ocikit/errdefs"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// SnapshotFile is the name of the snapshot inside a bundle directory, beside
// config.json and rootfs/.
const SnapshotFile = "ocikit-snapshot"

// ErrBadSnapshot is returned for a snapshot file that cannot be decoded.
var ErrBadSnapshot = errdefs.New(errdefs.ErrInvalid, "repack: corrupt snapshot")

// Snapshot is the state of a bundle's rootfs right after unpack, and where it
// came from. Repack compares the rootfs against it to find what changed.
type Snapshot struct {
	// Layout is the absolute path of the image layout the bundle was
	// unpacked from; empty if it came from no local layout.
	Layout string
	// Source is the descriptor of the image manifest that was unpacked.
	Source v1.Descriptor
	// Entries holds every path under rootfs/ (not rootfs/ itself) in walk
	// order: depth first, each directory's children sorted by name.
	Entries []Entry
}

// Entry is the lstat(2) of one path: enough to tell, without reading
// content, whether it changed. A write to a file, a chmod, chown, xattr
// change or a new link all update its ctime, which nothing but the kernel
// can set; a replacement gives a new inode.
type Entry struct {
	Path   string // relative to rootfs, slash-separated, clean
	Mode   uint32 // st_mode: type and permission bits
	UID    uint32
	GID    uint32
	Size   int64
	Mtime  int64 // nanoseconds since the Unix epoch
	Ctime  int64 // nanoseconds since the Unix epoch
	Ino    uint64
	Btime  int64 // birth time (statx), nanoseconds; 0 if unknown
	Rdev   uint64
	Link   string            // symlink target
	Xattrs map[string]string // extended attributes
}

// The file format. JSON would be 3-4 times larger and, through reflection,
// an order of magnitude slower to decode for trees of tens of thousands of
// files, which every repack reads; so the snapshot is binary:
//
//	magic "ocikit-snapshot\x00", version byte 1
//	uvarint n, n bytes of JSON {"layout":..., "source": descriptor}
//	uvarint count of entries, then per entry:
//	  uvarint shared prefix length with the previous path, uvarint suffix
//	  length, suffix bytes (paths in walk order share long prefixes)
//	  uvarint mode, uid, gid; varint size, mtime, ctime; uvarint ino;
//	  varint btime; uvarint rdev
//	  uvarint len, symlink target
//	  uvarint xattr count, then per xattr (sorted by name): uvarint len,
//	  name, uvarint len, value
//	4 bytes little-endian CRC-32C of everything before
//
// The header stays readable with `head -c`, and the checksum turns a
// truncated or damaged file into a clear error instead of a wrong diff.
const (
	snapshotMagic   = "ocikit-snapshot\x00"
	snapshotVersion = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type snapshotHeader struct {
	Layout string        `json:"layout"`
	Source v1.Descriptor `json:"source"`
}

// MarshalBinary encodes s in the snapshot file format.
func (s *Snapshot) MarshalBinary() ([]byte, error) {
	hdr, err := json.Marshal(snapshotHeader{Layout: s.Layout, Source: s.Source})
	if err != nil {
		return nil, fmt.Errorf("encode snapshot: %w", err)
	}
	b := make([]byte, 0, 64+len(hdr)+len(s.Entries)*48)
	b = append(b, snapshotMagic...)
	b = append(b, snapshotVersion)
	b = appendBytes(b, hdr)
	b = binary.AppendUvarint(b, uint64(len(s.Entries)))
	prev := ""
	for i := range s.Entries {
		e := &s.Entries[i]
		shared := commonPrefix(prev, e.Path)
		b = binary.AppendUvarint(b, uint64(shared))
		b = appendString(b, e.Path[shared:])
		prev = e.Path
		b = binary.AppendUvarint(b, uint64(e.Mode))
		b = binary.AppendUvarint(b, uint64(e.UID))
		b = binary.AppendUvarint(b, uint64(e.GID))
		b = binary.AppendVarint(b, e.Size)
		b = binary.AppendVarint(b, e.Mtime)
		b = binary.AppendVarint(b, e.Ctime)
		b = binary.AppendUvarint(b, e.Ino)
		b = binary.AppendVarint(b, e.Btime)
		b = binary.AppendUvarint(b, e.Rdev)
		b = appendString(b, e.Link)
		b = binary.AppendUvarint(b, uint64(len(e.Xattrs)))
		names := make([]string, 0, len(e.Xattrs))
		for k := range e.Xattrs {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			b = appendString(b, k)
			b = appendString(b, e.Xattrs[k])
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

// UnmarshalBinary decodes the snapshot file format. Any malformed input
// gives an error wrapping ErrBadSnapshot.
func (s *Snapshot) UnmarshalBinary(data []byte) error {
	if len(data) < len(snapshotMagic)+1+4 || !bytes.HasPrefix(data, []byte(snapshotMagic)) {
		return fmt.Errorf("%w: not an ocikit snapshot", ErrBadSnapshot)
	}
	if v := data[len(snapshotMagic)]; v != snapshotVersion {
		return fmt.Errorf("%w: unsupported version %d", ErrBadSnapshot, v)
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return fmt.Errorf("%w: checksum mismatch (truncated or damaged)", ErrBadSnapshot)
	}
	d := decoder{b: body[len(snapshotMagic)+1:]}
	var hdr snapshotHeader
	if err := json.Unmarshal(d.bytes(), &hdr); err != nil && d.err == nil {
		d.err = fmt.Errorf("header: %v", err)
	}
	n := d.uvarint()
	// Every entry takes at least 13 bytes: a bound before allocating.
	if d.err == nil && n > uint64(len(d.b))/13 {
		d.fail("entry count %d exceeds the data", n)
	}
	var entries []Entry
	if d.err == nil {
		entries = make([]Entry, 0, n)
	}
	prev := ""
	for i := uint64(0); i < n && d.err == nil; i++ {
		var e Entry
		shared := d.uvarint()
		suffix := d.string()
		if shared > uint64(len(prev)) {
			d.fail("entry %d: bad path prefix", i)
			break
		}
		e.Path = prev[:shared] + suffix
		prev = e.Path
		e.Mode = d.uint32()
		e.UID = d.uint32()
		e.GID = d.uint32()
		e.Size = d.varint()
		e.Mtime = d.varint()
		e.Ctime = d.varint()
		e.Ino = d.uvarint()
		e.Btime = d.varint()
		e.Rdev = d.uvarint()
		e.Link = d.string()
		nx := d.uvarint()
		if nx > uint64(len(d.b))/2 {
			d.fail("entry %d: xattr count %d exceeds the data", i, nx)
			break
		}
		for j := uint64(0); j < nx && d.err == nil; j++ {
			if e.Xattrs == nil {
				e.Xattrs = make(map[string]string, nx)
			}
			k := d.string()
			e.Xattrs[k] = d.string()
		}
		if d.err == nil && (e.Path == "" || e.Path != path.Clean(e.Path) || !isLocal(e.Path)) {
			d.fail("entry %d: invalid path %q", i, e.Path)
		}
		entries = append(entries, e)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return fmt.Errorf("%w: %v", ErrBadSnapshot, d.err)
	}
	s.Layout, s.Source, s.Entries = hdr.Layout, hdr.Source, entries
	return nil
}

// isLocal reports whether a slash path stays below its root.
func isLocal(p string) bool {
	return !path.IsAbs(p) && p != ".." && !hasDotDotPrefix(p)
}

func hasDotDotPrefix(p string) bool { return len(p) >= 3 && p[:3] == "../" }

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

func appendBytes(b, v []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(v))), v...)
}

func appendString(b []byte, v string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(v))), v...)
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("truncated number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("truncated number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uint32() uint32 {
	v := d.uvarint()
	if v > 1<<32-1 {
		d.fail("value %d out of range", v)
	}
	return uint32(v)
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail("truncated string")
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string { return string(d.bytes()) }
