package fastjson

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// testdata: configurations from runtime-spec's schema tests
// (schema/test/config/good, Apache-2.0) and `ocikit spec`'s, made
// terminal-less as the benches use it.
func testConfigs(t testing.TB) map[string][]byte {
	t.Helper()
	names, err := filepath.Glob("testdata/*.json")
	if err != nil || len(names) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	out := map[string][]byte{}
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(n)] = data
	}
	return out
}

// sameDecode decodes data with Unmarshal and with encoding/json into new
// values of v's type and fails unless result and error agree.
func sameDecode(t testing.TB, data []byte, v any) {
	t.Helper()
	typ := reflect.TypeOf(v).Elem()
	got, want := reflect.New(typ), reflect.New(typ)
	gerr := Unmarshal(data, got.Interface())
	werr := json.Unmarshal(data, want.Interface())
	if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
		t.Fatalf("%q: error %v, encoding/json %v", data, gerr, werr)
	}
	if !reflect.DeepEqual(got.Interface(), want.Interface()) {
		t.Fatalf("%q: decoded\n%#v\nencoding/json\n%#v", data, got.Elem().Interface(), want.Elem().Interface())
	}
}

func TestUnmarshalConfigs(t *testing.T) {
	for name, data := range testConfigs(t) {
		t.Run(name, func(t *testing.T) {
			sameDecode(t, data, &specs.Spec{})
			// These take the fast path: it is what the package is for.
			var s specs.Spec
			if !decodeFast(data, &s) {
				t.Fatalf("%s: not decoded on the fast path", name)
			}
		})
	}
}

func TestUnmarshalEdges(t *testing.T) {
	tests := []struct {
		name, json string
		fast       bool // decoded without encoding/json
	}{
		{"empty object", `{}`, true},
		{"unknown keys skipped", `{"x":{"a":[1,-2,"s",true,null,{}]},"hostname":"h"}`, true},
		{"null pointer", `{"process":null,"hostname":"h"}`, true},
		{"null string is a no-op", `{"hostname":null}`, true},
		{"null slice", `{"mounts":null}`, true},
		{"empty slice is not nil", `{"mounts":[]}`, true},
		{"empty map is not nil", `{"annotations":{}}`, true},
		{"escapes", `{"hostname":"a\"b\\c\/d\b\f\n\r\t\u00e9\u2028"}`, true},
		{"utf-8", `{"hostname":"héllo ☃"}`, true},
		{"negative and big ints", `{"process":{"oomScoreAdj":-1000,"user":{"uid":4294967295}}}`, true},
		{"embedded struct fields", `{"linux":{"resources":{"blockIO":{"weightDevice":[{"major":8,"minor":0,"weight":10}]}}}}`, true},
		{"whitespace", " \n{ \"hostname\" : \"h\" ,\t\"domainname\":\"d\" }\r\n", true},
		{"case-insensitive key", `{"HostName":"h"}`, false},
		{"key that folds to another length", `{"hoſtname":"h"}`, false},
		{"escaped key that folds", `{"\u212aernel":1,"ſyscalls":[]}`, false},
		{"duplicate key", `{"hostname":"a","hostname":"b"}`, false},
		{"duplicate struct key merges", `{"process":{"cwd":"/"},"process":{"args":["a"]}}`, false},
		{"float into int", `{"process":{"oomScoreAdj":1.0}}`, false},
		{"exponent", `{"process":{"oomScoreAdj":1e3}}`, false},
		{"overflow", `{"process":{"user":{"uid":4294967296}}}`, false},
		{"negative uint", `{"process":{"user":{"uid":-1}}}`, false},
		{"leading zero", `{"process":{"user":{"uid":01}}}`, false},
		{"string into int", `{"process":{"user":{"uid":"1"}}}`, false},
		{"int into string", `{"hostname":1}`, false},
		{"invalid utf-8", "{\"hostname\":\"\xff\"}", false},
		{"surrogate pair", `{"hostname":"\ud83d\ude00"}`, false},
		{"bad escape", `{"hostname":"\x"}`, false},
		{"control character", "{\"hostname\":\"a\x01\"}", false},
		{"trailing garbage", `{"hostname":"h"} x`, false},
		{"trailing comma", `{"hostname":"h",}`, false},
		{"unterminated", `{"hostname":"h"`, false},
		{"top-level null", `null`, true},
		{"top-level array", `[]`, false},
		{"float in unknown key", `{"x":1.5}`, false},
		{"interface field", `{"windows":{"credentialSpec":{"a":1}}}`, false},
		{"unknown-key syntax error", `{"x":[1,}`, false},
		{"bad literal", `{"process":{"terminal":tru}}`, false},
		{"empty input", ``, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sameDecode(t, []byte(tt.json), &specs.Spec{})
			var s specs.Spec
			if got := decodeFast([]byte(tt.json), &s); got != tt.fast {
				t.Fatalf("fast path %v, want %v", got, tt.fast)
			}
		})
	}
}

