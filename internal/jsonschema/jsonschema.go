// Package jsonschema validates decoded JSON documents against JSON Schema
// draft-04 schemas, the draft the image-spec and runtime-spec schemas are
// written in.
//
// It exists so that the ocikit binary pays nothing for schema validation
// until it validates: the package has no package-level state, no init
// function and no regular expression outside a compiled schema. The JSON
// Schema libraries available compile their metaschemas or format
// expressions at package initialisation (gojsonschema: 0.13 MB of heap and
// about 100 page faults in every ocikit process, the container runtime's
// included; santhosh-tekuri/jsonschema and its forks: every draft's
// metaschema).
//
// What it implements: every draft-04 validation keyword (type, enum,
// allOf, anyOf, oneOf, not, definitions and $ref, properties,
// patternProperties, additionalProperties, required, dependencies,
// minProperties, maxProperties, items, additionalItems, minItems,
// maxItems, uniqueItems, minimum, maximum and their exclusive forms,
// multipleOf, minLength, maxLength, pattern) and the formats date-time
// (RFC 3339, section 5.6), uri, ipv4 and ipv6; other formats are not
// checked, as draft-04 section 7.1 allows. Numbers are compared exactly
// (json.Number as big.Rat), so 64-bit bounds hold. References are
// resolved by file name through a Loader, never over a network: the
// specifications' schemas refer to each other by file name, relative to
// "id" URLs that name no reachable document.
package jsonschema

