package registry

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// The grammars as distribution-spec writes them (spec.md#pulling-manifests).
var (
	specRepoRE = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)
	specTagRE  = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
)

// TestNamesMatchSpecRegexps: the hand-written repository and tag checks
// accept exactly what the spec's regexps accept, on a table of edge cases
// and on random strings over the characters that matter.
func TestNamesMatchSpecRegexps(t *testing.T) {
	cases := []string{
		"", "a", "a/b", "a//b", "/a", "a/", "a.b", "a..b", "a_b", "a__b", "a___b", "a-b", "a--b", "a---b",
		"a-.b", "a.-b", "a_-b", ".a", "a.", "-a", "a-", "_a", "a_", "A", "aB", "a/b.c/d__e/f---g",
		"0", "9x/y0", "a b", "a:b", "a@b", strings.Repeat("a", 300),
		"v1", "latest", "_x", ".x", "-x", "x.", "x-", "V1.2_3-rc", strings.Repeat("t", 128), strings.Repeat("t", 129),
	}
	alpha := []byte("ab0_.-/A:")
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		b := make([]byte, rng.IntN(9))
		for j := range b {
			b[j] = alpha[rng.IntN(len(alpha))]
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		if got, want := validRepository(s), specRepoRE.MatchString(s); got != want {
			t.Errorf("validRepository(%q) = %v, the spec's regexp says %v", s, got, want)
		}
		if got, want := validTag(s), specTagRE.MatchString(s); got != want {
			t.Errorf("validTag(%q) = %v, the spec's regexp says %v", s, got, want)
		}
	}
}

func FuzzNames(f *testing.F) {
	for _, s := range []string{"a/b", "a__b-c.d", "v1.0", "-x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validRepository(s), specRepoRE.MatchString(s); got != want {
			t.Errorf("validRepository(%q) = %v, the spec's regexp says %v", s, got, want)
		}
		if got, want := validTag(s), specTagRE.MatchString(s); got != want {
			t.Errorf("validTag(%q) = %v, the spec's regexp says %v", s, got, want)
		}
	})
}
