package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// snippet is the same call in another tool, ready to copy.
type snippet struct {
	ID, Label, Code string
}

// snippets are the call the page makes, as curl, the orc CLI, the Go SDK
// and Python. The token is left to the environment: a page never shows
// one.
func snippets(r *http.Request, plugin, version string, latest bool, input json.RawMessage) []snippet {
	base := baseURL(r)
	compact := &bytes.Buffer{}
	if json.Compact(compact, input) != nil || compact.Len() == 0 {
		compact.Reset()
		compact.WriteString("{}")
	}
	body := compact.String()
	invokeURL := base + "/invoke/" + url.PathEscape(plugin)
	cliVersion, goVersion, pyURL := "", "", invokeURL
	if !latest {
		invokeURL += "?version=" + url.QueryEscape(version)
		pyURL = invokeURL
		cliVersion = " --version " + shellQuote(version)
		goVersion = fmt.Sprintf("Version: %q", version)
	}
	return []snippet{
		{ID: "curl", Label: "curl", Code: fmt.Sprintf("curl -sS %s \\\n  -H \"Authorization: Bearer $ORC_TOKEN\" \\\n  -H 'Content-Type: application/json' \\\n  -d %s",
			shellQuote(invokeURL), shellQuote(body))},
		{ID: "cli", Label: "orc CLI", Code: fmt.Sprintf("ORC_URL=%s orc invoke %s%s -d %s", shellQuote(base), shellQuote(plugin), cliVersion, shellQuote(body))},
		{ID: "go", Label: "Go SDK", Code: fmt.Sprintf(`c, err := client.New(%q, os.Getenv("ORC_TOKEN"))
if err != nil {
	return err
}
res, err := c.Invoke(ctx, %q, []byte(%s), client.InvokeOptions{%s})`, base, plugin, goString(body), goVersion)},
		{ID: "python", Label: "Python", Code: fmt.Sprintf(`import json, os, urllib.request

req = urllib.request.Request(
    %s,
    data=json.dumps(%s).encode(),
    headers={"Authorization": "Bearer " + os.environ["ORC_TOKEN"],
             "Content-Type": "application/json"},
)
print(json.load(urllib.request.urlopen(req)))`, pyString(pyURL), pyLiteral(input))},
	}
}

// baseURL is the gateway's address as the browser reached it.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// goString is s as a Go raw string literal when it can be one.
func goString(s string) string {
	if !strings.Contains(s, "`") {
		return "`" + s + "`"
	}
	return fmt.Sprintf("%q", s)
}

// pyString is s as a Python string literal (JSON's escapes are Python's).
func pyString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// pyLiteral is a JSON document as a Python literal: true, false and null
// are spelled as Python spells them.
func pyLiteral(doc json.RawMessage) string {
	var v any
	if json.Unmarshal(doc, &v) != nil {
		return "{}"
	}
	var b strings.Builder
	writePy(&b, v)
	return b.String()
}

func writePy(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if x {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case map[string]any:
		b.WriteString("{")
		i := 0
		for _, k := range sortedKeys(x) {
			if i > 0 {
				b.WriteString(", ")
			}
			i++
			b.WriteString(pyString(k))
			b.WriteString(": ")
			writePy(b, x[k])
		}
		b.WriteString("}")
	case []any:
		b.WriteString("[")
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writePy(b, e)
		}
		b.WriteString("]")
	default:
		j, _ := json.Marshal(x)
		b.Write(j)
	}
}
