package layout

import (
	"math/rand/v2"
	"regexp"
	"testing"
)

// TestGrammarsMatchRegexps: validRefName and validVersion accept exactly
// what the regexps of their grammars accept, on hand-picked edge cases and
// on random strings over the grammars' alphabet.
func TestGrammarsMatchRegexps(t *testing.T) {
	refRE := regexp.MustCompile(`^[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*(?:/[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*)*$`)
	verRE := regexp.MustCompile(`^1\.0\.[0-9]+$`)
	cases := []string{
		"", "a", "v1", "latest", "a-b", "a--b", "a---b", "a-", "-a", "a.b", "a..b", "a/b", "a//b", "/a", "a/",
		"a:b@c+d_e.f", "a-.b", "a--", "--a", "A9/z0--Y", "é", "a b", "a/-b", "a/b--c/d.e",
		"1.0.0", "1.0.", "1.0.12", "1.0.1a", "1.1.0", "01.0.0", "1.0.0.0", "1.0",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "aZ09-._:@+/1"
	for range 200_000 {
		b := make([]byte, rng.IntN(9))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		cases = append(cases, string(b), "1.0."+string(b))
	}
	for _, s := range cases {
		if got, want := validRefName(s), refRE.MatchString(s); got != want {
			t.Errorf("validRefName(%q) = %v, regexp says %v", s, got, want)
		}
		if got, want := validVersion(s), verRE.MatchString(s); got != want {
			t.Errorf("validVersion(%q) = %v, regexp says %v", s, got, want)
		}
	}
}
