package platform

import (
	"errors"
	"runtime"
	"testing"

	"github.com/ocikit/ocikit/errdefs"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want v1.Platform
		ok   bool
	}{
		{"linux/amd64", v1.Platform{OS: "linux", Architecture: "amd64"}, true},
		{"linux/arm64/v8", v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, true},
		{"windows/amd64", v1.Platform{OS: "windows", Architecture: "amd64"}, true},
		{"linux/x86_64", v1.Platform{OS: "linux", Architecture: "x86_64"}, true},
		{"linux", v1.Platform{}, false},
		{"linux/", v1.Platform{}, false},
		{"/amd64", v1.Platform{}, false},
		{"linux/arm/", v1.Platform{}, false},
		{"linux/arm/v7/x", v1.Platform{}, false},
		{"linux/am d64", v1.Platform{}, false},
		{"linux/amd64:v3", v1.Platform{}, false},
		{"", v1.Platform{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if !tt.ok {
				if !errors.Is(err, errdefs.ErrInvalid) {
					t.Fatalf("Parse(%q) err = %v, want errdefs.ErrInvalid", tt.in, err)
				}
				return
			}
			if err != nil || got.OS != tt.want.OS || got.Architecture != tt.want.Architecture || got.Variant != tt.want.Variant {
				t.Fatalf("Parse(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			if s := Format(got); s != tt.in {
				t.Fatalf("Format = %q, want %q", s, tt.in)
			}
		})
	}
}

func TestRank(t *testing.T) {
	p := func(s string) v1.Platform {
		t.Helper()
		q, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	tests := []struct {
		have, want string
		rank       int
	}{
		{"linux/amd64", "linux/amd64", 0},
		{"linux/amd64", "windows/amd64", -1},
		{"linux/arm64", "linux/amd64", -1},
		{"linux/x86_64", "linux/amd64", 0},
		{"linux/x86-64", "linux/amd64", 0},
		{"linux/amd64", "linux/x86_64", 0},
		{"linux/aarch64", "linux/arm64/v8", 0},
		{"linux/armhf", "linux/arm/v7", 0},
		{"linux/arm64", "linux/arm64/v8", 0}, // absent arm64 variant is v8
		{"linux/arm64/v8", "linux/arm64", 0}, // a want without variant takes any
		{"linux/arm/v5", "linux/arm", 0},     // idem
		{"linux/arm", "linux/arm/v7", 0},     // absent arm variant is v7
		{"linux/arm/v6", "linux/arm/v7", 1},  // v7 runs v6, as a fallback
		{"linux/arm/v5", "linux/arm/v7", 2},  // and v5, a worse one
		{"linux/arm/v7", "linux/arm/v6", -1}, // never newer
		{"linux/amd64/v2", "linux/amd64/v3", 1},
		{"linux/amd64", "linux/amd64/v2", 1}, // absent amd64 variant is v1
		{"linux/amd64/v3", "linux/amd64", 0},
		{"linux/arm64/v9", "linux/arm64/v8", -1}, // arm64 variants are not ordered
		{"linux/arm64", "linux/arm/v7", -1},
		{"linux/riscv64/rva20u64", "linux/riscv64/rva22u64", -1},
	}
	for _, tt := range tests {
		t.Run(tt.have+" on "+tt.want, func(t *testing.T) {
			if got := Rank(p(tt.have), p(tt.want)); got != tt.rank {
				t.Fatalf("Rank = %d, want %d", got, tt.rank)
			}
			if got := Match(p(tt.have), p(tt.want)); got != (tt.rank >= 0) {
				t.Fatalf("Match = %v", got)
			}
		})
	}
}

func TestHost(t *testing.T) {
	h := Host()
	if h.OS != runtime.GOOS || h.Architecture != runtime.GOARCH {
		t.Fatalf("Host() = %+v", h)
	}
	if !Match(h, h) {
		t.Fatalf("the host does not match itself: %+v", h)
	}
	if _, err := Parse(Format(h)); err != nil {
		t.Fatalf("Host() does not format and parse back: %v", err)
	}
}
