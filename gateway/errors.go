package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/invoke"
)

// codeMethodNotAllowed is the gateway's own code for a route that exists
// with another method.
const codeMethodNotAllowed = "method_not_allowed"

// statusOf maps an error code to its HTTP status. It is the one place where
// that happens.
func statusOf(code string) int {
	switch code {
	case orc.EINVALID:
		return http.StatusBadRequest
	case orc.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case orc.EFORBIDDEN:
		return http.StatusForbidden
	case orc.ENOTFOUND:
		return http.StatusNotFound
	case codeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case orc.ECONFLICT, orc.ECANCELED:
		return http.StatusConflict
	case orc.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case orc.ERATELIMIT:
		return http.StatusTooManyRequests
	case orc.EPLUGIN, orc.EHOOK:
		return http.StatusBadGateway
	case orc.EDENIED:
		return http.StatusForbidden
	case orc.EUNAVAILABLE, orc.EEXPIRED:
		return http.StatusServiceUnavailable
	case orc.ETIMEOUT:
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// errorBody is the API's error shape.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code         string `json:"code"`
	Message      string `json:"message"`
	Details      any    `json:"details,omitempty"`
	InvocationID string `json:"invocation_id,omitempty"`
}

// error writes err in the API's shape. Internal errors are logged with their
// text and shown to the client only as "internal error".
func (s *Server) error(w http.ResponseWriter, r *http.Request, err error) {
	s.errorFor(w, r, err, "")
}

// bodyError is the error of a request body that could not be read.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return orc.Errorf(orc.ETOOLARGE, "request body is larger than %d bytes", mbe.Limit)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return orc.Errorf(orc.EINVALID, "the request body did not arrive in time")
	}
	return err
}

// errorFor writes err for a request about an invocation. An invocation
// that was refused but recorded is named by the error itself.
func (s *Server) errorFor(w http.ResponseWriter, r *http.Request, err error, invocationID string) {
	err = bodyError(err)
	var refused *invoke.Refused
	if invocationID == "" && errors.As(err, &refused) {
		invocationID = refused.InvocationID
	}
	code := orc.ErrorCode(err)
	status := statusOf(code)
	if hs := orc.ErrorStatus(err); code == orc.EDENIED && hs >= 400 && hs <= 599 {
		status = hs
	}
	switch {
	case status >= 500 && code != orc.EPLUGIN && code != orc.ETIMEOUT && code != orc.EHOOK && code != orc.EDENIED &&
		code != orc.EEXPIRED && orc.ErrorRetryAfter(err) == 0:
		// Back-pressure (an answer with Retry-After) and the plugin's or
		// the queue's own failures are not the gateway's.
		s.Logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path,
			"code", code, "err", err, "invocation_id", invocationID)
	case code == orc.EUNAUTHORIZED:
		s.Logger.DebugContext(r.Context(), "unauthenticated request", "path", r.URL.Path, "err", err)
	}
	if invocationID != "" {
		w.Header().Set(headerInvocationID, invocationID)
	}
	if code == orc.EUNAUTHORIZED {
		w.Header().Set("WWW-Authenticate", `Bearer realm="orc"`)
	}
	if d := orc.ErrorRetryAfter(err); d > 0 {
		secs := int64((d + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	}
	writeJSON(w, status, errorBody{Error: errorDetail{
		Code:         code,
		Message:      orc.ErrorMessage(err),
		Details:      orc.ErrorDetails(err),
		InvocationID: invocationID,
	}})
}

// writeJSON writes v as the JSON body of a response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	if err := enc.Encode(v); err != nil {
		slog.Debug("write response", "err", err)
	}
}

// decodeJSON reads a JSON request body into v, refusing unknown fields so
// that nothing can be set through a body that the API does not name, and
// text that cannot be stored (checkJSONText; opaque names the members that
// are a plugin's input).
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, v any, opaque ...string) error {
	data, err := readJSON(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	// Every body of the REST API is an object; null would decode into
	// nothing and pass for an empty one.
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) > 0 && trimmed[0] != '{' && json.Valid(data) {
		return orc.Errorf(orc.EINVALID, "malformed JSON body: the body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return orc.Errorf(orc.EINVALID, "malformed JSON body: %s", jsonErrorText(err))
	}
	if dec.More() {
		return orc.Errorf(orc.EINVALID, "malformed JSON body: more than one value")
	}
	return checkJSONText(data, opaque...)
}

// jsonErrorText describes a decoding error without echoing the body.
func jsonErrorText(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "syntax error at byte " + itoa(se.Offset)
	case errors.As(err, &te) && te.Field == "":
		return "the body must be " + jsonKind(te.Type) + ", not " + article(te.Value)
	case errors.As(err, &te):
		return "field " + te.Field + " must be " + jsonKind(te.Type) + ", not " + article(te.Value)
	case errors.Is(err, io.EOF):
		return "the body is empty"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the body ends too early"
	}
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return strings.TrimPrefix(msg, "json: ")
}

// jsonKind names the JSON kind a Go type decodes from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer in range"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "another type"
}

// article puts "a" or "an" before the name of a JSON kind as
// encoding/json reports it ("array", "number 1e400", "string").
func article(kind string) string {
	if kind != "" && strings.ContainsRune("aeiou", rune(kind[0])) {
		return "an " + kind
	}
	return "a " + kind
}
