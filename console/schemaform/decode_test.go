package schemaform

import (
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDecode decodes forms as posted, including what a browser would not
// post, into documents and errors.
func TestDecode(t *testing.T) {
	t.Parallel()
	rows := `{"type": "object", "properties": {"rows": {"type": "array", "items": {"type": "object",
		"required": ["name"], "properties": {"name": {"type": "string"}, "qty": {"type": "integer"},
		"tags": {"type": "array", "items": {"type": "string"}}}}}}}`
	shapes := `{"type": "object", "required": ["shape"], "properties": {"shape": {"oneOf": [
		{"type": "object", "properties": {"kind": {"const": "circle"}, "r": {"type": "number"}}},
		{"type": "object", "properties": {"kind": {"const": "rect"}, "w": {"type": "number"}, "h": {"type": "number"}}}]}}}`
	people := `{"type": "object", "required": ["name"], "properties": {"name": {"type": "string"},
		"address": {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}, "zip": {"type": "integer"}, "main": {"type": "boolean"}}}}}`
	scalars := `{"type": "object", "properties": {"n": {"type": "number"}, "i": {"type": "integer"}, "s": {"type": "string"},
		"b": {"type": "boolean"}, "e": {"enum": ["x", "y"]}, "j": {}, "dt": {"type": "string", "format": "date-time"},
		"t": {"type": "string", "format": "time"}, "c": {"type": ["integer", "null"]}}}`
	for _, tc := range []struct {
		name   string
		schema string
		form   url.Values
		doc    string
		errs   map[string]string
	}{
		{"processor", processorSchema(t),
			url.Values{"/data/0": {"3"}, "/data/1": {"1.5"}, "/data/2": {"-2"}, "/operation": {"3"}, "csrf": {"x"}},
			`{"data": [3, 1.5, -2], "operation": "max"}`, nil},
		{"processor, nothing filled in", processorSchema(t), url.Values{"/operation": {""}},
			`{"data": []}`, map[string]string{"/operation": "required"}},
		{"integer given 1.5", scalars, url.Values{"/i": {"1.5"}},
			`{"i": "1.5"}`, map[string]string{"/i": "not an integer"}},
		{"numbers as browsers and people write them", scalars, url.Values{"/n": {" .5 "}, "/i": {"1e2"}},
			`{"n": 0.5, "i": 100}`, nil},
		{"leading zeros", scalars, url.Values{"/n": {"-007.5"}, "/i": {"-.0e1"}}, `{"n": -7.5, "i": 0}`, nil},
		{"not numbers", scalars, url.Values{"/n": {"1,5"}, "/i": {"NaN"}}, `{"n": "1,5", "i": "NaN"}`,
			map[string]string{"/n": "not a number", "/i": "not a number"}},
		{"an exponent too large to compute", scalars, url.Values{"/i": {"1e999999999"}}, `{"i": "1e999999999"}`,
			map[string]string{"/i": "a number too large for this form"}},
		{"items removed in the middle", rows, url.Values{
			"/rows/10/name": {"d"}, "/rows/0/name": {"a"}, "/rows/2/name": {"b"}, "/rows/2/qty": {"x"},
			"/rows/5/name": {"c"}, "/rows/5/tags/3": {"t2"}, "/rows/5/tags/1": {"t1"}, "/rows/5/tags/1~item": {""},
			"/rows/07/name": {"not an index"}, "/rows/-/name": {"template"}},
			`{"rows": [{"name": "a"}, {"name": "b", "qty": "x"}, {"name": "c", "tags": ["t1", "t2"]}, {"name": "d"}]}`,
			map[string]string{"/rows/1/qty": "not a number"}},
		{"empty item kept", rows, url.Values{"/rows/0~item": {""}, "/rows/0/name": {""}}, `{"rows": [{"name": ""}]}`, nil},
		{"missing item member", rows, url.Values{"/rows/4~item": {""}}, `{"rows": [{}]}`, map[string]string{"/rows/0/name": "required"}},
		{"only the chosen alternative", shapes, url.Values{"/shape~choice": {"1"}, "/shape/r": {"5"}, "/shape/w": {"2"}, "/shape/h": {"3"}},
			`{"shape": {"kind": "rect", "w": 2, "h": 3}}`, nil},
		{"no alternative chosen", shapes, url.Values{"/shape/r": {"5"}}, `{}`, map[string]string{"/shape": "required"}},
		{"no such alternative", shapes, url.Values{"/shape~choice": {"2"}}, `{}`, map[string]string{"/shape": "not one of the options"}},
		{"optional choice", scalars, url.Values{"/c~choice": {"1"}}, `{"c": null}`, nil},
		{"optional choice not chosen", scalars, url.Values{"/c~choice": {""}, "/c": {"4"}}, `{}`, nil},
		{"required member missing", people, url.Values{}, `{}`, map[string]string{"/name": "required"}},
		{"optional object untouched", people, url.Values{"/name": {"n"}, "/address/city": {""}, "/address/zip": {""}}, `{"name": "n"}`, nil},
		{"optional object touched", people, url.Values{"/name": {"n"}, "/address/zip": {"1234"}}, `{"name": "n", "address": {"zip": 1234}}`,
			map[string]string{"/address/city": "required"}},
		{"optional object touched by a bad value", people, url.Values{"/name": {"n"}, "/address/zip": {"x"}}, `{"name": "n", "address": {"zip": "x"}}`,
			map[string]string{"/address/city": "required", "/address/zip": "not a number"}},
		{"optional object with a ticked box", people, url.Values{"/name": {"n"}, "/address/main": {"true"}}, `{"name": "n", "address": {"main": true}}`,
			map[string]string{"/address/city": "required"}},
		{"checkbox and its hidden false", scalars, url.Values{"/b": {"false", "true"}}, `{"b": true}`, nil},
		{"checkbox not ticked", scalars, url.Values{"/b": {"false"}}, `{"b": false}`, nil},
		{"checkbox nonsense", scalars, url.Values{"/b": {"yes"}}, `{"b": "yes"}`, map[string]string{"/b": "not true or false"}},
		{"enum out of range", scalars, url.Values{"/e": {"2"}}, `{"e": "2"}`, map[string]string{"/e": "not one of the options"}},
		{"enum by index", scalars, url.Values{"/e": {"1"}}, `{"e": "y"}`, nil},
		{"JSON textarea", scalars, url.Values{"/j": {"{\"a\": [1, 2.50]}"}}, `{"j": {"a": [1, 2.50]}}`, nil},
		{"JSON textarea not JSON", scalars, url.Values{"/j": {"{a: 1}"}}, `{"j": "{a: 1}"}`, map[string]string{"/j": "not valid JSON"}},
		{"line breaks", scalars, url.Values{"/s": {"a\r\nb"}}, `{"s": "a\nb"}`, nil},
		{"spaces kept", scalars, url.Values{"/s": {" x "}}, `{"s": " x "}`, nil},
		{"local date-time as UTC", scalars, url.Values{"/dt": {"2024-05-01T12:30"}, "/t": {"08:15"}}, `{"dt": "2024-05-01T12:30:00Z", "t": "08:15:00Z"}`, nil},
		{"date-time with a zone kept", scalars, url.Values{"/dt": {"2024-05-01T12:30:00+02:00"}}, `{"dt": "2024-05-01T12:30:00+02:00"}`, nil},
		{"root string", `{"type": "string"}`, url.Values{"~": {"x"}}, `"x"`, nil},
		{"root integer missing", `{"type": "integer"}`, url.Values{}, `null`, map[string]string{"": "required"}},
		{"root array", `{"type": "array", "items": {"type": "integer"}}`, url.Values{"/1": {"2"}, "/0": {"1"}}, `[1, 2]`, nil},
		{"escaped member names", `{"type": "object", "properties": {"a/b": {"type": "array", "items": {"type": "string"}}, "c~d": {"type": "integer"}}}`,
			url.Values{"/a~1b/0": {"x"}, "/c~0d": {"z"}}, `{"a/b": ["x"], "c~d": "z"}`, map[string]string{"/c~0d": "not a number"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := mustNew(t, tc.schema)
			doc, errs := f.Decode(tc.form)
			sameJSON(t, doc, tc.doc)
			if !reflect.DeepEqual(errs, tc.errs) {
				t.Errorf("errors = %v, want %v", errs, tc.errs)
			}
		})
	}
}

// TestDecodeShowsWhatWasTyped renders Decode's document and errors: the
// text that failed to convert is back in its field, with its error.
func TestDecodeShowsWhatWasTyped(t *testing.T) {
	t.Parallel()
	f := mustNew(t, `{"type": "object", "properties": {"rows": {"type": "array", "items": {"type": "object", "properties": {"qty": {"type": "integer"}}}}}}`)
	doc, errs := f.Decode(url.Values{"/rows/3/qty": {"2"}, "/rows/8/qty": {"1.5"}})
	page := parsePage(t, f.HTML(doc, errs))
	in := page.byID(t, "sf-rows-1-qty")
	if in.attrs["value"] != "1.5" || in.attrs["aria-invalid"] != "true" {
		t.Errorf("the field of /rows/1/qty is %v", in.attrs)
	}
	if got := page.byPtr(t, "/rows/1/qty").allText(); !strings.Contains(got, "not an integer") {
		t.Errorf("the field of /rows/1/qty says %q", got)
	}
}

// TestDecodeManyItems decodes a large form in linear time: items are
// found through an index of the names, not by scanning all of them.
func TestDecodeManyItems(t *testing.T) {
	t.Parallel()
	f := mustNew(t, `{"type": "object", "properties": {"rows": {"type": "array", "items": {"type": "object",
		"properties": {"a": {"type": "array", "items": {"type": "integer"}}}}}}}`)
	form := url.Values{}
	for i := range 20000 {
		form.Set("/rows/"+strings.Repeat("1", 1+i%8)+"/a/"+strconv.Itoa(i), "1")
	}
	start := time.Now()
	doc, errs := f.Decode(form)
	if errs != nil || len(doc) == 0 {
		t.Fatalf("errors %v", errs)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("decoding 20000 fields took %s", d)
	}
}
