package validate

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Severity tells whether a problem makes the input invalid.
type Severity int

const (
	// Error: the input breaks a MUST of the specification (or cannot be
	// checked at all, such as a blob that is missing or unreadable).
	Error Severity = iota
	// Warning: the input breaks a SHOULD, uses a deprecated or unknown
	// value the specification tells consumers to tolerate, or could not be
	// fully verified. Warnings do not make a report invalid.
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// MarshalText writes the severity as "error" or "warning".
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads "error" or "warning".
func (s *Severity) UnmarshalText(b []byte) error {
	switch string(b) {
	case "error":
		*s = Error
	case "warning":
		*s = Warning
	default:
		return fmt.Errorf("validate: unknown severity %q", b)
	}
	return nil
}

// Problem is one finding. Path locates it in the graph of documents, from
// the file the walk started at: "index.json → manifests[0] → layers[2]"
// reads "the layers[2] descriptor of the manifest that manifests[0] of
// index.json points to". Within one document, fields are joined with dots.
type Problem struct {
	Severity Severity `json:"severity"`
	Path     string   `json:"path"`
	// File is the file whose content is at fault, relative to the layout
	// ("index.json", "blobs/sha256/…"); empty for a document validated on
	// its own.
	File    string `json:"file,omitempty"`
	Message string `json:"message"`
	// Clause names the rule broken: the image-spec file and section
	// ("descriptor.md#properties").
	Clause string `json:"clause,omitempty"`
}

// Error formats the problem as one line: "PATH: MESSAGE (CLAUSE)".
func (p Problem) Error() string {
	var b strings.Builder
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	if p.Clause != "" {
		b.WriteString(" (")
		b.WriteString(p.Clause)
		b.WriteString(")")
	}
	return b.String()
}

// Counts says how much was checked.
type Counts struct {
	Indexes   int   `json:"indexes"`
	Manifests int   `json:"manifests"`
	Configs   int   `json:"configs"`
	Layers    int   `json:"layers"`
	Blobs     int   `json:"blobs"`     // distinct blobs read and verified
	Bytes     int64 `json:"bytes"`     // bytes hashed
	Tags      int   `json:"tags"`      // index.json entries with a ref.name
	Documents int   `json:"documents"` // JSON documents schema-checked
}

// Report is the result of a validation: every problem found, in the order
// the walk met them.
type Report struct {
	Target   string    `json:"target"`
	Valid    bool      `json:"valid"`
	Errors   int       `json:"errors"`
	Warnings int       `json:"warnings"`
	Checked  Counts    `json:"checked"`
	Problems []Problem `json:"problems"`
}

func newReport(target string) *Report {
	return &Report{Target: target, Valid: true, Problems: []Problem{}}
}

func (r *Report) add(p Problem) {
	r.Problems = append(r.Problems, p)
	if p.Severity == Error {
		r.Errors++
		r.Valid = false
	} else {
		r.Warnings++
	}
}

// Err returns nil when the report holds no error, otherwise the errors
// joined (errors.Join), one line each. Warnings are left out.
func (r *Report) Err() error {
	var errs []error
	for _, p := range r.Problems {
		if p.Severity == Error {
			errs = append(errs, p)
		}
	}
	return errors.Join(errs...)
}

// Summary is a one-line verdict: "TARGET: valid (…)" or "TARGET: invalid:
// 3 errors, 1 warning (…)".
func (r *Report) Summary() string {
	var what []string
	c := r.Checked
	for _, n := range []struct {
		n    int
		name string
	}{{c.Tags, "tag"}, {c.Indexes, "index"}, {c.Manifests, "manifest"}, {c.Configs, "config"}, {c.Layers, "layer"}, {c.Blobs, "blob"}} {
		if n.n > 0 {
			what = append(what, plural(n.n, n.name))
		}
	}
	checked := ""
	if len(what) > 0 {
		checked = " (" + strings.Join(what, ", ") + " checked)"
	}
	if r.Valid {
		if r.Warnings > 0 {
			return fmt.Sprintf("%s: valid, %s%s", r.Target, plural(r.Warnings, "warning"), checked)
		}
		return fmt.Sprintf("%s: valid%s", r.Target, checked)
	}
	s := fmt.Sprintf("%s: invalid: %s", r.Target, plural(r.Errors, "error"))
	if r.Warnings > 0 {
		s += ", " + plural(r.Warnings, "warning")
	}
	return s + checked
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	switch {
	case strings.HasSuffix(word, "x"):
		word += "es"
	case strings.HasSuffix(word, "y"):
		word = word[:len(word)-1] + "ies"
	default:
		word += "s"
	}
	return strconv.Itoa(n) + " " + word
}

// loc is a position in the walk: segments joined by " → ", each a field
// path inside the document the previous segment's descriptor points to.
// The first segment names the file the walk started at. A loc is a value;
// every method returns a new one.
type loc struct {
	segs []string
	// fresh: the last hop followed a descriptor, so the next field starts
	// a new segment.
	fresh bool
}

func rootLoc(name string) loc {
	if name == "" {
		return loc{fresh: true}
	}
	return loc{segs: []string{name}, fresh: true}
}

func (l loc) String() string { return strings.Join(l.segs, " → ") }

// field descends into an object member.
func (l loc) field(name string) loc {
	if !isIdent(name) {
		return l.raw("[" + strconv.Quote(name) + "]")
	}
	if l.fresh {
		return l.push(name)
	}
	return l.appendLast("." + name)
}

// index descends into an array element.
func (l loc) index(i int) loc { return l.raw("[" + strconv.Itoa(i) + "]") }

// raw appends text to the current field path (used for [i] and ["key"]).
func (l loc) raw(s string) loc {
	if l.fresh {
		if len(l.segs) == 0 {
			return loc{segs: []string{s}}
		}
		// A bracket right after a file name or a hop: "index.json → [0]"
		// is never produced by the walker, but keep it unambiguous.
		return l.push(s)
	}
	return l.appendLast(s)
}

// enter marks that the walk follows the descriptor at l into its target.
func (l loc) enter() loc {
	segs := append([]string(nil), l.segs...)
	return loc{segs: segs, fresh: true}
}

func (l loc) push(s string) loc {
	segs := make([]string, len(l.segs), len(l.segs)+1)
	copy(segs, l.segs)
	return loc{segs: append(segs, s)}
}

func (l loc) appendLast(s string) loc {
	segs := append([]string(nil), l.segs...)
	segs[len(segs)-1] += s
	return loc{segs: segs}
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}
