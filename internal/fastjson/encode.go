package fastjson

import (
	"bytes"
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Marshal is json.Marshal(v), byte for byte.
func Marshal(v any) ([]byte, error) {
	e := encoder{buf: make([]byte, 0, 1024)}
	if e.value(reflect.ValueOf(v)) != nil {
		return json.Marshal(v)
	}
	return e.buf, nil
}

type encoder struct {
	buf []byte
	// fields are the field lists of the struct types met in this call
	// (a slice of structs, the same type in many places).
	fields map[reflect.Type][]encField
}

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

func (e *encoder) value(v reflect.Value) error {
	if !v.IsValid() {
		e.buf = append(e.buf, "null"...)
		return nil
	}
	t := v.Type()
	if t.Implements(marshalerType) {
		if t.Kind() == reflect.Pointer && v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		return e.marshaler(v.Interface().(json.Marshaler))
	}
	if t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(marshalerType) {
		if !v.CanAddr() {
			return errSlow
		}
		return e.marshaler(v.Addr().Interface().(json.Marshaler))
	}
	if t.Implements(textMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType) {
		return errSlow
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		return e.value(v.Elem())
	case reflect.Struct:
		return e.object(v)
	case reflect.Map:
		return e.mapObject(v)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return errSlow // base64
		}
		if v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		e.buf = append(e.buf, '[')
		for i := range v.Len() {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			if err := e.value(v.Index(i)); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, ']')
		return nil
	case reflect.Interface:
		if v.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		return e.value(v.Elem())
	case reflect.String:
		e.buf = appendString(e.buf, v.String())
		return nil
	case reflect.Bool:
		e.buf = strconv.AppendBool(e.buf, v.Bool())
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.buf = strconv.AppendInt(e.buf, v.Int(), 10)
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.buf = strconv.AppendUint(e.buf, v.Uint(), 10)
		return nil
	}
	// Floats, arrays, channels, functions, complex numbers.
	return errSlow
}

// marshaler appends m's JSON compacted, with <, > and & escaped in
// strings, as encoding/json does with a Marshaler's output.
func (e *encoder) marshaler(m json.Marshaler) error {
	b, err := m.MarshalJSON()
	if err != nil {
		return errSlow // encoding/json wraps the error
	}
	var c bytes.Buffer
	if json.Compact(&c, b) != nil {
		return errSlow
	}
	var h bytes.Buffer
	json.HTMLEscape(&h, c.Bytes())
	e.buf = append(e.buf, h.Bytes()...)
	return nil
}

type encField struct {
	name string
	// index is the field's in its struct; path, for a field promoted
	// from embedded structs, the indexes from the outer struct down.
	index     int
	path      []int
	omitEmpty bool
}

// fields lists the fields of struct type t that encoding/json encodes, in
// its order; errSlow where its dominance rules or options would matter.
func fields(t reflect.Type) ([]encField, error) {
	out := make([]encField, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, ok, err := fieldName(f)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if name == "" {
			sub, err := fields(f.Type)
			if err != nil {
				return nil, err
			}
			for _, sf := range sub {
				p := sf.path
				if p == nil {
					p = []int{sf.index}
				}
				sf.path = append([]int{i}, p...)
				out = append(out, sf)
			}
			continue
		}
		if hasOpt(opts, "string") || hasOpt(opts, "omitzero") {
			return nil, errSlow
		}
		out = append(out, encField{name: name, index: i, omitEmpty: hasOpt(opts, "omitempty")})
	}
	return out, nil
}

func (e *encoder) object(v reflect.Value) error {
	fs, ok := e.fields[v.Type()]
	if !ok {
		var err error
		if fs, err = fields(v.Type()); err != nil {
			return err
		}
		for i := range fs {
			for j := range i {
				if fs[i].name == fs[j].name {
					return errSlow
				}
			}
		}
		if e.fields == nil {
			e.fields = map[reflect.Type][]encField{}
		}
		e.fields[v.Type()] = fs
	}
	e.buf = append(e.buf, '{')
	first := true
	for _, f := range fs {
		var fv reflect.Value
		if f.path == nil {
			fv = v.Field(f.index)
		} else {
			fv = v
			for _, i := range f.path {
				fv = fv.Field(i)
			}
		}
		if f.omitEmpty && isEmpty(fv) {
			continue
		}
		if !first {
			e.buf = append(e.buf, ',')
		}
		first = false
		e.buf = appendString(e.buf, f.name)
		e.buf = append(e.buf, ':')
		if err := e.value(fv); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

func (e *encoder) mapObject(v reflect.Value) error {
	t := v.Type()
	if t.Key().Kind() != reflect.String || t.Key().Implements(textMarshalerType) {
		return errSlow
	}
	if v.IsNil() {
		e.buf = append(e.buf, "null"...)
		return nil
	}
	keys := v.MapKeys()
	slices.SortFunc(keys, func(a, b reflect.Value) int {
		x, y := a.String(), b.String()
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	e.buf = append(e.buf, '{')
	for i, k := range keys {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.buf = appendString(e.buf, k.String())
		e.buf = append(e.buf, ':')
		if err := e.value(v.MapIndex(k)); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

const hex = "0123456789abcdef"

// appendString is encoding/json's string encoding with HTML escaping.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
