package layer

import (
	"errors"
	"strings"
	"testing"
)

func TestParseWhiteout(t *testing.T) {
	tests := []struct {
		base   string
		kind   whiteoutKind
		target string
		err    error
	}{
		{"file", notWhiteout, "", nil},
		{".whfile", notWhiteout, "", nil},
		{".wh.file", whiteoutExplicit, "file", nil},
		{".wh..hidden", whiteoutExplicit, ".hidden", nil},
		{".wh..wh..opq", whiteoutDirOpaque, "", nil},
		{".wh..wh.plnk", whiteoutIgnored, "", nil},
		{".wh.", notWhiteout, "", ErrUnsafePath},
		{".wh..", notWhiteout, "", ErrUnsafePath},
		{".wh...", notWhiteout, "", ErrUnsafePath},
	}
	for _, tc := range tests {
		t.Run(tc.base, func(t *testing.T) {
			kind, target, err := parseWhiteout(tc.base)
			if kind != tc.kind || target != tc.target || !errors.Is(err, tc.err) {
				t.Errorf("parseWhiteout(%q) = %v %q %v, want %v %q %v", tc.base, kind, target, err, tc.kind, tc.target, tc.err)
			}
		})
	}
}

func TestCleanName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"./", ""}, {".", ""}, {"/", ""}, {"a/b/", "a/b"}, {"./a//b/./c", "a/b/c"},
		{"/etc/passwd", "etc/passwd"}, {"a/../b", "b"}, {"//x", "x"},
	}
	for _, tc := range tests {
		if got, err := cleanName(tc.in); err != nil || got != tc.want {
			t.Errorf("cleanName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"..", "../x", "a/../../x", "/../x", "a\x00b"} {
		if _, err := cleanName(bad); !errors.Is(err, ErrUnsafePath) {
			t.Errorf("cleanName(%q) err = %v, want ErrUnsafePath", bad, err)
		}
	}
}

// FuzzWhiteoutName checks the invariants the applier relies on: a clean
// name never leaves the root nor has "." or ".." components, and a
// whiteout target is a plain sibling name.
func FuzzWhiteoutName(f *testing.F) {
	for _, s := range []string{".wh.file", ".wh..wh..opq", "a/.wh..", "../.wh.x", "/a/./b/../.wh.c", ".wh..wh.", "x/.wh./"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		rel, err := cleanName(name)
		if err != nil {
			if !errors.Is(err, ErrUnsafePath) {
				t.Fatalf("cleanName(%q): unexpected error %v", name, err)
			}
			return
		}
		if strings.HasPrefix(rel, "/") || strings.Contains(rel, "//") || strings.ContainsRune(rel, 0) {
			t.Fatalf("cleanName(%q) = %q", name, rel)
		}
		for _, c := range strings.Split(rel, "/") {
			if rel != "" && (c == "" || c == "." || c == "..") {
				t.Fatalf("cleanName(%q) = %q has component %q", name, rel, c)
			}
		}
		if rel == "" {
			return
		}
		parent, base := splitRel(rel)
		if joinRel(parent, base) != rel {
			t.Fatalf("split/join of %q gives %q", rel, joinRel(parent, base))
		}
		kind, target, err := parseWhiteout(base)
		if err != nil {
			return
		}
		if kind == whiteoutExplicit {
			if target == "" || target == "." || target == ".." || strings.ContainsAny(target, "/\x00") {
				t.Fatalf("parseWhiteout(%q) target %q", base, target)
			}
			if !strings.HasSuffix(base, target) {
				t.Fatalf("parseWhiteout(%q) target %q is not the hidden name", base, target)
			}
		}
	})
}