import (
	"encoding/json"
	"fmt"
	"math/big"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// A Loader returns the decoded JSON (numbers as json.Number) of the schema
// file name (the last element of a reference's path, "defs.json").
type Loader func(name string) (any, error)

// Schema is a compiled schema. It is immutable and safe for concurrent use.
type Schema struct{ root *node }

// Kind is the keyword an Error violates.
type Kind int

// The kinds of Error, one per keyword.
const (
	Type Kind = iota
	Enum
	AllOf
	AnyOf
	OneOf
	Not
	Required
	AdditionalProperties
	Dependencies
	MinProperties
	MaxProperties
	AdditionalItems
	MinItems
	MaxItems
	UniqueItems
	Minimum
	ExclusiveMinimum
	Maximum
	ExclusiveMaximum
	MultipleOf
	MinLength
	MaxLength
	Pattern
	Format
)

// Error is one violation.
type Error struct {
	Kind Kind
	// At is the instance's location: JSON pointer tokens (unescaped)
	// below the document's root. A missing or unwanted property is
	// reported at its object.
	At []string
	// Value is the instance at At.
	Value any
	// Property names the missing (Required, Dependencies) or unwanted
	// (AdditionalProperties) property.
	Property string
	// Types are the types wanted (Type); Given the instance's own
	// ("integer" for a number without a fraction).
	Types []string
	Given string
	// Enum holds the values allowed.
	Enum []any
	// Limit is the schema's bound as written (counts, numbers,
	// multipleOf), Pattern the expression, Format the format's name.
	Limit   string
	Pattern string
	Format  string
	// Items are the indexes of two equal items (UniqueItems).
	Items [2]int
}

func (e Error) Error() string {
	return fmt.Sprintf("/%s: %s", strings.Join(e.At, "/"), e.describe())
}

func (e Error) describe() string {
	switch e.Kind {
	case Type:
		return fmt.Sprintf("got %s, want %s", e.Given, strings.Join(e.Types, " or "))
	case Enum:
		return "not one of the values allowed"
	case AllOf:
		return "fails one of allOf's schemas"
	case AnyOf:
		return "matches none of anyOf's schemas"
	case OneOf:
		return "matches none or more than one of oneOf's schemas"
	case Not:
		return "matches the schema of not"
	case Required:
		return "missing property " + strconv.Quote(e.Property)
	case AdditionalProperties:
		return "additional property " + strconv.Quote(e.Property) + " not allowed"
	case Dependencies:
		return "missing property " + strconv.Quote(e.Property) + " (a dependency)"
	case AdditionalItems:
		return "additional items not allowed"
	case UniqueItems:
		return fmt.Sprintf("items %d and %d are equal", e.Items[0], e.Items[1])
	case Pattern:
		return "does not match pattern " + e.Pattern
	case Format:
		return "not a valid " + e.Format
	}
	return fmt.Sprintf("%s: want %s", e.Kind.Keyword(), e.Limit)
}

// Keyword is the schema keyword of k ("minItems").
func (k Kind) Keyword() string {
	return [...]string{"type", "enum", "allOf", "anyOf", "oneOf", "not", "required",
		"additionalProperties", "dependencies", "minProperties", "maxProperties",
		"additionalItems", "minItems", "maxItems", "uniqueItems", "minimum",
		"exclusiveMinimum", "maximum", "exclusiveMaximum", "multipleOf",
		"minLength", "maxLength", "pattern", "format"}[k]
}

// node is one compiled (sub)schema.
type node struct {
	ref *node // $ref: the other keywords are ignored (draft-04 section 7)

	types []string
	enum  []any

	allOf, anyOf, oneOf []*node
	not                 *node

	properties   map[string]*node
	propOrder    []string
	patternProps []patternNode
	additional   *node // additionalProperties as a schema
	noAdditional bool  // additionalProperties: false
	required     []string
	depProps     map[string][]string
	depSchemas   map[string]*node
	minProps     *bound
	maxProps     *bound

	items           *node
	itemList        []*node
	additionalItems *node
	noAddItems      bool
	minItems        *bound
	maxItems        *bound
	uniqueItems     bool

	minimum, maximum *number
	exclMin, exclMax bool
	multipleOf       *number

	minLength, maxLength *bound
	pattern              *regexp.Regexp
	format               string
}

type patternNode struct {
	re *regexp.Regexp
	s  *node
}

// bound is a count from the schema: its value and its text.
type bound struct {
	n    int
	text string
}

// number is a numeric bound: its exact value and its text.
type number struct {
	r    *big.Rat
	text string
}

// Compile compiles the schema in file root and every file it refers to,
// read through load.
func Compile(load Loader, root string) (*Schema, error) {
	c := &compiler{load: load, docs: map[string]any{}, nodes: map[string]*node{}}
	n, err := c.resolve(root, "")
	if err != nil {
		return nil, err
	}
	return &Schema{root: n}, nil
}

type compiler struct {
	load  Loader
	docs  map[string]any
	nodes map[string]*node // by file + "#" + pointer
}

// resolve compiles the schema at the JSON pointer ptr ("" or "/a/b") of
// file, once.
func (c *compiler) resolve(file, ptr string) (*node, error) {
	key := file + "#" + ptr
	if n, ok := c.nodes[key]; ok {
		return n, nil
	}
	doc, ok := c.docs[file]
	if !ok {
		d, err := c.load(file)
		if err != nil {
			return nil, fmt.Errorf("load schema %s: %w", file, err)
		}
		c.docs[file] = d
		doc = d
	}
	v, err := walk(doc, ptr)
	if err != nil {
		return nil, fmt.Errorf("schema %s#%s: %w", file, ptr, err)
	}
	n := &node{}
	c.nodes[key] = n // before compiling: a schema may refer to itself
	if err := c.compile(n, file, ptr, v); err != nil {
		return nil, err
	}
	return n, nil
}

// walk follows a JSON pointer's tokens in doc.
func walk(doc any, ptr string) (any, error) {
	if ptr == "" {
		return doc, nil
	}
	cur := doc
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[tok]
			if !ok {
				return nil, fmt.Errorf("no %q", tok)
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v) {
				return nil, fmt.Errorf("no item %q", tok)
			}
			cur = v[i]
		default:
			return nil, fmt.Errorf("%q below a %s", tok, typeOf(cur))
		}
	}
	return cur, nil
}

