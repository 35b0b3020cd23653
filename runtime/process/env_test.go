package process

import (
	"slices"
	"testing"
)

// TestEnviron checks process.env against what runc 1.1.5 gives a
// container's program (measured with runc run and runc exec here).
func TestEnviron(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		want []string
	}{
		{"runc spec", []string{"PATH=/bin", "TERM=xterm"}, []string{"PATH=/bin", "TERM=xterm", "HOME=/home/u"}},
		{"last value, first place", []string{"PATH=/bin", "A=1", "B=2", "A=3", "D=", "D=x"}, []string{"PATH=/bin", "A=3", "B=2", "D=x", "HOME=/home/u"}},
		{"HOME kept", []string{"HOME=/x", "PATH=/bin"}, []string{"HOME=/x", "PATH=/bin"}},
		{"empty HOME filled in place", []string{"PATH=/bin", "HOME=", "A=1"}, []string{"PATH=/bin", "HOME=/home/u", "A=1"}},
		{"HOME set twice", []string{"HOME=/a", "HOME="}, []string{"HOME=/home/u"}},
		{"empty HOME then set", []string{"HOME=", "HOME=/b"}, []string{"HOME=/b"}},
		{"no env", nil, []string{"HOME=/home/u"}},
		{"entry without =", []string{"X", "Y", "X", "X=1"}, []string{"X=1", "Y", "HOME=/home/u"}},
		{"prefix names differ", []string{"AB=1", "A=2", "AB=3"}, []string{"AB=3", "A=2", "HOME=/home/u"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.env)
			got := Environ(tc.env, func() string { return "/home/u" })
			if !slices.Equal(got, tc.want) {
				t.Errorf("Environ(%q) = %q, want %q", tc.env, got, tc.want)
			}
			if !slices.Equal(in, tc.env) {
				t.Errorf("Environ changed its argument to %q", tc.env)
			}
		})
	}
}

func TestEnvironHomeOnlyWhenNeeded(t *testing.T) {
	Environ([]string{"HOME=/x"}, func() string {
		t.Error("home looked up although HOME is set")
		return ""
	})
}
