package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/orc-gateway/orc"
)

// openAPIMethods are the operations a path item of OpenAPI 3.1 can hold.
var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// loadOpenAPI parses the embedded document, the one /openapi.json serves.
func loadOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(openapiJSON, &doc); err != nil {
		t.Fatalf("gateway/openapi.json is not valid JSON: %v", err)
	}
	return doc
}

// openAPIPaths returns the document's paths object.
func openAPIPaths(t *testing.T, doc map[string]any) map[string]map[string]any {
	t.Helper()
	raw, ok := doc["paths"].(map[string]any)
	if !ok {
		t.Fatalf("openapi.json: \"paths\" is missing or not an object")
	}
	paths := make(map[string]map[string]any, len(raw))
	for p, item := range raw {
		m, ok := item.(map[string]any)
		if !ok {
			t.Fatalf("openapi.json: path item %q is not an object", p)
		}
		paths[p] = m
	}
	return paths
}

// resolvePointer resolves a local reference ("#/a/b") in doc.
func resolvePointer(doc any, ref string) (any, error) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, fmt.Errorf("not a local reference")
	}
	cur := doc
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[tok]
			if !ok {
				return nil, fmt.Errorf("%q does not exist", tok)
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v) {
				return nil, fmt.Errorf("no index %q", tok)
			}
			cur = v[i]
		default:
			return nil, fmt.Errorf("%q is inside a scalar", tok)
		}
	}
	return cur, nil
}

// deref follows $ref until it reaches an object without one.
func deref(t *testing.T, doc, v any) map[string]any {
	t.Helper()
	for range 10 {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		if v, ok = mustResolve(doc, ref); !ok {
			t.Fatalf("openapi.json: $ref %q does not resolve", ref)
		}
	}
	t.Fatalf("openapi.json: $ref chain too long")
	return nil
}

func mustResolve(doc any, ref string) (any, bool) {
	v, err := resolvePointer(doc, ref)
	return v, err == nil
}

func TestOpenAPIDocument(t *testing.T) {
	doc := loadOpenAPI(t)
	version, _ := doc["openapi"].(string)
	if !regexp.MustCompile(`^3\.1\.\d+$`).MatchString(version) {
		t.Errorf("openapi = %q, want 3.1.x", version)
	}
	info, _ := doc["info"].(map[string]any)
	if info == nil {
		t.Fatalf("openapi.json has no info object")
	}
	if info["version"] != "0.1.0" {
		t.Errorf("info.version = %v, want 0.1.0", info["version"])
	}
	if d, _ := info["description"].(string); strings.TrimSpace(d) == "" {
		t.Errorf("info.description is empty")
	}
	for _, name := range []string{"Plugin", "Version", "Invocation", "InvocationError", "Timing", "LogLine",
		"Job", "Token", "Me", "Problem", "Error", "InvocationPage", "LogPage", "Readiness"} {
		if _, err := resolvePointer(doc, "#/components/schemas/"+name); err != nil {
			t.Errorf("components.schemas.%s is missing", name)
		}
	}
	if _, err := resolvePointer(doc, "#/components/securitySchemes/bearerAuth"); err != nil {
		t.Errorf("components.securitySchemes.bearerAuth is missing")
	}
}