// compile fills n from the schema object v found at file#ptr.
func (c *compiler) compile(n *node, file, ptr string, v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("schema %s#%s: got %s, want object", file, ptr, typeOf(v))
	}
	fail := func(kw string, format string, args ...any) error {
		return fmt.Errorf("schema %s#%s/%s: %s", file, ptr, kw, fmt.Sprintf(format, args...))
	}
	sub := func(kw string, extra ...string) (*node, error) {
		p := ptr + "/" + escape(kw)
		for _, e := range extra {
			p += "/" + escape(e)
		}
		return c.resolve(file, p)
	}
	subList := func(kw string) ([]*node, error) {
		list, ok := m[kw].([]any)
		if !ok {
			return nil, fail(kw, "want an array of schemas")
		}
		out := make([]*node, len(list))
		for i := range list {
			s, err := sub(kw, strconv.Itoa(i))
			if err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	}
	if r, ok := m["$ref"]; ok {
		rs, ok := r.(string)
		if !ok {
			return fail("$ref", "want a string")
		}
		target, frag, _ := strings.Cut(rs, "#")
		tfile := file
		if target != "" {
			u, err := url.Parse(target)
			if err != nil {
				return fail("$ref", "%v", err)
			}
			tfile = path.Base(u.Path)
		}
		if f, err := url.PathUnescape(frag); err == nil {
			frag = f
		}
		// runtime-spec's defs.json writes "#definitions/uint32"
		// for "#/definitions/uint32": a pointer either way.
		if frag != "" && !strings.HasPrefix(frag, "/") {
			frag = "/" + frag
		}
		t, err := c.resolve(tfile, frag)
		if err != nil {
			return err
		}
		n.ref = t
		return nil
	}
	var err error
	for kw, val := range m {
		switch kw {
		case "type":
			switch t := val.(type) {
			case string:
				n.types = []string{t}
			case []any:
				for _, e := range t {
					s, ok := e.(string)
					if !ok {
						return fail(kw, "want type names")
					}
					n.types = append(n.types, s)
				}
			default:
				return fail(kw, "want a string or an array")
			}
			for _, t := range n.types {
				if !slices.Contains([]string{"array", "boolean", "integer", "null", "number", "object", "string"}, t) {
					return fail(kw, "unknown type %q", t)
				}
			}
		case "enum":
			list, ok := val.([]any)
			if !ok {
				return fail(kw, "want an array")
			}
			n.enum = list
		case "allOf":
			n.allOf, err = subList(kw)
		case "anyOf":
			n.anyOf, err = subList(kw)
		case "oneOf":
			n.oneOf, err = subList(kw)
		case "not":
			n.not, err = sub(kw)
		case "properties", "patternProperties", "dependencies":
			props, ok := val.(map[string]any)
			if !ok {
				return fail(kw, "want an object")
			}
			names := make([]string, 0, len(props))
			for name := range props {
				names = append(names, name)
			}
			slices.Sort(names)
			for _, name := range names {
				if kw == "dependencies" {
					if list, ok := props[name].([]any); ok {
						if n.depProps == nil {
							n.depProps = map[string][]string{}
						}
						for _, e := range list {
							s, ok := e.(string)
							if !ok {
								return fail(kw, "want property names for %q", name)
							}
							n.depProps[name] = append(n.depProps[name], s)
						}
						continue
					}
				}
				s, err := sub(kw, name)
				if err != nil {
					return err
				}
				switch kw {
				case "properties":
					if n.properties == nil {
						n.properties = map[string]*node{}
					}
					n.properties[name] = s
					n.propOrder = append(n.propOrder, name)
				case "patternProperties":
					re, err := regexp.Compile(name)
					if err != nil {
						return fail(kw, "%v", err)
					}
					n.patternProps = append(n.patternProps, patternNode{re, s})
				case "dependencies":
					if n.depSchemas == nil {
						n.depSchemas = map[string]*node{}
					}
					n.depSchemas[name] = s
				}
			}
		case "additionalProperties", "additionalItems":
			var s *node
			allowed := true
			switch b := val.(type) {
			case bool:
				allowed = b
			case map[string]any:
				if s, err = sub(kw); err != nil {
					return err
				}
			default:
				return fail(kw, "want a boolean or a schema")
			}
			if kw == "additionalProperties" {
				n.additional, n.noAdditional = s, !allowed
			} else {
				n.additionalItems, n.noAddItems = s, !allowed
			}
		case "required":
			list, ok := val.([]any)
			if !ok {
				return fail(kw, "want an array")
			}
			for _, e := range list {
				s, ok := e.(string)
				if !ok {
					return fail(kw, "want property names")
				}
				n.required = append(n.required, s)
			}
		case "items":
			if _, ok := val.([]any); ok {
				n.itemList, err = subList(kw)
			} else {
				n.items, err = sub(kw)
			}
		case "minProperties", "maxProperties", "minItems", "maxItems", "minLength", "maxLength":
			b, ok := countOf(val)
			if !ok {
				return fail(kw, "want a non-negative integer")
			}
			switch kw {
			case "minProperties":
				n.minProps = b
			case "maxProperties":
				n.maxProps = b
			case "minItems":
				n.minItems = b
			case "maxItems":
				n.maxItems = b
			case "minLength":
				n.minLength = b
			default:
				n.maxLength = b
			}
		case "uniqueItems", "exclusiveMinimum", "exclusiveMaximum":
			b, ok := val.(bool)
			if !ok {
				return fail(kw, "want a boolean")
			}
			switch kw {
			case "uniqueItems":
				n.uniqueItems = b
			case "exclusiveMinimum":
				n.exclMin = b
			default:
				n.exclMax = b
			}
		case "minimum", "maximum", "multipleOf":
			num, ok := numberOf(val)
			if !ok || (kw == "multipleOf" && num.r.Sign() <= 0) {
				return fail(kw, "want a number")
			}
			switch kw {
			case "minimum":
				n.minimum = num
			case "maximum":
				n.maximum = num
			default:
				n.multipleOf = num
			}
		case "pattern":
			s, ok := val.(string)
			if !ok {
				return fail(kw, "want a string")
			}
			if n.pattern, err = regexp.Compile(s); err != nil {
				return fail(kw, "%v", err)
			}
		case "format":
			s, ok := val.(string)
			if !ok {
				return fail(kw, "want a string")
			}
			n.format = s
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func escape(tok string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
}

func countOf(v any) (*bound, bool) {
	num, ok := numberOf(v)
	if !ok || !num.r.IsInt() || num.r.Sign() < 0 || !num.r.Num().IsInt64() {
		return nil, false
	}
	return &bound{n: int(num.r.Num().Int64()), text: num.text}, true
}

// numberOf returns a JSON number's exact value, nil when v is no number.
func numberOf(v any) (*number, bool) {
	var text string
	switch n := v.(type) {
	case json.Number:
		text = n.String()
	case float64:
		text = strconv.FormatFloat(n, 'g', -1, 64)
	case int:
		text = strconv.Itoa(n)
	case int64:
		text = strconv.FormatInt(n, 10)
	default:
		return nil, false
	}
	r, ok := new(big.Rat).SetString(text)
	if !ok {
		return nil, false
	}
	return &number{r: r, text: text}, true
}

// typeOf is the JSON type of a decoded value ("integer" for a number
// without a fraction).
func typeOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	if n, ok := numberOf(v); ok {
		if n.r.IsInt() {
			return "integer"
		}
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// Validate returns doc's violations of the schema (none when valid). doc
// is decoded JSON: maps, slices, strings, booleans, nil and numbers as
// json.Number (float64 works, less exactly). A failed anyOf or oneOf comes
// with the violations of its closest alternative, the one the document
// most likely meant.
func (s *Schema) Validate(doc any) []Error {
	var r result
	s.root.validate(doc, nil, &r)
	return r.errs
}

// result collects violations and a score: how much of the document
// matched, used to pick the closest alternative of anyOf and oneOf.
type result struct {
	errs  []Error
	score int
}

func (r *result) add(e Error, at []string, v any) {
	e.At, e.Value = slices.Clone(at), v
	r.errs = append(r.errs, e)
	r.score -= 2
}

func (r *result) merge(o *result) {
	r.errs = append(r.errs, o.errs...)
	r.score += o.score
}

func (n *node) validate(v any, at []string, r *result) {
	defer func() { r.score++ }()
	if n.ref != nil {
		n.ref.validate(v, at, r)
		return
	}
	given := typeOf(v)
	if len(n.types) > 0 && !slices.Contains(n.types, given) && !(given == "integer" && slices.Contains(n.types, "number")) {
		r.add(Error{Kind: Type, Types: n.types, Given: given}, at, v)
		return
	}
	if n.enum != nil && !slices.ContainsFunc(n.enum, func(e any) bool { return equal(e, v) }) {
		r.add(Error{Kind: Enum, Enum: n.enum}, at, v)
	}
	n.combinators(v, at, r)
	switch x := v.(type) {
	case map[string]any:
		n.object(x, at, r)
	case []any:
		n.array(x, at, r)
	case string:
		n.string(x, at, r)
	case bool, nil:
	default:
		if num, ok := numberOf(v); ok {
			n.number(num.r, at, v, r)
		}
	}
}

func (n *node) combinators(v any, at []string, r *result) {
	if len(n.anyOf) > 0 {
		var best *result
		matched := false
		for _, s := range n.anyOf {
			var sr result
			s.validate(v, at, &sr)
			if len(sr.errs) == 0 {
				matched = true
				break
			}
			if best == nil || sr.score > best.score {
				best = &sr
			}
		}
		if !matched {
			r.add(Error{Kind: AnyOf}, at, v)
			r.merge(best)
		}
	}
	if len(n.oneOf) > 0 {
		var best *result
		valid := 0
		for _, s := range n.oneOf {
			var sr result
			s.validate(v, at, &sr)
			if len(sr.errs) == 0 {
				valid++
			} else if valid == 0 && (best == nil || sr.score > best.score) {
				best = &sr
			}
		}
		if valid != 1 {
			r.add(Error{Kind: OneOf}, at, v)
			if valid == 0 {
				r.merge(best)
			}
		}
	}
	if len(n.allOf) > 0 {
		failed := false
		for _, s := range n.allOf {
			var sr result
			s.validate(v, at, &sr)
			failed = failed || len(sr.errs) > 0
			r.merge(&sr)
		}
		if failed {
			r.add(Error{Kind: AllOf}, at, v)
		}
	}
	if n.not != nil {
		var sr result
		n.not.validate(v, at, &sr)
		if len(sr.errs) == 0 {
			r.add(Error{Kind: Not}, at, v)
		}
	}
}

func (n *node) object(m map[string]any, at []string, r *result) {
	if n.minProps != nil && len(m) < n.minProps.n {
		r.add(Error{Kind: MinProperties, Limit: n.minProps.text}, at, m)
	}
	if n.maxProps != nil && len(m) > n.maxProps.n {
		r.add(Error{Kind: MaxProperties, Limit: n.maxProps.text}, at, m)
	}
	for _, p := range n.required {
		if _, ok := m[p]; !ok {
			r.add(Error{Kind: Required, Property: p}, at, m)
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if deps, ok := n.depProps[k]; ok {
			for _, d := range deps {
				if _, ok := m[d]; !ok {
					r.add(Error{Kind: Dependencies, Property: d}, at, m)
				}
			}
		}
		if s, ok := n.depSchemas[k]; ok {
			s.validate(m, at, r)
		}
	}
	for _, k := range keys {
		kat := append(at[:len(at):len(at)], k)
		described := false
		if s, ok := n.properties[k]; ok {
			described = true
			s.validate(m[k], kat, r)
		}
		for _, pp := range n.patternProps {
			if pp.re.MatchString(k) {
				described = true
				pp.s.validate(m[k], kat, r)
			}
		}
		if described {
			continue
		}
		switch {
		case n.noAdditional:
			r.add(Error{Kind: AdditionalProperties, Property: k}, at, m)
		case n.additional != nil:
			n.additional.validate(m[k], kat, r)
		}
	}
}

func (n *node) array(a []any, at []string, r *result) {
	if n.minItems != nil && len(a) < n.minItems.n {
		r.add(Error{Kind: MinItems, Limit: n.minItems.text}, at, a)
	}
	if n.maxItems != nil && len(a) > n.maxItems.n {
		r.add(Error{Kind: MaxItems, Limit: n.maxItems.text}, at, a)
	}
	if n.uniqueItems {
	unique:
		for i := range a {
			for j := i + 1; j < len(a); j++ {
				if equal(a[i], a[j]) {
					r.add(Error{Kind: UniqueItems, Items: [2]int{i, j}}, at, a)
					break unique
				}
			}
		}
	}
	for i, item := range a {
		iat := append(at[:len(at):len(at)], strconv.Itoa(i))
		switch {
		case n.items != nil:
			n.items.validate(item, iat, r)
		case n.itemList != nil && i < len(n.itemList):
			n.itemList[i].validate(item, iat, r)
		case n.itemList != nil && n.noAddItems:
			r.add(Error{Kind: AdditionalItems, Limit: strconv.Itoa(len(n.itemList))}, at, a)
			return
		case n.itemList != nil && n.additionalItems != nil:
			n.additionalItems.validate(item, iat, r)
		}
	}
}

func (n *node) string(s string, at []string, r *result) {
	if n.minLength != nil || n.maxLength != nil {
		l := utf8.RuneCountInString(s)
		if n.minLength != nil && l < n.minLength.n {
			r.add(Error{Kind: MinLength, Limit: n.minLength.text}, at, s)
		}
		if n.maxLength != nil && l > n.maxLength.n {
			r.add(Error{Kind: MaxLength, Limit: n.maxLength.text}, at, s)
		}
	}
	if n.pattern != nil && !n.pattern.MatchString(s) {
		r.add(Error{Kind: Pattern, Pattern: n.pattern.String()}, at, s)
	}
	if n.format != "" && !validFormat(n.format, s) {
		r.add(Error{Kind: Format, Format: n.format}, at, s)
	}
}

func (n *node) number(x *big.Rat, at []string, v any, r *result) {
	if b := n.minimum; b != nil {
		if c := x.Cmp(b.r); c < 0 || (c == 0 && n.exclMin) {
			k := Minimum
			if n.exclMin {
				k = ExclusiveMinimum
			}
			r.add(Error{Kind: k, Limit: b.text}, at, v)
		}
	}
	if b := n.maximum; b != nil {
		if c := x.Cmp(b.r); c > 0 || (c == 0 && n.exclMax) {
			k := Maximum
			if n.exclMax {
				k = ExclusiveMaximum
			}
			r.add(Error{Kind: k, Limit: b.text}, at, v)
		}
	}
	if m := n.multipleOf; m != nil {
		if !new(big.Rat).Quo(x, m.r).IsInt() {
			r.add(Error{Kind: MultipleOf, Limit: m.text}, at, v)
		}
	}
}

// validFormat checks the draft-04 formats ocikit's schemas use and the
// ones as cheap to check; any other format passes (section 7.1).
func validFormat(format, s string) bool {
	switch format {
	case "date-time":
		// RFC 3339 section 5.6's date-time, which draft-04 section
		// 7.3.1 names: a date and a time with an offset, nothing less.
		_, err := time.Parse(time.RFC3339Nano, s)
		return err == nil
	case "uri":
		u, err := url.Parse(s)
		return err == nil && u.Scheme != "" && !strings.Contains(s, `\`)
	case "ipv4":
		a, err := netip.ParseAddr(s)
		return err == nil && a.Is4()
	case "ipv6":
		a, err := netip.ParseAddr(s)
		return err == nil && a.Is6() && a.Zone() == ""
	}
	return true
}

// equal is JSON equality: numbers by value, objects by their members,
// arrays item by item.
func equal(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool, string:
		return a == b
	case []any:
		y, ok := b.([]any)
		return ok && slices.EqualFunc(x, y, equal)
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !equal(xv, yv) {
				return false
			}
		}
		return true
	}
	na, ok := numberOf(a)
	if !ok {
		return false
	}
	nb, ok := numberOf(b)
	return ok && na.r.Cmp(nb.r) == 0
}
