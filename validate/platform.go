package validate

import (
	"regexp"
	"strings"
	"sync"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// knownOS and knownArch are the GOOS and GOARCH values Go documents (the
// lists of go/build's syslist.go), which config.md and image-index.md tell
// images to use. Unknown values are warnings: the clauses are SHOULDs.
var knownOS = setOf("aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js",
	"linux", "nacl", "netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows", "zos")

var knownArch = setOf("386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "loong64", "mips",
	"mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc", "ppc64", "ppc64le", "riscv", "riscv64",
	"s390", "s390x", "sparc", "sparc64", "wasm")

// knownVariants follows image-index.md#platform-variants: the table's
// values and the open-ended series its "…" stands for (the Go analogs
// GOARM, GOARM64, GOPPC64, GORISCV64, GOAMD64).
var knownVariants = map[string]func() *regexp.Regexp{
	"arm":     lazyRegexp(`^v[5-8]$`),
	"arm64":   lazyRegexp(`^v(8|9)(\.[0-9])?$`),
	"ppc64le": lazyRegexp(`^power(8|9|10)$`),
	"ppc64":   lazyRegexp(`^power(8|9|10)$`),
	"riscv64": lazyRegexp(`^rva2[0-9]u64$`),
	"amd64":   lazyRegexp(`^v[1-4]$`),
}

// lazyRegexp compiles expr on first use: this package is linked into every
// ocikit process (the runtime's create, start and init included), and most
// of them never validate.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

func setOf(vals ...string) map[string]bool {
	m := make(map[string]bool, len(vals))
	for _, v := range vals {
		m[v] = true
	}
	return m
}

// checkPlatform checks the platform fields shared by index descriptors and
// image configs. clause is where the caller's document defines them.
func (c *checker) checkPlatform(l loc, file, clause string, p v1.Platform) {
	switch {
	case p.OS == "":
		c.errorf(l.field("os"), file, clause, "os is empty")
	case !knownOS[p.OS]:
		c.warnf(l.field("os"), file, clause, "os %q is not a GOOS value", p.OS)
	}
	switch {
	case p.Architecture == "":
		c.errorf(l.field("architecture"), file, clause, "architecture is empty")
	case !knownArch[p.Architecture]:
		c.warnf(l.field("architecture"), file, clause, "architecture %q is not a GOARCH value", p.Architecture)
	}
	if p.Variant != "" {
		if re, ok := knownVariants[p.Architecture]; ok && !re().MatchString(p.Variant) {
			c.warnf(l.field("variant"), file, clauseVariants, "variant %q is not a known variant of %s", p.Variant, p.Architecture)
		} else if !ok && knownArch[p.Architecture] {
			c.warnf(l.field("variant"), file, clauseVariants, "variant %q given for %s, which has no variants in the table", p.Variant, p.Architecture)
		}
	}
	if p.OS == "windows" {
		for i, f := range p.OSFeatures {
			if f != "win32k" {
				c.warnf(l.field("os.features").index(i), file, clause, "os.features value %q is not defined for windows (known: win32k)", f)
			}
		}
	}
}

// samePlatform compares the fields a runtime selects on.
func samePlatform(a, b v1.Platform) bool {
	return a.OS == b.OS && a.Architecture == b.Architecture && strings.TrimSpace(a.Variant) == strings.TrimSpace(b.Variant)
}

func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}
