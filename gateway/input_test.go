package gateway

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/orc-gateway/orc"
)

// Text that cannot be stored is found wherever it is in a body, and named
// by its JSON pointer.
func TestCheckJSONText(t *testing.T) {
	for _, tc := range []struct {
		doc, pointer string
		opaque       []string
	}{
		{`{"a": "ok", "b": ["x", "\u0000"]}`, "/b/1", nil},
		{`{"a/b~": {"c": "d\u0000"}}`, "/a~1b~0/c", nil},
		{`{"env": {"\u0000K": "v"}}`, "/env/\x00K", nil},
		{"{\"name\": \"x\", \"description\": \"caf\xe9\"}", "/description", nil},
		{"{\"k\xff\": 1}", "/k\ufffd", nil},
		{`"\u0000"`, "", nil},
		{`{"input_data": {"a": "\u0000"}, "plugin_name": "a\u0000"}`, "/plugin_name", []string{"/input_data"}},
	} {
		err := checkJSONText([]byte(tc.doc), tc.opaque...)
		ps, _ := orc.ErrorDetails(err).([]orc.Problem)
		if orc.ErrorCode(err) != orc.EINVALID || len(ps) != 1 || ps[0].Pointer != tc.pointer {
			t.Errorf("%q: %v %+v, want a problem at %q", tc.doc, err, ps, tc.pointer)
		}
	}
	for _, ok := range []string{`{"a": "\\u0000"}`, `{"a": "é \u00e9"}`, `[1, 2]`} {
		if err := checkJSONText([]byte(ok)); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	if err := checkJSONText([]byte(`{"input_data": {"a": "\u0000"}}`), "/input_data"); err != nil {
		t.Errorf("a NUL in a plugin's input: %v", err)
	}
}

// Routes that need no service: HEAD answers where GET does, 405 says what
// is allowed, and a query string is checked before any handler runs.
func TestRoutingEdges(t *testing.T) {
	s := New(Config{})
	s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s.DB, s.Broker = readyDB{}, readyBroker{}
	for _, tc := range []struct {
		method, target string
		status         int
		allow          string
	}{
		{"HEAD", "/healthz", http.StatusOK, ""},
		{"HEAD", "/readyz", http.StatusOK, ""},
		{"POST", "/healthz", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"GET", "/invoke/echo", http.StatusMethodNotAllowed, "POST"},
		{"GET", "/healthz?a=%zz", http.StatusBadRequest, ""},
		{"GET", "/healthz?a=%00", http.StatusBadRequest, ""},
		{"GET", "/healthz?a=%FF", http.StatusBadRequest, ""},
		{"GET", "/healthz?a=1;b=2", http.StatusBadRequest, ""},
	} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.target, nil))
		if rec.Code != tc.status || rec.Header().Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d Allow %q, want %d Allow %q", tc.method, tc.target, rec.Code, rec.Header().Get("Allow"), tc.status, tc.allow)
		}
	}
}
