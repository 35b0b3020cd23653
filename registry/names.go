package registry

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/ocikit/ocikit/errdefs"
)

// The grammars of distribution-spec (spec.md#pulling-manifests): a
// repository <name>
//
//	[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
//
// and a tag <reference> [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}, checked by hand
// rather than with regexps: compiling them was a tenth of the CPU of a
// copy that finds everything in place (TestNamesMatchSpecRegexps keeps
// the two in step).

// validRepository reports whether repo matches the <name> grammar.
func validRepository(repo string) bool {
	for _, c := range strings.Split(repo, "/") {
		if !validComponent(c) {
			return false
		}
	}
	return true
}

// validComponent: runs of [a-z0-9] joined by ".", "_", "__" or "-"+.
func validComponent(c string) bool {
	for i := 0; ; {
		j := i
		for j < len(c) && isLowerAlnum(c[j]) {
			j++
		}
		if j == i {
			return false // empty, or a separator first or twice
		}
		if j == len(c) {
			return true
		}
		k := j
		for k < len(c) && !isLowerAlnum(c[k]) {
			k++
		}
		if sep := c[j:k]; sep != "." && sep != "_" && sep != "__" && strings.Trim(sep, "-") != "" {
			return false
		}
		i = k
	}
}

func isLowerAlnum(b byte) bool { return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' }

// validTag reports whether tag matches the <reference> grammar of a tag.
func validTag(tag string) bool {
	if len(tag) == 0 || len(tag) > 128 || tag[0] == '.' || tag[0] == '-' {
		return false
	}
	for i := 0; i < len(tag); i++ {
		b := tag[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '.' || b == '-') {
			return false
		}
	}
	return true
}

// maxNameLen bounds HOST/REPO, as docker's reference grammar does.
const maxNameLen = 255

// ValidateRepository checks a repository name against distribution-spec's
// <name> grammar (errdefs.ErrInvalid).
func ValidateRepository(repo string) error {
	if len(repo) > maxNameLen || !validRepository(repo) {
		return fmt.Errorf("repository %q: want lowercase components [a-z0-9] separated by . _ __ or -, joined by /: %w", clip(repo), errdefs.ErrInvalid)
	}
	return nil
}

// ValidateTag checks a tag against distribution-spec's grammar
// [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127} (errdefs.ErrInvalid).
func ValidateTag(tag string) error {
	if !validTag(tag) {
		return fmt.Errorf("tag %q: want [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}: %w", clip(tag), errdefs.ErrInvalid)
	}
	return nil
}

// ValidateHost checks HOST[:PORT]: a DNS name, an IPv4 address or a
// bracketed IPv6 address, and a port 1-65535 (errdefs.ErrInvalid).
func ValidateHost(hostport string) error {
	bad := func(why string) error {
		return fmt.Errorf("registry host %q: %s: %w", clip(hostport), why, errdefs.ErrInvalid)
	}
	host := hostport
	if strings.HasPrefix(hostport, "[") || strings.Count(hostport, ":") == 1 {
		h, port, err := net.SplitHostPort(hostport)
		if strings.HasPrefix(hostport, "[") && err != nil && strings.HasSuffix(hostport, "]") {
			h, port, err = strings.Trim(hostport, "[]"), "", nil
		}
		if err != nil {
			return bad("malformed")
		}
		if port != "" {
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' {
				return bad("bad port")
			}
		}
		if strings.HasPrefix(hostport, "[") {
			if ip := net.ParseIP(h); ip == nil || ip.To4() != nil {
				return bad("bad IPv6 address")
			}
			return nil
		}
		host = h
	}
	if host == "" || len(host) > 253 {
		return bad("empty or too long")
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return bad("bad name")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return bad("bad name")
			}
		}
	}
	return nil
}

// isLoopback reports whether host (HOST[:PORT]) is this machine: plain
// HTTP is allowed there without asking (as docker and podman treat
// localhost).
func isLoopback(hostport string) bool {
	h := hostport
	if sh, _, err := net.SplitHostPort(hostport); err == nil {
		h = sh
	}
	h = strings.Trim(h, "[]")
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// clip shortens attacker-sized strings quoted in error messages, and
// keeps them on one line.
func clip(s string) string {
	if len(s) > 140 {
		s = s[:140] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
