// Package fastjson decodes and encodes the runtime's own JSON (a bundle's
// config.json, a container's state record) as encoding/json does, without
// encoding/json's first-use cost: encoding/json builds, per type, a field
// cache and an encoder for every type reachable from it, on first use in
// each process. For the spec types that is about 60 types and 1.5-2.5 ms
// here, paid by every ocikit process that reads a configuration or a
// state record, while the configuration itself decodes in under 0.1 ms.
//
// The fast path walks the Go types with reflect as the input needs them
// and keeps no cache. Whatever it does not handle exactly as encoding/json
// would (a syntax error, a type mismatch, a key matching a field only
// case-insensitively, a duplicate key, a float, an interface, a []byte,
// an escape it does not decode) sends the whole call to encoding/json,
// whose result and error are then the answer. The result is always
// encoding/json's.
package fastjson

import (
	"encoding"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// errSlow sends a call to encoding/json.
var errSlow = errors.New("fastjson: not on the fast path")

// Unmarshal is json.Unmarshal(data, v). The fast path applies when v
// points to a zero value (encoding/json merges into a non-zero one).
func Unmarshal(data []byte, v any) error {
	if !decodeFast(data, v) {
		return json.Unmarshal(data, v)
	}
	return nil
}

// decodeFast decodes data into v and reports whether it could, leaving v
// untouched when it could not.
func decodeFast(data []byte, v any) bool {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || !rv.Elem().IsZero() {
		return false
	}
	tmp := reflect.New(rv.Type().Elem())
	d := decoder{data: data}
	d.skipSpace()
	if d.value(tmp.Elem()) != nil {
		return false
	}
	d.skipSpace()
	if d.pos != len(d.data) {
		return false
	}
	rv.Elem().Set(tmp.Elem())
	return true
}

type decoder struct {
	data []byte
	pos  int
	// names are the JSON names of the fields of the struct types met in
	// this call (decField).
	names map[reflect.Type][]decField
}

// decField is a struct field as lookup sees it.
type decField struct {
	name      string // "" for an embedded struct whose fields are promoted
	skip      bool   // a field encoding/json leaves alone
	stringOpt bool   // the ",string" option
	err       error  // errSlow: the fast path leaves the type to encoding/json
}

// fieldsOf returns the fields of struct type t, parsed once per call.
func (d *decoder) fieldsOf(t reflect.Type) []decField {
	if fs, ok := d.names[t]; ok {
		return fs
	}
	fs := make([]decField, t.NumField())
	for i := range fs {
		name, opts, ok, err := fieldName(t.Field(i))
		fs[i] = decField{name: name, skip: !ok, stringOpt: hasOpt(opts, "string"), err: err}
	}
	if d.names == nil {
		d.names = map[reflect.Type][]decField{}
	}
	d.names[t] = fs
	return fs
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func (d *decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) peek() byte {
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0
}

// literal consumes word (null, true, false) when it is next.
func (d *decoder) literal(word string) bool {
	if len(d.data)-d.pos >= len(word) && string(d.data[d.pos:d.pos+len(word)]) == word {
		d.pos += len(word)
		return true
	}
	return false
}

// value decodes the next value into v (settable).
func (d *decoder) value(v reflect.Value) error {
	t := v.Type()
	if t.Kind() != reflect.Pointer && (reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType)) {
		if d.peek() == 'n' {
			return errSlow // encoding/json's null handling for unmarshalers
		}
		start := d.pos
		if err := d.skip(); err != nil {
			return err
		}
		if !reflect.PointerTo(t).Implements(unmarshalerType) {
			return errSlow
		}
		if err := v.Addr().Interface().(json.Unmarshaler).UnmarshalJSON(d.data[start:d.pos]); err != nil {
			return errSlow
		}
		return nil
	}
	if d.peek() == 'n' {
		if !d.literal("null") {
			return errSlow
		}
		switch t.Kind() {
		case reflect.Pointer, reflect.Map, reflect.Slice:
			v.SetZero()
		case reflect.Interface:
			return errSlow
		}
		return nil // a no-op for the other kinds
	}
	switch t.Kind() {
	case reflect.Pointer:
		if t.Implements(unmarshalerType) || t.Implements(textUnmarshalerType) {
			if t.Elem().Kind() == reflect.Pointer {
				return errSlow
			}
		}
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		return d.value(v.Elem())
	case reflect.Struct:
		return d.object(v)
	case reflect.Map:
		return d.mapObject(v)
	case reflect.Slice:
		return d.array(v)
	case reflect.String:
		s, err := d.str()
		if err != nil {
			return err
		}
		v.SetString(s)
		return nil
	case reflect.Bool:
		switch {
		case d.literal("true"):
			v.SetBool(true)
		case d.literal("false"):
			v.SetBool(false)
		default:
			return errSlow
		}
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		lit, err := d.integer(true)
		if err != nil {
			return err
		}
		n, err := strconv.ParseInt(lit, 10, 64)
		if err != nil || v.OverflowInt(n) {
			return errSlow
		}
		v.SetInt(n)
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		lit, err := d.integer(false)
		if err != nil {
			return err
		}
		n, err := strconv.ParseUint(lit, 10, 64)
		if err != nil || v.OverflowUint(n) {
			return errSlow
		}
		v.SetUint(n)
		return nil
	}
	// Floats, interfaces, arrays, channels, functions, complex numbers.
	return errSlow
}

// integer consumes a number literal that is an integer (-?(0|[1-9][0-9]*)
// not followed by a fraction or exponent); neg allows the sign.
func (d *decoder) integer(neg bool) (string, error) {
	start := d.pos
	if neg && d.peek() == '-' {
		d.pos++
	}
	digits := d.pos
	for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
		d.pos++
	}
	n := d.pos - digits
	if n == 0 || (n > 1 && d.data[digits] == '0') {
		return "", errSlow
	}
	switch d.peek() {
	case '.', 'e', 'E':
		return "", errSlow
	}
	return string(d.data[start:d.pos]), nil
}

