// Package platform parses, formats and matches the platforms of image-spec
// (image-index.md "platform": os, architecture, variant), so every image
// source chooses among an index's manifests by the same rules.
//
// What it promises: Parse accepts exactly what Format writes (for valid
// parts) and wraps errdefs.ErrInvalid otherwise; Match and Rank are pure
// functions of their arguments; Host reads nothing but the CPU description
// of a 32-bit ARM Linux host.
package platform

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/ocikit/ocikit/errdefs"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Host is this host's platform, the one image sources choose by default:
// runtime.GOOS and runtime.GOARCH; on arm the variant is the CPU's (from
// /proc/cpuinfo on Linux, else v7), on arm64 it is v8.
func Host() v1.Platform {
	p := v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	switch runtime.GOARCH {
	case "arm":
		p.Variant = armVariant()
	case "arm64":
		p.Variant = "v8"
	}
	return p
}

// Parse parses "os/arch" or "os/arch/variant", each part of letters,
// digits, '.', '_' and '-'. Anything else wraps errdefs.ErrInvalid.
func Parse(s string) (v1.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return v1.Platform{}, fmt.Errorf("platform %q: want os/arch[/variant]: %w", clip(s), errdefs.ErrInvalid)
	}
	for _, p := range parts {
		if !validPart(p) {
			return v1.Platform{}, fmt.Errorf("platform %q: want os/arch[/variant] of letters, digits, '.', '_' and '-': %w", clip(s), errdefs.ErrInvalid)
		}
	}
	p := v1.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

func validPart(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Format writes p as Parse reads it: "os/arch" or "os/arch/variant".
func Format(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Match reports whether an image for have runs on want (Rank >= 0).
func Match(have, want v1.Platform) bool { return Rank(have, want) >= 0 }

// Rank says how well an image for have suits want: -1 not at all, 0
// exactly, n > 0 as a fallback (lower is better), so that a source can
// take the best-ranked entry of an index and, among equals, the first
// (image-index.md: "the first matching entry SHOULD be used").
//
// OS and architecture must match, after mapping the common aliases
// (x86_64 and x86-64 are amd64, aarch64 is arm64, armhf and armel are arm).
// A want without variant takes any variant. Variants are ordered where the
// CPUs are backward compatible (image-index.md#platform-variants): an arm
// v7 host runs v6 and v5 images, an amd64 v3 host runs v2 and v1 ones. An
// absent variant means v8 on arm64, v7 on arm and v1 on amd64, as
// containerd reads them. os.version and os.features are not compared.
func Rank(have, want v1.Platform) int {
	if have.OS != want.OS {
		return -1
	}
	arch := normArch(want.Architecture)
	if normArch(have.Architecture) != arch {
		return -1
	}
	if want.Variant == "" {
		return 0
	}
	hv, wv := normVariant(arch, have.Variant), normVariant(arch, want.Variant)
	if hv == wv {
		return 0
	}
	if arch == "arm" || arch == "amd64" {
		h, okh := variantLevel(hv)
		w, okw := variantLevel(wv)
		if okh && okw && h < w {
			return w - h
		}
	}
	return -1
}

func normArch(a string) string {
	switch a {
	case "x86_64", "x86-64":
		return "amd64"
	case "aarch64":
		return "arm64"
	case "armhf", "armel":
		return "arm"
	}
	return a
}

func normVariant(arch, v string) string {
	if v != "" {
		return v
	}
	switch arch {
	case "arm64":
		return "v8"
	case "arm":
		return "v7"
	case "amd64":
		return "v1"
	}
	return ""
}

// variantLevel reads "v7" as 7.
func variantLevel(v string) (int, bool) {
	if len(v) < 2 || len(v) > 3 || v[0] != 'v' {
		return 0, false
	}
	n := 0
	for _, c := range v[1:] {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// clip shortens attacker-sized strings quoted in error messages.
func clip(s string) string {
	if len(s) > 140 {
		return s[:140] + "..."
	}
	return s
}
