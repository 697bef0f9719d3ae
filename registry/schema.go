package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/internal/jsondepth"
)

// MaxProblems caps the violations reported for one document.
const MaxProblems = 100

// refuseLoader keeps schemas from loading anything by URL: a schema may only
// refer to itself, never to files or the network.
type refuseLoader struct{}

func (refuseLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external reference %q is not allowed", url)
}

// schemaBudget is the longest a schema may take to compile when it is
// registered. Within the size and depth bounds, schemas compile in
// milliseconds; the budget is for what those bounds miss.
const schemaBudget = 5 * time.Second

// compile compiles a JSON Schema (2020-12 unless it says otherwise). An
// empty schema accepts everything and compiles to nil. A schema over
// orc.MaxSchemaBytes or nesting deeper than orc.MaxSchemaDepth is refused
// before it is read: the compiler's time grows fast with the depth (2,000
// levels took 6.5 s, 9,000 minutes and 1.4 GB).
func compile(raw json.RawMessage) (*jsonschema.Schema, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	if len(raw) > orc.MaxSchemaBytes {
		return nil, fmt.Errorf("the schema is %d bytes, over the limit of %d", len(raw), orc.MaxSchemaBytes)
	}
	if d := jsondepth.Of(raw, orc.MaxSchemaDepth); d > orc.MaxSchemaDepth {
		return nil, fmt.Errorf("the schema nests deeper than %d levels", orc.MaxSchemaDepth)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(refuseLoader{})
	const url = "orc:///schema.json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	return c.Compile(url)
}

// compileWithin compiles a schema being registered within ctx and
// schemaBudget, and refuses one that could never be validated (refCycle). A compile
// that runs out of time goes on in the background until it ends; the size
// and depth bounds keep that short.
func compileWithin(ctx context.Context, raw json.RawMessage) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, schemaBudget)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		sch, err := compile(raw)
		if err == nil && sch != nil {
			err = refCycle(sch)
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("it took longer than %s to compile", schemaBudget)
		}
		return ctx.Err()
	}
}

// refCycle returns an error when a schema applies itself to the same value
// again, through $ref and the keywords that apply subschemas to the value
// in place (allOf, anyOf, oneOf, not, if, then, else, dependentSchemas),
// without descending into a part of it: {"$ref": "#"}, or $defs that refer
// to each other. Validating with such a schema never ends; the validator
// stops it and blames the value, so every invocation would fail.
// Recursion that descends, as {"properties": {"child": {"$ref": "#"}}},
// is fine.
func refCycle(root *jsonschema.Schema) error {
	const (
		onPath = 1
		done   = 2
	)
	state := map[*jsonschema.Schema]int{}
	var cycleAt string
	// inPlace walks the in-place edges depth first; a schema met again on
	// the current path closes a cycle.
	var inPlace func(s *jsonschema.Schema) bool
	inPlace = func(s *jsonschema.Schema) bool {
		switch state[s] {
		case onPath:
			cycleAt = s.Location
			return true
		case done:
			return false
		}
		state[s] = onPath
		for _, next := range inPlaceSubschemas(s) {
			if inPlace(next) {
				return true
			}
		}
		state[s] = done
		return false
	}
	seen := map[*jsonschema.Schema]bool{}
	queue := []*jsonschema.Schema{root}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		if s == nil || seen[s] {
			continue
		}
		seen[s] = true
		if inPlace(s) {
			at := strings.TrimPrefix(cycleAt, "orc:///schema.json#")
			if at == "" || at == "orc:///schema.json" {
				at = "the root"
			}
			return fmt.Errorf("$ref cycle: the schema at %s applies itself to the same value again, so no value could be checked against it", at)
		}
		queue = append(queue, inPlaceSubschemas(s)...)
		queue = append(queue, descendingSubschemas(s)...)
	}
	return nil
}

// inPlaceSubschemas are the subschemas that s applies to the value s
// itself is applied to.
func inPlaceSubschemas(s *jsonschema.Schema) []*jsonschema.Schema {
	list := []*jsonschema.Schema{s.Ref, s.RecursiveRef, s.Not, s.If, s.Then, s.Else}
	if s.DynamicRef != nil {
		list = append(list, s.DynamicRef.Ref)
	}
	list = append(list, s.AllOf...)
	list = append(list, s.AnyOf...)
	list = append(list, s.OneOf...)
	for _, d := range s.DependentSchemas {
		list = append(list, d)
	}
	for _, d := range s.Dependencies {
		if d, ok := d.(*jsonschema.Schema); ok {
			list = append(list, d)
		}
	}
	return slices.DeleteFunc(list, func(s *jsonschema.Schema) bool { return s == nil })
}

