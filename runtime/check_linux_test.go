package runtime

import (
	"regexp"
	"testing"
)

// The version and id checks are hand-written so that no regexp compiles at
// package initialization; they must accept exactly what the expressions
// they replace accept.
func TestValidVersionAndID(t *testing.T) {
	versionRE := regexp.MustCompile(`^1\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
	idRE := regexp.MustCompile(`^[\w+\-.]+$`)
	tests := []struct {
		in              string
		version, validI bool
	}{
		{"1.0.0", true, true},
		{"1.3.0", true, true},
		{"1.0.2-dev", true, true},
		{"1.2.0-rc.1+build.5", true, true},
		{"1.10.20+meta", true, true},
		{"1.0.0-", false, true},
		{"1.0.0+", false, true},
		{"1.0.0-a+", false, true},
		{"1.0.0-a_b", false, true},
		{"1.01.0", false, true},
		{"1.0.01", false, true},
		{"1.0", false, true},
		{"1.0.", false, true},
		{"1..0", false, true},
		{"2.0.0", false, true},
		{"01.0.0", false, true},
		{"v1.0.0", false, true},
		{"1.0.0 ", false, false},
		{"", false, false},
		{"a/b", false, false},
		{"my_container-1", false, true},
		{"é", false, false},
		{"x\n", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got, want := validVersion(tt.in), versionRE.MatchString(tt.in); got != want || got != tt.version {
				t.Errorf("validVersion(%q) = %v, regexp %v, want %v", tt.in, got, want, tt.version)
			}
			if got, want := validID(tt.in), idRE.MatchString(tt.in); got != want || got != tt.validI {
				t.Errorf("validID(%q) = %v, regexp %v, want %v", tt.in, got, want, tt.validI)
			}
		})
	}
}