// TestOpenAPIRoutes checks that the document and the router agree: every
// route the router serves is documented, and every documented operation is
// served.
func TestOpenAPIRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	paths := openAPIPaths(t, doc)

	// The router's routes, by pattern and method.
	served := map[string]map[string]bool{}
	err := chi.Walk(New(Config{}).routes(), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if served[route] == nil {
			served[route] = map[string]bool{}
		}
		served[route][strings.ToLower(method)] = true
		return nil
	})
	if err != nil {
		t.Fatalf("chi.Walk: %v", err)
	}
	if len(served) == 0 {
		t.Fatalf("chi.Walk found no routes")
	}

	var missing, stale, inexpressible []string
	for route, methods := range served {
		item := paths[route]
		// A handler mounted for every method (r.Handle, as /metrics is)
		// answers them all alike: documenting GET is enough.
		anyMethod := true
		for _, m := range append(slices.Clone(openAPIMethods), "connect") {
			anyMethod = anyMethod && methods[m]
		}
		if anyMethod {
			if _, ok := item["get"]; !ok {
				missing = append(missing, "GET "+route+" (mounted for every method; document at least get)")
			}
			continue
		}
		for m := range methods {
			if !slices.Contains(openAPIMethods, m) {
				inexpressible = append(inexpressible, strings.ToUpper(m)+" "+route)
				continue
			}
			if _, ok := item[m]; !ok {
				missing = append(missing, strings.ToUpper(m)+" "+route)
			}
		}
	}
	for path, item := range paths {
		for _, m := range openAPIMethods {
			if _, ok := item[m]; ok && !served[path][m] {
				stale = append(stale, strings.ToUpper(m)+" "+path)
			}
		}
	}
	sort.Strings(missing)
	sort.Strings(stale)
	sort.Strings(inexpressible)
	if len(missing) > 0 {
		t.Errorf("routes served by the router but not documented in gateway/openapi.json (add them under \"paths\"):\n\t%s",
			strings.Join(missing, "\n\t"))
	}
	if len(stale) > 0 {
		t.Errorf("operations documented in gateway/openapi.json that the router does not serve (remove them, or fix the path/method):\n\t%s",
			strings.Join(stale, "\n\t"))
	}
	if len(inexpressible) > 0 {
		t.Errorf("routes with methods OpenAPI 3.1 cannot describe:\n\t%s", strings.Join(inexpressible, "\n\t"))
	}

	// Every {param} of a path template is declared as a path parameter,
	// and every declared path parameter is in the template.
	paramRE := regexp.MustCompile(`\{([^}]+)\}`)
	for path, item := range paths {
		want := map[string]bool{}
		for _, m := range paramRE.FindAllStringSubmatch(path, -1) {
			want[m[1]] = true
		}
		declared := func(params any) map[string]bool {
			got := map[string]bool{}
			list, _ := params.([]any)
			for _, p := range list {
				pm := deref(t, doc, p)
				if pm["in"] == "path" {
					name, _ := pm["name"].(string)
					got[name] = true
					if pm["required"] != true {
						t.Errorf("%s: path parameter %q must be required", path, name)
					}
				}
			}
			return got
		}
		common := declared(item["parameters"])
		for _, m := range openAPIMethods {
			op, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			got := declared(op["parameters"])
			for name := range common {
				got[name] = true
			}
			for name := range want {
				if !got[name] {
					t.Errorf("%s %s: path parameter {%s} is not declared", strings.ToUpper(m), path, name)
				}
			}
			for name := range got {
				if !want[name] {
					t.Errorf("%s %s: declares path parameter %q that the path does not have", strings.ToUpper(m), path, name)
				}
			}
		}
	}
}

