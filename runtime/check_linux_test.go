package runtime

import (
	"regexp"
	"testing"
)

// The id check is hand-written so that no regexp compiles at package
// initialization; it must accept exactly what runc's expression accepts.
// (The ociVersion check is runtime/rules' SemVer, tested there.)
func TestValidID(t *testing.T) {
	idRE := regexp.MustCompile(`^[\w+\-.]+$`)
	tests := []struct {
		in     string
		validI bool
	}{
		{"1.0.0", true},
		{"1.3.0", true},
		{"1.0.2-dev", true},
		{"1.2.0-rc.1+build.5", true},
		{"1.10.20+meta", true},
		{"1.0.0-", true},
		{"1.0.0+", true},
		{"1.0.0-a+", true},
		{"1.0.0-a_b", true},
		{"1.01.0", true},
		{"1.0.01", true},
		{"1.0", true},
		{"1.0.", true},
		{"1..0", true},
		{"2.0.0", true},
		{"01.0.0", true},
		{"v1.0.0", true},
		{"1.0.0 ", false},
		{"", false},
		{"a/b", false},
		{"my_container-1", true},
		{"é", false},
		{"x\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got, want := validID(tt.in), idRE.MatchString(tt.in); got != want || got != tt.validI {
				t.Errorf("validID(%q) = %v, regexp %v, want %v", tt.in, got, want, tt.validI)
			}
		})
	}
}