// descendingSubschemas are the subschemas that s applies to parts of its
// value (members, items, names, decoded content).
func descendingSubschemas(s *jsonschema.Schema) []*jsonschema.Schema {
	list := []*jsonschema.Schema{s.PropertyNames, s.UnevaluatedProperties, s.Contains, s.Items2020, s.UnevaluatedItems, s.ContentSchema}
	for _, p := range s.Properties {
		list = append(list, p)
	}
	for _, p := range s.PatternProperties {
		list = append(list, p)
	}
	list = append(list, s.PrefixItems...)
	for _, v := range []any{s.AdditionalProperties, s.Items, s.AdditionalItems} {
		switch v := v.(type) {
		case *jsonschema.Schema:
			list = append(list, v)
		case []*jsonschema.Schema:
			list = append(list, v...)
		}
	}
	return slices.DeleteFunc(list, func(s *jsonschema.Schema) bool { return s == nil })
}

func schemaErrorText(err error) string {
	msg := err.Error()
	// The compiler names our internal resource URL; it means nothing to users.
	msg = strings.ReplaceAll(msg, "orc:///schema.json", "schema")
	return truncate(msg, 500)
}

// Schemas caches compiled schemas by version id. Versions are immutable, so
// an entry never goes stale.
type Schemas struct {
	m sync.Map // schemaKey -> *jsonschema.Schema (nil for "accept all")
}

type schemaKey struct {
	version int64
	output  bool
}

func (s *Schemas) get(v *orc.Version, output bool) (*jsonschema.Schema, error) {
	key := schemaKey{v.ID, output}
	if sch, ok := s.m.Load(key); ok {
		return sch.(*jsonschema.Schema), nil
	}
	raw := v.InputSchema
	if output {
		raw = v.OutputSchema
	}
	sch, err := compile(raw)
	if err != nil {
		return nil, fmt.Errorf("compile schema of %s %s: %w", v.Plugin, v.Version, err)
	}
	if v.ID != 0 {
		s.m.Store(key, sch)
	}
	return sch, nil
}

// ValidateInput checks an input document against the version's input
// schema. It returns EINVALID whose details list every violation.
func (s *Schemas) ValidateInput(v *orc.Version, doc []byte) error {
	return s.validate(v, doc, false, "input")
}

// ValidateOutput checks an output document against the version's output
// schema. It returns EINVALID whose details list every violation.
func (s *Schemas) ValidateOutput(v *orc.Version, doc []byte) error {
	return s.validate(v, doc, true, "output")
}

func (s *Schemas) validate(v *orc.Version, doc []byte, output bool, what string) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return orc.Errorf(orc.EINVALID, "%s is not valid JSON", what)
	}
	sch, err := s.get(v, output)
	if err != nil {
		return err
	}
	if sch == nil {
		return nil
	}
	err = sch.Validate(inst)
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	problems, total := Problems(ve)
	msg := fmt.Sprintf("%s does not match the schema of %s %s (%d violations)", what, v.Plugin, v.Version, total)
	if total > len(problems) {
		msg = fmt.Sprintf("%s does not match the schema of %s %s (%d violations; the first %d are listed)", what, v.Plugin, v.Version, total, len(problems))
	}
	return &orc.Error{Code: orc.EINVALID, Message: msg, Details: problems}
}

// MaxProblemText caps the message of one violation: the validator's
// messages quote the offending value, which may be megabytes long.
const MaxProblemText = 200

// printer renders the validator's messages.
var printer = message.NewPrinter(language.English)

// Problems flattens a validation error into its leaf violations, each with
// the JSON pointer of the offending value and a message of at most
// MaxProblemText bytes. It lists at most MaxProblems of them and returns
// how many there were.
func Problems(ve *jsonschema.ValidationError) ([]orc.Problem, int) {
	var ps []orc.Problem
	total := 0
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			total++
			if len(ps) < MaxProblems {
				ps = append(ps, orc.Problem{Pointer: pointer(e.InstanceLocation), Message: truncate(e.ErrorKind.LocalizedString(printer), MaxProblemText)})
			}
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	if len(ps) == 0 {
		ps = append(ps, orc.Problem{Pointer: "", Message: schemaErrorText(ve)})
		total = 1
	}
	// The validator's order is not stable; clients and tests want one.
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Pointer != ps[j].Pointer {
			return ps[i].Pointer < ps[j].Pointer
		}
		return ps[i].Message < ps[j].Message
	})
	return ps, total
}

// truncate cuts s to at most n bytes, at a character boundary, marking the
// cut with "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// pointer renders instance location tokens as a JSON pointer (RFC 6901).
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		t = strings.ReplaceAll(t, "~", "~0")
		b.WriteString(strings.ReplaceAll(t, "/", "~1"))
	}
	return b.String()
}