func TestUnmarshalNonZero(t *testing.T) {
	// encoding/json merges into a value already set: so does Unmarshal.
	got := specs.Spec{Hostname: "keep"}
	want := got
	data := []byte(`{"domainname":"d"}`)
	if err := Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

// record is shaped as the runtime's state record: embedded structs, a
// time, a type with its own MarshalJSON, an unexported field.
type record struct {
	State  state             `json:"state"`
	Start  uint64            `json:"initStart,omitempty"`
	Res    *specs.Spec       `json:"res,omitempty"`
	Paths  map[string]string `json:"paths"`
	Flag   bool              `json:"flag,omitempty"`
	Custom custom            `json:"custom"`
	hidden int
}

type state struct {
	specs.State
	Rootfs  string    `json:"rootfs"`
	Created time.Time `json:"created"`
}

type custom struct{ N uint8 }

func (c custom) MarshalJSON() ([]byte, error) {
	return []byte(`{ "n" : ` + strings.Repeat("1", int(c.N%5)+1) + `, "s": "<&>" }`), nil
}

func TestMarshalRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		var v any
		if i%2 == 0 {
			s := &specs.Spec{}
			fill(rng, reflect.ValueOf(s).Elem(), 0)
			v = s
		} else {
			r := &record{}
			fill(rng, reflect.ValueOf(r).Elem(), 0)
			v = r
		}
		want, werr := json.Marshal(v)
		e := encoder{}
		fast := e.value(reflect.ValueOf(v)) == nil
		got, gerr := Marshal(v)
		if (gerr == nil) != (werr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("value %d:\n got %s (%v)\nwant %s (%v)", i, got, gerr, want, werr)
		}
		if !fast {
			t.Fatalf("value %d: not encoded on the fast path", i)
		}
		// What Marshal wrote decodes as encoding/json decodes it.
		sameDecode(t, got, v)
	}
}

func TestMarshalSlowPath(t *testing.T) {
	for _, v := range []any{
		map[string]float64{"a": 1.5},
		struct{ B []byte }{[]byte("x")},
		struct {
			N int `json:"n,string"`
		}{1},
		struct{ I any }{1.5},
		[2]int{1, 2},
	} {
		want, _ := json.Marshal(v)
		got, err := Marshal(v)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%#v: got %s (%v), want %s", v, got, err, want)
		}
	}
}

var strs = []string{"", "a", "<tag>&", "é☃", "\u2028\u2029", "\x01\b\f\n\r\t\"\\/", "\xff\xfe", "CAP_SYS_ADMIN"}

// fill sets v (settable) to a random value; interfaces stay nil, floats 0.
func fill(rng *rand.Rand, v reflect.Value, depth int) {
	if v.Type() == reflect.TypeFor[time.Time]() {
		v.Set(reflect.ValueOf(time.Unix(rng.Int64N(1<<33), rng.Int64N(1e9)).UTC()))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if depth < 6 && rng.IntN(3) > 0 {
			v.Set(reflect.New(v.Type().Elem()))
			fill(rng, v.Elem(), depth+1)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(rng, v.Field(i), depth+1)
			}
		}
	case reflect.Slice:
		switch n := rng.IntN(4); {
		case n == 0 || depth >= 6:
		case n == 1:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		default:
			v.Set(reflect.MakeSlice(v.Type(), n-1, n-1))
			for i := range n - 1 {
				fill(rng, v.Index(i), depth+1)
			}
		}
	case reflect.Map:
		switch n := rng.IntN(4); {
		case n == 0 || depth >= 6:
		default:
			v.Set(reflect.MakeMap(v.Type()))
			for range n - 1 {
				k := reflect.New(v.Type().Key()).Elem()
				k.SetString(strs[rng.IntN(len(strs))])
				e := reflect.New(v.Type().Elem()).Elem()
				fill(rng, e, depth+1)
				v.SetMapIndex(k, e)
			}
		}
	case reflect.String:
		v.SetString(strs[rng.IntN(len(strs))])
	case reflect.Bool:
		v.SetBool(rng.IntN(2) == 1)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n := []int64{0, 1, -1, math.MinInt64, math.MaxInt64, rng.Int64()}[rng.IntN(6)]
		v.SetInt(n)
		if v.OverflowInt(n) {
			v.SetInt(int64(int8(n)))
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n := []uint64{0, 1, math.MaxUint64, rng.Uint64()}[rng.IntN(4)]
		v.SetUint(n)
		if v.OverflowUint(n) {
			v.SetUint(uint64(uint8(n)))
		}
	}
}

func FuzzUnmarshal(f *testing.F) {
	for _, data := range testConfigs(f) {
		f.Add(data)
	}
	f.Add([]byte(`{"hostname":"a","HOSTNAME":"b","process":{"args":["x"],"env":null}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sameDecode(t, data, &specs.Spec{})
	})
}

func BenchmarkUnmarshalSpec(b *testing.B) {
	data := testConfigs(b)["ocikit-spec.json"]
	for b.Loop() {
		var s specs.Spec
		if err := Unmarshal(data, &s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalResources(b *testing.B) {
	var s specs.Spec
	if err := Unmarshal(testConfigs(b)["ocikit-spec.json"], &s); err != nil {
		b.Fatal(err)
	}
	v := &record{Res: &s, Paths: map[string]string{"cpu": "/sys/fs/cgroup/cpu/x", "memory": "/sys/fs/cgroup/memory/x"}}
	for b.Loop() {
		if _, err := Marshal(v); err != nil {
			b.Fatal(err)
		}
	}
}
