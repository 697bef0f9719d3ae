package hook

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const testValue = `{
  "s": "plain", "e": "q\"uote\\ \u00e9 \ud83d\ude00 \ud800 \n", "n": -12.5, "i": 42, "x": 1.5e3,
  "t": true, "f": false, "z": null,
  "a": [1, "two", {"three": 3}, [4]],
  "o": {"k": {"deep": "yes"}, "dup": 1, "dup": 2},
  "k\u0065y": "escaped key", "dot.ted": 1
}`

func TestValue(t *testing.T) {
	v := Parse([]byte(testValue))
	for _, tc := range []struct {
		path string
		kind Kind
		str  string
	}{
		{"s", String, "plain"},
		{"e", String, "q\"uote\\ é 😀 \uFFFD \n"},
		{"n", Number, "-12.5"},
		{"t", Bool, "true"},
		{"z", Null, ""},
		{"a", Array, `[1, "two", {"three": 3}, [4]]`},
		{"a.1", String, "two"},
		{"a.2.three", Number, "3"},
		{"a.3.0", Number, "4"},
		{"a.4", Missing, ""},
		{"a.x", Missing, ""},
		{"o.k.deep", String, "yes"},
		{"o.dup", Number, "1"}, // the first
		{"key", String, "escaped key"},
		{"dot.ted", Missing, ""},
		{"s.more", Missing, ""},
		{"missing", Missing, ""},
		{"", Object, strings.TrimSpace(testValue)},
	} {
		got := v.Get(tc.path)
		if got.Kind() != tc.kind || got.String() != tc.str || string(got.Bytes()) != tc.str {
			t.Errorf("Get(%q) = %v %q (bytes %q), want %v %q", tc.path, got.Kind(), got.String(), got.Bytes(), tc.kind, tc.str)
		}
		if got.Exists() != (tc.kind != Missing) {
			t.Errorf("Get(%q).Exists() = %v", tc.path, got.Exists())
		}
	}
	if got := v.Key("dot.ted").Int(); got != 1 {
		t.Errorf(`Key("dot.ted").Int() = %d`, got)
	}
	for _, tc := range []struct {
		path  string
		float float64
		int   int64
	}{
		{"n", -12.5, -12}, {"i", 42, 42}, {"x", 1500, 1500}, {"s", 0, 0}, {"missing", 0, 0},
	} {
		if f, i := v.Get(tc.path).Float(), v.Get(tc.path).Int(); f != tc.float || i != tc.int {
			t.Errorf("%s: Float %v Int %d, want %v %d", tc.path, f, i, tc.float, tc.int)
		}
	}
	if !v.Get("t").Bool() || v.Get("f").Bool() || v.Get("s").Bool() {
		t.Error("Bool")
	}
	if n := v.Get("a").Len(); n != 4 {
		t.Errorf("a has %d items", n)
	}
	if n := v.Get("o").Len(); n != 3 {
		t.Errorf("o has %d members", n)
	}
	var kinds []Kind
	for item := range v.Get("a").Items() {
		kinds = append(kinds, item.Kind())
	}
	if want := []Kind{Number, String, Object, Array}; !slices.Equal(kinds, want) {
		t.Errorf("items %v, want %v", kinds, want)
	}
	var keys []string
	for k := range v.Fields() {
		keys = append(keys, k)
	}
	if want := []string{"s", "e", "n", "i", "x", "t", "f", "z", "a", "o", "key", "dot.ted"}; !slices.Equal(keys, want) {
		t.Errorf("keys %q, want %q", keys, want)
	}
	if got := string(v.Get("a.2").Raw()); got != `{"three": 3}` {
		t.Errorf("Raw = %q", got)
	}
}

func TestValueFloat(t *testing.T) {
	for _, s := range []string{"0", "-0", "1", "0.1", "0.3", "123456789012345", "1234567890123456789",
		"0.000000000000001", "9007199254740993", "1e23", "-2.5E-3", "1e400", "4.9e-324", "12.345678901234567"} {
		want, _ := strconv.ParseFloat(s, 64)
		if got := Parse([]byte(s)).Float(); math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("Float(%s) = %v, want %v", s, got, want)
		}
	}
}

// Bytes returns a string without escapes as the document's own bytes, and
// others decoded.
func TestValueBytes(t *testing.T) {
	doc := []byte("{\"plain\":\"2024-05-01\",\"escaped\":\"a\\u0062c\",\"bad\":\"a\xffb\"}")
	v := Parse(doc)
	plain := v.Key("plain").Bytes()
	if string(plain) != "2024-05-01" || &plain[0] != &doc[10] {
		t.Errorf("plain: %q, not a view of the document", plain)
	}
	if got := string(v.Key("escaped").Bytes()); got != "abc" {
		t.Errorf("escaped: %q", got)
	}
	if got := string(v.Key("bad").Bytes()); got != "a\uFFFDb" {
		t.Errorf("bad UTF-8: %q", got)
	}
}

