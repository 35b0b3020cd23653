package registry

import "strings"

// challenge is one challenge of a WWW-Authenticate header (RFC 9110
// section 11.6.1): a scheme, lowercased, and its auth-params, names
// lowercased.
type challenge struct {
	scheme string
	params map[string]string
}

// maxChallengeLen bounds the header parseChallenges reads.
const maxChallengeLen = 16 << 10

// parseChallenges parses a WWW-Authenticate header value:
//
//	challenge  = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//	auth-param = token BWS "=" BWS ( token / quoted-string )
//
// several challenges separated by commas. It is lenient where registries
// are (it skips what it cannot read) and never fails: what is not
// understood is simply not there, and the caller then finds no usable
// scheme.
func parseChallenges(h string) []challenge {
	if len(h) > maxChallengeLen {
		h = h[:maxChallengeLen]
	}
	var out []challenge
	p := &parser{s: h}
	for {
		p.skip(" \t,")
		if p.eof() {
			return out
		}
		scheme := p.token()
		if scheme == "" {
			p.i++ // not a token character: skip it
			continue
		}
		c := challenge{scheme: strings.ToLower(scheme), params: map[string]string{}}
		// auth-params until the next challenge: a token not followed by '='.
		for {
			p.skip(" \t,")
			save := p.i
			name := p.token()
			if name == "" {
				if !p.eof() && p.s[p.i] != ',' {
					p.i++ // junk
					continue
				}
				break
			}
			p.skip(" \t")
			if p.eof() || p.s[p.i] != '=' {
				p.i = save // the next challenge's scheme
				break
			}
			p.i++
			p.skip(" \t")
			var val string
			if !p.eof() && p.s[p.i] == '"' {
				val = p.quoted()
			} else {
				val = p.token()
				// token68 ends with '='s
				for !p.eof() && p.s[p.i] == '=' {
					p.i++
				}
			}
			c.params[strings.ToLower(name)] = val
		}
		out = append(out, c)
	}
}

type parser struct {
	s string
	i int
}

func (p *parser) eof() bool { return p.i >= len(p.s) }

func (p *parser) skip(set string) {
	for !p.eof() && strings.IndexByte(set, p.s[p.i]) >= 0 {
		p.i++
	}
}

// token reads RFC 9110 tchar (and token68's '/' ... characters but '=').
func (p *parser) token() string {
	start := p.i
	for !p.eof() && isTokenChar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~/:", c) >= 0
}

// quoted reads a quoted-string starting at '"', undoing backslash escapes;
// an unterminated one ends at the end of the header.
func (p *parser) quoted() string {
	p.i++
	var b strings.Builder
	for !p.eof() {
		c := p.s[p.i]
		p.i++
		switch c {
		case '"':
			return b.String()
		case '\\':
			if !p.eof() {
				b.WriteByte(p.s[p.i])
				p.i++
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
