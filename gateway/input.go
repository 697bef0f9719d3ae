package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/internal/jsondepth"
)

// Every text a client sends is checked here, at the edge, before any of it
// reaches a service: PostgreSQL refuses NUL characters and invalid UTF-8
// in text (and NUL in jsonb), and a request carrying them must be told
// which field was wrong (400), not that the database failed (500).

// textProblem says what is wrong with a text a client sent, or "".
func textProblem(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "contains a NUL character"
	}
	return ""
}

// checkText returns EINVALID naming what when s is not storable text.
func checkText(what, s string) error {
	if p := textProblem(s); p != "" {
		return orc.Errorf(orc.EINVALID, "%s %s", what, p)
	}
	return nil
}

// escapedRouting makes the router match the escaped path, as the client
// sent it, so that an escaped '/' stays inside its segment, and every
// path parameter arrives escaped; decodeParams decodes each once. Go
// keeps the escaped form only when it differs from the default encoding
// of the path, so without this "/invoke/%65cho" would reach the handler
// as "%65cho" while "/invoke/%C3%A9cho" would arrive decoded.
func escapedRouting(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rctx := chi.RouteContext(r.Context()); rctx != nil && rctx.RoutePath == "" {
			rctx.RoutePath = r.URL.EscapedPath()
		}
		next.ServeHTTP(w, r)
	})
}

// decodeParams decodes the path parameters of the matched route in place,
// once, and refuses those that are not storable text: every handler reads
// decoded parameters with chi.URLParam. It must run after routing (in a
// group or With), where the parameters are known.
func (s *Server) decodeParams(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rctx := chi.RouteContext(r.Context()); rctx != nil {
			for i, key := range rctx.URLParams.Keys {
				if key == "*" || i >= len(rctx.URLParams.Values) {
					continue
				}
				v, err := url.PathUnescape(rctx.URLParams.Values[i])
				if err == nil {
					err = checkText("path parameter {"+key+"}", v)
				} else {
					err = orc.Errorf(orc.EINVALID, "path parameter {%s} is not percent-encoded correctly", key)
				}
				if err != nil {
					s.error(w, r, err)
					return
				}
				rctx.URLParams.Values[i] = v
			}
		}
		next.ServeHTTP(w, r)
	})
}

// checkQuery refuses a query string that does not parse, or whose names or
// values are not storable text. Query strings are form-encoded: a '+'
// means a space, and a literal '+' is sent as %2B.
func (s *Server) checkQuery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			s.error(w, r, orc.Errorf(orc.EINVALID, "malformed query string: %s", queryErrorText(err)))
			return
		}
		for name, values := range q {
			if p := textProblem(name); p != "" {
				s.error(w, r, orc.Errorf(orc.EINVALID, "a query parameter's name %s", p))
				return
			}
			for _, v := range values {
				if err := checkText("query parameter "+strconv.Quote(name), v); err != nil {
					s.error(w, r, err)
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// queryErrorText describes a query parsing error without echoing the
// query.
func queryErrorText(err error) string {
	var ee url.EscapeError
	if errors.As(err, &ee) {
		return "bad percent-encoding"
	}
	if strings.Contains(err.Error(), "semicolon") {
		return "';' does not separate parameters; use '&'"
	}
	return "it does not parse"
}

// checkForm refuses form fields that are not storable text.
func checkForm(form url.Values) error {
	for name, values := range form {
		if p := textProblem(name); p != "" {
			return orc.Errorf(orc.EINVALID, "a form field's name %s", p)
		}
		for _, v := range values {
			if err := checkText("form field "+strconv.Quote(name), v); err != nil {
				return err
			}
		}
	}
	return nil
}

// maxBodyDepth is how deep the JSON body of a REST request may nest: as
// deep as an invocation's input may.
const maxBodyDepth = orc.MaxDocumentDepth

// readJSON reads a request body of at most limit bytes that must be a JSON
// document: its nesting is checked before any decoder reads it.
func readJSON(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return nil, bodyError(err)
	}
	if jsondepth.Of(data, maxBodyDepth) > maxBodyDepth {
		return nil, orc.Errorf(orc.EINVALID, "malformed JSON body: nesting too deep (limit %d)", maxBodyDepth)
	}
	return data, nil
}

// checkJSONText returns EINVALID, with the JSON pointer of the string,
// when a member name or string of doc, a valid JSON document, is not
// storable text. Values at the pointers in opaque are not looked into:
// they are a plugin's input, which is stored as the client sent it.
func checkJSONText(doc []byte, opaque ...string) error {
	bad := int64(-1) // the offset of the first invalid UTF-8 byte
	if !utf8.Valid(doc) {
		bad = int64(invalidUTF8At(doc))
	} else if !bytes.Contains(doc, []byte(`\u0000`)) {
		return nil // the only way to write NUL in JSON
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	c := textChecker{dec: dec, bad: bad, opaque: opaque}
	ptr, problem := c.value("")
	if problem == "" {
		if bad >= 0 {
			return orc.Errorf(orc.EINVALID, "the body is not valid UTF-8 (byte %d)", bad)
		}
		return nil
	}
	field := ptr
	if field == "" {
		field = "the body"
	}
	msg := field + " " + problem
	return &orc.Error{Code: orc.EINVALID, Message: msg, Details: []orc.Problem{{Pointer: ptr, Message: msg}}}
}

// invalidUTF8At returns the offset of the first byte of b that is not
// valid UTF-8.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// textChecker walks a JSON document's tokens, keeping the pointer of each.
type textChecker struct {
	dec    *json.Decoder
	bad    int64
	opaque []string
}

// value checks the next value, at ptr, and returns the pointer and the
// problem of the first string that is not storable text.
func (c *textChecker) value(ptr string) (string, string) {
	for _, o := range c.opaque {
		if o == ptr {
			var skip json.RawMessage
			c.dec.Decode(&skip) //nolint:errcheck // a valid document
			return "", ""
		}
	}
	tok, err := c.dec.Token()
	if err != nil {
		return "", ""
	}
	switch t := tok.(type) {
	case string:
		return ptr, c.problem(t)
	case json.Delim:
		i := 0
		for c.dec.More() {
			at := ptr + "/" + strconv.Itoa(i)
			if t == '{' {
				tok, err := c.dec.Token()
				if err != nil {
					return "", ""
				}
				name, _ := tok.(string)
				at = ptr + "/" + pointerToken(name)
				if p := c.problem(name); p != "" {
					return at, "has a name that " + p
				}
			}
			if at, p := c.value(at); p != "" {
				return at, p
			}
			i++
		}
		c.dec.Token() //nolint:errcheck // the closing delimiter of a valid document
	}
	return "", ""
}

// problem checks a string token that just ended. The decoder replaced
// invalid UTF-8 with U+FFFD, so the string that holds the bad byte is the
// first that ends after it.
func (c *textChecker) problem(s string) string {
	if c.bad >= 0 && c.dec.InputOffset() > c.bad {
		c.bad = -1
		return "is not valid UTF-8"
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "contains a NUL character"
	}
	return ""
}

// pointerToken escapes a member name as a JSON pointer token (RFC 6901).
func pointerToken(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