// Invalid JSON is read up to its first error, and never makes Value panic.
func TestValueInvalid(t *testing.T) {
	for _, tc := range []struct {
		json, path string
		kind       Kind
		str        string
	}{
		{"", "", Missing, ""},
		{"   ", "", Missing, ""},
		{"]", "", Missing, ""},
		{"{", "", Object, ""}, // no end: no text
		{"{", "a", Missing, ""},
		{`{"a":1`, "a", Number, "1"},
		{`{"a":1`, "", Object, ""},
		{`{"a":1,`, "b", Missing, ""},
		{`{"a":"1}`, "a", String, ""},
		{`{"a" 1}`, "a", Missing, ""},
		{`{"a":[}`, "a.0", Missing, ""},
		{`{"a":x,"b":1}`, "b", Missing, ""}, // x starts no value
		{`"abc`, "", String, ""},
		{`"\`, "", String, ""},
		{`[1,2`, "1", Number, "2"},
		{`[1 2]`, "1", Missing, ""},
	} {
		v := Parse([]byte(tc.json)).Get(tc.path)
		if v.Kind() != tc.kind || v.String() != tc.str {
			t.Errorf("%s: Get(%q) = %v %q, want %v %q", tc.json, tc.path, v.Kind(), v.String(), tc.kind, tc.str)
		}
		touch(v)
	}
}

// touch calls every accessor of v and its members, which must not panic.
func touch(v Value) {
	_, _, _, _, _ = v.Raw(), v.String(), v.Float(), v.Int(), v.Bool()
	_, _, _ = v.Len(), v.Get("a.0.b"), v.Index(1)
	for _, e := range v.Fields() {
		touch(e)
	}
	for e := range v.Items() {
		touch(e)
	}
}

// FuzzValue checks Value against encoding/json on valid JSON, and that it
// never panics on any bytes.
func FuzzValue(f *testing.F) {
	for _, s := range []string{testValue, `[]`, `{}`, `""`, `0`, `-1.5e-7`, `[[[]]]`, `{"a":{"b":[1,{"c":null}]}}`,
		`"\ud800\udc00"`, "\"\xff\"", `{"a":1,"a":2}`, `  [ 1 , 2 ]  `, `{"\\":"\/"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v := Parse(b)
		if !json.Valid(b) {
			touch(v)
			return
		}
		d := json.NewDecoder(strings.NewReader(string(b)))
		d.UseNumber()
		var x any
		if err := d.Decode(&x); err != nil {
			t.Fatal(err)
		}
		sameValue(t, "", v, x)
	})
}

func sameValue(t *testing.T, path string, v Value, x any) {
	t.Helper()
	switch x := x.(type) {
	case nil:
		if v.Kind() != Null {
			t.Fatalf("%s: kind %v, want null", path, v.Kind())
		}
	case bool:
		if v.Kind() != Bool || v.Bool() != x {
			t.Fatalf("%s: %v %v, want %v", path, v.Kind(), v.Bool(), x)
		}
	case json.Number:
		want, _ := strconv.ParseFloat(string(x), 64)
		if v.Kind() != Number || math.Float64bits(v.Float()) != math.Float64bits(want) {
			t.Fatalf("%s: %v %v, want %v", path, v.Kind(), v.Float(), want)
		}
	case string:
		if v.Kind() != String || v.String() != x {
			t.Fatalf("%s: %v %q, want %q", path, v.Kind(), v.String(), x)
		}
	case []any:
		if v.Kind() != Array || v.Len() != len(x) {
			t.Fatalf("%s: %v of %d, want %d items", path, v.Kind(), v.Len(), len(x))
		}
		i := 0
		for item := range v.Items() {
			sameValue(t, path+"."+strconv.Itoa(i), item, x[i])
			i++
		}
	case map[string]any:
		if v.Kind() != Object {
			t.Fatalf("%s: kind %v, want object", path, v.Kind())
		}
		unique := v.Len() == len(x) // else duplicate keys: encoding/json keeps the last, Key the first
		for k, want := range x {
			got := v.Key(k)
			if !got.Exists() {
				t.Fatalf("%s: no key %q", path, k)
			}
			if unique {
				sameValue(t, path+"."+k, got, want)
			}
		}
	}
}