// TestOpenAPIRefs checks that every $ref points at a component that exists.
func TestOpenAPIRefs(t *testing.T) {
	doc := loadOpenAPI(t)
	var bad []string
	refs := 0
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch v := v.(type) {
		case map[string]any:
			if r, ok := v["$ref"]; ok {
				refs++
				ref, _ := r.(string)
				switch {
				case !strings.HasPrefix(ref, "#/components/"):
					bad = append(bad, fmt.Sprintf("%s: $ref %q does not point into #/components/", at, ref))
				default:
					if _, err := resolvePointer(doc, ref); err != nil {
						bad = append(bad, fmt.Sprintf("%s: $ref %q does not resolve: %v", at, ref, err))
					}
				}
			}
			for k, child := range v {
				walk(child, at+"/"+strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1"))
			}
		case []any:
			for i, child := range v {
				walk(child, at+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(doc, "#")
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("%d unresolved $ref in gateway/openapi.json:\n\t%s", len(bad), strings.Join(bad, "\n\t"))
	}
	if refs == 0 {
		t.Errorf("openapi.json has no $ref at all; expected components to be referenced")
	}
}

// TestOpenAPIErrorCodes checks that the documented error codes are the ones
// statusOf maps.
func TestOpenAPIErrorCodes(t *testing.T) {
	doc := loadOpenAPI(t)
	sch, err := resolvePointer(doc, "#/components/schemas/ErrorCode")
	if err != nil {
		t.Fatalf("components.schemas.ErrorCode is missing")
	}
	var documented []string
	enum, _ := sch.(map[string]any)["enum"].([]any)
	for _, c := range enum {
		s, _ := c.(string)
		documented = append(documented, s)
	}
	codes := []string{orc.EINVALID, orc.ENOTFOUND, orc.ECONFLICT, orc.EUNAUTHORIZED, orc.EFORBIDDEN,
		orc.ETOOLARGE, orc.ERATELIMIT, orc.EUNAVAILABLE, orc.EPLUGIN, orc.ETIMEOUT, orc.ECANCELED,
		orc.EINTERNAL, orc.EDENIED, orc.EHOOK, orc.EEXPIRED, codeMethodNotAllowed}
	sort.Strings(documented)
	sort.Strings(codes)
	if !slices.Equal(documented, codes) {
		t.Errorf("ErrorCode enum = %v, want the codes the gateway sends %v", documented, codes)
	}
	desc, _ := sch.(map[string]any)["description"].(string)
	for _, c := range codes {
		if want := fmt.Sprintf("%s %d", c, statusOf(c)); !strings.Contains(desc, want) {
			t.Errorf("ErrorCode description does not state %q (the mapping in errors.go)", want)
		}
	}
}

// readyDB and readyBroker let /readyz answer without real services.
type readyDB struct{}

func (readyDB) Ping(context.Context) error { return nil }

type readyBroker struct{ Broker }

func (readyBroker) Ready() error { return nil }

// TestOpenAPISecurity sends every documented operation a request without
// credentials: operations that require the bearer scheme must answer 401,
// public ones must not, and the status must be one the operation documents.
func TestOpenAPISecurity(t *testing.T) {
	doc := loadOpenAPI(t)
	paths := openAPIPaths(t, doc)
	global, _ := doc["security"].([]any)
	if len(global) == 0 {
		t.Fatalf("openapi.json has no top-level security requirement (bearerAuth)")
	}
	s := New(Config{})
	s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s.DB, s.Broker = readyDB{}, readyBroker{}

	paramRE := regexp.MustCompile(`\{[^}]+\}`)
	for path, item := range paths {
		for _, m := range openAPIMethods {
			op, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			security := global
			if sec, ok := op["security"]; ok {
				security, _ = sec.([]any)
			}
			needsToken := len(security) > 0
			name := strings.ToUpper(m) + " " + path

			req := httptest.NewRequest(strings.ToUpper(m), paramRE.ReplaceAllString(path, "x"), nil)
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)

			responses, _ := op["responses"].(map[string]any)
			if _, ok := responses[strconv.Itoa(rec.Code)]; !ok {
				t.Errorf("%s without credentials answered %d, which the operation does not document", name, rec.Code)
			}
			switch {
			case needsToken && rec.Code != http.StatusUnauthorized:
				t.Errorf("%s is documented as requiring bearerAuth, but answered %d without credentials (want 401)", name, rec.Code)
			case needsToken:
				var body errorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code != orc.EUNAUTHORIZED {
					t.Errorf("%s: 401 body = %q, want the error shape with code unauthorized", name, rec.Body.String())
				}
				if rec.Header().Get("WWW-Authenticate") == "" {
					t.Errorf("%s: 401 without WWW-Authenticate", name)
				}
			case rec.Code == http.StatusUnauthorized:
				t.Errorf("%s is documented as public (security: []), but answered 401 without credentials", name)
			}
		}
	}
}
