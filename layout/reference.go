package layout

import (
	"fmt"
	"strings"

	digest "github.com/opencontainers/go-digest"
)

// DefaultTag is the tag of a reference that names none.
const DefaultTag = "latest"

// validRefName reports whether s follows the grammar of
// org.opencontainers.image.ref.name (annotations.md):
//
//	ref       ::= component ("/" component)*
//	component ::= alphanum (separator alphanum)*
//	alphanum  ::= [A-Za-z0-9]+
//	separator ::= [-._:@+] | "--"
//
// By hand rather than with the regexp it is: compiling that costs a
// command ~0.5 ms of a pull that has nothing to transfer.
func validRefName(s string) bool {
	for {
		comp, rest, more := strings.Cut(s, "/")
		if !validRefComponent(comp) {
			return false
		}
		if !more {
			return true
		}
		s = rest
	}
}

// validRefComponent reports whether c is a component of validRefName.
func validRefComponent(c string) bool {
	for i := 0; ; {
		j := i
		for j < len(c) && isAlnum(c[j]) {
			j++
		}
		switch {
		case j == i: // a component, and what follows a separator, starts alphanumeric
			return false
		case j == len(c):
			return true
		case c[j] == '-' && j+1 < len(c) && c[j+1] == '-':
			i = j + 2 // "--": a single '-' would need an alphanumeric next
		case strings.IndexByte("-._:@+", c[j]) >= 0:
			i = j + 1
		default:
			return false
		}
	}
}

func isAlnum(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
}

// maxTagLen bounds tag names; the grammar has no limit, but a tag is a
// human-sized label and index.json should stay small.
const maxTagLen = 1024

// ValidateTag checks a tag name against the ref grammar of annotations.md
// (ErrInvalidReference).
func ValidateTag(name string) error {
	if name == "" {
		return fmt.Errorf("empty tag: %w", ErrInvalidReference)
	}
	if len(name) > maxTagLen {
		return fmt.Errorf("tag %q: longer than %d bytes: %w", clip(name), maxTagLen, ErrInvalidReference)
	}
	if !validRefName(name) {
		return fmt.Errorf("tag %q: not a valid reference name (letters and digits separated by one of -._:@+ or --, components joined by /): %w", clip(name), ErrInvalidReference)
	}
	return nil
}

// Reference names an image in a layout on disk: DIR:TAG or DIR@DIGEST.
// Exactly one of Tag and Digest is set.
type Reference struct {
	Dir    string
	Tag    string
	Digest digest.Digest
}

// Name is what Resolve and Lookup take: the digest if set, else the tag.
func (r Reference) Name() string {
	if r.Digest != "" {
		return string(r.Digest)
	}
	return r.Tag
}

// String formats r as ParseReference reads it.
func (r Reference) String() string {
	if r.Digest != "" {
		return r.Dir + "@" + string(r.Digest)
	}
	return r.Dir + ":" + r.Tag
}

// ParseReference parses "DIR", "DIR:TAG" or "DIR@ALG:HEX".
//
// How DIR is delimited (as with skopeo's and umoci's oci: references, DIR
// ends at a ':'):
//   - Digest form: when the text after the LAST '@' has no '/' (the '@' is
//     in the last path element) and no ':' comes before that '@', the text
//     after it must be a digest (ErrInvalidDigest, ErrUnsupportedDigest)
//     and DIR is everything before it: "oci@sha256:...".
//   - Tag form otherwise: DIR ends at the FIRST ':' and the rest is the
//     tag, which may itself contain ':', '@' and '/' as the ref grammar
//     allows ("oci:v1.0:debug" is tag "v1.0:debug"). Without ':' the tag
//     is "latest".
//
// So a DIR containing ':' cannot be named (use a relative path or a
// symbolic link), and a DIR whose last element contains '@' needs a
// trailing slash: "./a@b/:v1". ParseReference does not touch the file
// system; String gives back a string that parses to the same Reference.
func ParseReference(s string) (Reference, error) {
	if s == "" {
		return Reference{}, fmt.Errorf("empty image reference: %w", ErrInvalidReference)
	}
	if j := strings.LastIndexByte(s, '@'); j >= 0 {
		dir, rest := s[:j], s[j+1:]
		if !strings.Contains(rest, "/") && !strings.Contains(dir, ":") {
			if dir == "" {
				return Reference{}, fmt.Errorf("image reference %q: no layout directory before '@': %w", clip(s), ErrInvalidReference)
			}
			d := digest.Digest(rest)
			if err := CheckDigest(d); err != nil {
				return Reference{}, fmt.Errorf("image reference %q: %w", clip(s), err)
			}
			return Reference{Dir: dir, Digest: d}, nil
		}
	}
	dir, tag, found := strings.Cut(s, ":")
	if dir == "" {
		return Reference{}, fmt.Errorf("image reference %q: no layout directory before ':': %w", clip(s), ErrInvalidReference)
	}
	if !found {
		return Reference{Dir: dir, Tag: DefaultTag}, nil
	}
	if err := ValidateTag(tag); err != nil {
		return Reference{}, fmt.Errorf("image reference %q: %w", clip(s), err)
	}
	return Reference{Dir: dir, Tag: tag}, nil
}
