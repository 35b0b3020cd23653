package layer

import "strings"

// Whiteout names, layer.md "Whiteouts".
const (
	whiteoutPrefix = ".wh."
	// whiteoutOpaque marks its directory opaque: every child from a lower
	// layer is hidden (layer.md "Opaque Whiteout").
	whiteoutOpaque = ".wh..wh..opq"
	// whiteoutMeta prefixes AUFS bookkeeping entries (".wh..wh.plnk",
	// ".wh..wh.aufs"), which carry no meaning for an OCI changeset.
	whiteoutMeta = ".wh..wh."
)

type whiteoutKind uint8

const (
	notWhiteout       whiteoutKind = iota
	whiteoutExplicit               // ".wh.NAME": remove NAME
	whiteoutDirOpaque              // ".wh..wh..opq": hide the directory's lower children
	whiteoutIgnored                // AUFS metadata: skip
)

// parseWhiteout classifies the base name of a tar entry. For an explicit
// whiteout it returns the name of the sibling to remove, which is never
// empty, ".", ".." nor contains a slash: such names are refused with
// ErrUnsafePath because they would name the directory itself, its parent or
// something below a sibling.
func parseWhiteout(base string) (whiteoutKind, string, error) {
	if !strings.HasPrefix(base, whiteoutPrefix) {
		return notWhiteout, "", nil
	}
	if base == whiteoutOpaque {
		return whiteoutDirOpaque, "", nil
	}
	if strings.HasPrefix(base, whiteoutMeta) {
		return whiteoutIgnored, "", nil
	}
	target := base[len(whiteoutPrefix):]
	if target == "" || target == "." || target == ".." || strings.ContainsAny(target, "/\x00") {
		return notWhiteout, "", ErrUnsafePath
	}
	return whiteoutExplicit, target, nil
}