// more consumes what follows a member or an element: a comma (true:
// another comes) or closing (false: the object or array ended).
func (d *decoder) more(closing byte) (bool, error) {
	d.skipSpace()
	switch d.peek() {
	case ',':
		d.pos++
		return true, nil
	case closing:
		d.pos++
		return false, nil
	}
	return false, errSlow
}

// str consumes a string literal and returns its value.
func (d *decoder) str() (string, error) {
	if d.peek() != '"' {
		return "", errSlow
	}
	d.pos++
	start := d.pos
	ascii := true
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			s := d.data[start:d.pos]
			d.pos++
			if !ascii && !utf8.Valid(s) {
				return "", errSlow // encoding/json substitutes U+FFFD
			}
			return string(s), nil
		case c == '\\':
			return d.escaped(start)
		case c < 0x20:
			return "", errSlow
		case c >= utf8.RuneSelf:
			ascii = false
		}
		d.pos++
	}
	return "", errSlow
}

// escaped finishes a string literal that starts at start and has an
// escape at d.pos.
func (d *decoder) escaped(start int) (string, error) {
	buf := append([]byte(nil), d.data[start:d.pos]...)
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			if !utf8.Valid(buf) {
				return "", errSlow
			}
			return string(buf), nil
		case c < 0x20:
			return "", errSlow
		case c != '\\':
			buf = append(buf, c)
			d.pos++
			continue
		}
		if d.pos+1 >= len(d.data) {
			return "", errSlow
		}
		e := d.data[d.pos+1]
		d.pos += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			if d.pos+4 > len(d.data) {
				return "", errSlow
			}
			r, err := strconv.ParseUint(string(d.data[d.pos:d.pos+4]), 16, 32)
			if err != nil || utf16.IsSurrogate(rune(r)) {
				return "", errSlow
			}
			d.pos += 4
			buf = utf8.AppendRune(buf, rune(r))
		default:
			return "", errSlow
		}
	}
	return "", errSlow
}

// object decodes a JSON object into the struct v.
func (d *decoder) object(v reflect.Value) error {
	if d.peek() != '{' {
		return errSlow
	}
	d.pos++
	var seen []string
	d.skipSpace()
	if d.peek() == '}' {
		d.pos++
		return nil
	}
	for {
		d.skipSpace()
		key, err := d.str()
		if err != nil {
			return err
		}
		for _, k := range seen {
			if k == key {
				return errSlow // encoding/json merges duplicates
			}
		}
		seen = append(seen, key)
		d.skipSpace()
		if d.peek() != ':' {
			return errSlow
		}
		d.pos++
		d.skipSpace()
		f, err := d.fieldByName(v, key)
		if err != nil {
			return err
		}
		if f.IsValid() {
			err = d.value(f)
		} else {
			err = d.skip()
		}
		if err != nil {
			return err
		}
		if more, err := d.more('}'); err != nil || !more {
			return err
		}
	}
}

// fieldByName returns the field of the struct v that key names exactly
// (promoted through embedded structs), the zero Value for an unknown key,
// errSlow when encoding/json's rules need more than that: a key matching
// only case-insensitively, a name at one depth in two embedded structs,
// an embedded pointer.
func (d *decoder) fieldByName(v reflect.Value, key string) (reflect.Value, error) {
	idx, err := d.lookup(v.Type(), key)
	if err != nil || idx == nil {
		return reflect.Value{}, err
	}
	for _, i := range idx {
		v = v.Field(i)
	}
	if !v.CanSet() {
		return reflect.Value{}, errSlow
	}
	return v, nil
}

func (d *decoder) lookup(t reflect.Type, key string) ([]int, error) {
	// encoding/json folds names by Unicode simple folding: ſ (2 bytes)
	// matches s, K (3 bytes) k, so a key of another length may match.
	for i := 0; i < len(key); i++ {
		if key[i] >= utf8.RuneSelf {
			return nil, errSlow
		}
	}
	var embedded []int
	for i, f := range d.fieldsOf(t) {
		if f.err != nil {
			return nil, f.err
		}
		if f.skip {
			continue
		}
		if f.name == "" {
			embedded = append(embedded, i)
			continue
		}
		if f.name == key {
			if f.stringOpt {
				return nil, errSlow
			}
			return []int{i}, nil
		}
		if asciiFoldEqual(f.name, key) {
			return nil, errSlow
		}
	}
	var found []int
	for _, i := range embedded {
		sub, err := d.lookup(t.Field(i).Type, key)
		if err != nil {
			return nil, err
		}
		if sub != nil {
			if found != nil {
				return nil, errSlow
			}
			found = append([]int{i}, sub...)
		}
	}
	return found, nil
}

// fieldName is the JSON name of f and its tag options; "" for an
// embedded struct whose fields are promoted; ok is false for a field
// encoding/json skips. errSlow for what the fast path leaves to it.
func fieldName(f reflect.StructField) (name, opts string, ok bool, err error) {
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", "", false, nil
	}
	name, opts = tag, ""
	for i := 0; i < len(tag); i++ {
		if tag[i] == ',' {
			name, opts = tag[:i], tag[i+1:]
			break
		}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return "", "", false, errSlow
		}
	}
	if f.Anonymous {
		if f.Type.Kind() == reflect.Pointer {
			return "", "", false, errSlow
		}
		if name == "" && f.Type.Kind() == reflect.Struct {
			return "", opts, true, nil
		}
		if !f.IsExported() {
			return "", "", false, nil
		}
	} else if !f.IsExported() {
		return "", "", false, nil
	}
	if name == "" {
		name = f.Name
		for i := 0; i < len(name); i++ {
			if name[i] >= utf8.RuneSelf {
				return "", "", false, errSlow
			}
		}
	}
	return name, opts, true, nil
}

// asciiFoldEqual reports whether a and b are equal ignoring ASCII case;
// a key with other bytes might fold (encoding/json folds K and ſ too).
func asciiFoldEqual(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x >= utf8.RuneSelf || y >= utf8.RuneSelf {
			return true // unsure: let encoding/json decide
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// mapObject decodes a JSON object into the map v (string keys).
func (d *decoder) mapObject(v reflect.Value) error {
	t := v.Type()
	if t.Key().Kind() != reflect.String || reflect.PointerTo(t.Key()).Implements(textUnmarshalerType) {
		return errSlow
	}
	if d.peek() != '{' {
		return errSlow
	}
	d.pos++
	if v.IsNil() {
		v.Set(reflect.MakeMap(t))
	}
	d.skipSpace()
	if d.peek() == '}' {
		d.pos++
		return nil
	}
	for {
		d.skipSpace()
		key, err := d.str()
		if err != nil {
			return err
		}
		d.skipSpace()
		if d.peek() != ':' {
			return errSlow
		}
		d.pos++
		d.skipSpace()
		elem := reflect.New(t.Elem()).Elem()
		if err := d.value(elem); err != nil {
			return err
		}
		v.SetMapIndex(reflect.ValueOf(key).Convert(t.Key()), elem)
		if more, err := d.more('}'); err != nil || !more {
			return err
		}
	}
}

// array decodes a JSON array into the slice v: empty but not nil for [].
func (d *decoder) array(v reflect.Value) error {
	t := v.Type()
	if t.Elem().Kind() == reflect.Uint8 || d.peek() != '[' {
		return errSlow // a []byte is base64 in a string
	}
	d.pos++
	// Into v itself (settable, so grown in place): a new empty slice,
	// elements appended as they come.
	v.Set(reflect.MakeSlice(t, 0, 0))
	d.skipSpace()
	if d.peek() == ']' {
		d.pos++
		return nil
	}
	for i := 0; ; i++ {
		d.skipSpace()
		if i == v.Cap() {
			v.Grow(1)
		}
		v.SetLen(i + 1)
		if err := d.value(v.Index(i)); err != nil {
			return err
		}
		if more, err := d.more(']'); err != nil || !more {
			return err
		}
	}
}

// skip consumes one value of any kind, checking its syntax.
func (d *decoder) skip() error {
	switch c := d.peek(); {
	case c == '{':
		d.pos++
		d.skipSpace()
		if d.peek() == '}' {
			d.pos++
			return nil
		}
		for {
			d.skipSpace()
			if _, err := d.str(); err != nil {
				return err
			}
			d.skipSpace()
			if d.peek() != ':' {
				return errSlow
			}
			d.pos++
			d.skipSpace()
			if err := d.skip(); err != nil {
				return err
			}
			if more, err := d.more('}'); err != nil || !more {
				return err
			}
		}
	case c == '[':
		d.pos++
		d.skipSpace()
		if d.peek() == ']' {
			d.pos++
			return nil
		}
		for {
			d.skipSpace()
			if err := d.skip(); err != nil {
				return err
			}
			if more, err := d.more(']'); err != nil || !more {
				return err
			}
		}
	case c == '"':
		_, err := d.str()
		return err
	case c == '-' || c >= '0' && c <= '9':
		// Integers only; a fraction or an exponent goes the slow way.
		_, err := d.integer(true)
		return err
	case d.literal("true"), d.literal("false"), d.literal("null"):
		return nil
	}
	return errSlow
}

// hasOpt reports whether the comma-separated tag options name opt.
func hasOpt(opts, opt string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == opt {
			return true
		}
	}
	return false
}
